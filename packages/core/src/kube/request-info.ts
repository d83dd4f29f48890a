// A Kubernetes API request's authorization attributes, computed as the API server's own
// RequestInfoFactory does (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go), so policy
// sees exactly what RBAC would see. Pure: method + URL in, a value out, never a throw.

export type RequestInfo =
  | {
    kind: 'resource';
    verb: string;
    /** '' for the core group (`/api/v1`). */
    group: string;
    version: string;
    resource: string;
    subresource?: string;
    namespace?: string;
    name?: string;
    /** The path without its query string. */
    path: string;
  }
  /** `/version`, `/healthz`, `/openapi/v3`, discovery (`/api`, `/apis/apps/v1`)… */
  | { kind: 'non-resource'; verb: string; path: string };

export type RequestInfoResult = { ok: true; info: RequestInfo } | { ok: false; error: string };

const API_PREFIXES = new Set(['api', 'apis']);
/** Only `/api` has no group segment. */
const GROUPLESS_PREFIXES = new Set(['api']);
/** `/apis/g/v/watch/...` and `/api/v1/proxy/...`: the verb comes from the path. */
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
/** proxy's trailing parts are the proxied path, not a subresource. */
const SPECIAL_VERBS_NO_SUBRESOURCES = new Set(['proxy']);
/** `/api/v1/namespaces/{ns}/status` is the namespace's subresource, not a resource named status. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

const METHOD_VERBS: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/**
 * `target` is the request-target as sent (`/api/v1/pods?watch=true`). Paths the proxy would have
 * to interpret differently from the API server (dot segments, empty segments, encoded slashes,
 * anything but an origin-form path) are refused rather than guessed at.
 */
export function requestInfo(method: string, target: string): RequestInfoResult {
  if (!target.startsWith('/')) return { ok: false, error: 'request target is not an absolute path' };
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
  if (/%2f|%5c|\\/i.test(path)) return { ok: false, error: 'encoded slashes are not allowed in the path' };
  let parts: string[];
  try {
    parts = splitPath(path).map((p) => decodeURIComponent(p));
  } catch {
    return { ok: false, error: 'the path is not valid percent-encoding' };
  }
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return { ok: false, error: 'empty or dot segments are not allowed in the path' };

  const nonResource = (): RequestInfoResult => ({ ok: true, info: { kind: 'non-resource', verb: method.toLowerCase(), path } });
  if (parts.length < 3 || !API_PREFIXES.has(parts[0] ?? '')) return nonResource();
  const prefix = parts[0] ?? '';
  let cur = parts.slice(1);
  let group = '';
  if (!GROUPLESS_PREFIXES.has(prefix)) {
    // One part (the prefix) is consumed: "do we have group, version and a resource?"
    if (cur.length < 3) return nonResource();
    group = cur[0] ?? '';
    cur = cur.slice(1);
  }
  const version = cur[0] ?? '';
  cur = cur.slice(1);

  let verb: string;
  if (SPECIAL_VERBS.has(cur[0] ?? '')) {
    if (cur.length < 2) return { ok: false, error: `unable to determine kind and namespace from ${path}` };
    verb = cur[0] ?? '';
    cur = cur.slice(1);
  } else {
    verb = METHOD_VERBS[method.toUpperCase()] ?? '';
  }
  if (verb === '') return { ok: false, error: `method ${method} has no Kubernetes verb` };

  let namespace: string | undefined;
  if (cur[0] === 'namespaces') {
    if (cur.length > 1) {
      namespace = cur[1];
      // `namespaces/{ns}/{resource}/...`: parts become relative to the resource.
      if (cur.length > 2 && !NAMESPACE_SUBRESOURCES.has(cur[2] ?? '')) cur = cur.slice(2);
    }
  }
  // parts: resource/name/subresource/more-we-do-not-interpret
  const resource = cur[0] ?? '';
  let name = cur.length >= 2 ? cur[1] : undefined;
  const subresource = cur.length >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.has(verb) ? cur[2] : undefined;

  // No name and a get: a list or a watch, and a metadata.name field selector names the object.
  if (name === undefined && verb === 'get') {
    verb = isWatch(query) ? 'watch' : 'list';
    const selected = exactNameSelector(query.get('fieldSelector'));
    if (selected !== undefined && isValidPathSegmentName(selected)) name = selected;
  }
  if (name === undefined && verb === 'delete') verb = 'deletecollection';

  const info: RequestInfo = { kind: 'resource', verb, group, version, resource, path };
  if (subresource !== undefined) info.subresource = subresource;
  if (namespace !== undefined) info.namespace = namespace;
  if (name !== undefined) info.name = name;
  return { ok: true, info };
}

/** `[group/]resource[/subresource]` as policy rules name it. */
export function resourceKey(info: Extract<RequestInfo, { kind: 'resource' }>): string {
  const r = info.group === '' ? info.resource : `${info.group}/${info.resource}`;
  return info.subresource === undefined ? r : `${r}/${info.subresource}`;
}

function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? [] : trimmed.split('/');
}

// The API server decodes ListOptions; `watch` is a bool where only false/0 (and absent) are false.
function isWatch(query: URLSearchParams): boolean {
  const v = query.get('watch');
  if (v === null) return false;
  return !['false', '0'].includes(v.toLowerCase());
}

/** fields.Selector.RequiresExactMatch("metadata.name"): `metadata.name=x` or `==x` among ANDed terms. */
function exactNameSelector(selector: string | null): string | undefined {
  if (selector === null || selector === '') return undefined;
  for (const term of selector.split(',')) {
    const m = /^\s*metadata\.name\s*(==|=)\s*(.*?)\s*$/.exec(term);
    if (m && !term.includes('!=')) return m[2];
  }
  return undefined;
}

function isValidPathSegmentName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}
