// AdmissionReview v1 (admission.k8s.io/v1): decoding a request, and the response for an injection result.
import type { InjectResult } from './inject.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionRequest {
  uid: string;
  /** The object's kind, e.g. `{group: '', version: 'v1', kind: 'Pod'}`. */
  kind: { group: string; version: string; kind: string } | undefined;
  operation: string | undefined;
  subResource: string | undefined;
  namespace: string | undefined;
  object: unknown;
}

export type Decoded = { ok: true; request: AdmissionRequest } | { ok: false; error: string };

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** base64 of the JSON patch text. */
  patch?: string;
  status?: { code: number; reason: string; message: string };
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Anything but an AdmissionReview v1 with a request and its uid is an error value (the server answers 400). */
export function decodeAdmissionReview(body: unknown): Decoded {
  if (!isObj(body)) return { ok: false, error: 'the body is not a JSON object' };
  if (body.apiVersion !== ADMISSION_API_VERSION || body.kind !== 'AdmissionReview') {
    return { ok: false, error: `expected apiVersion ${ADMISSION_API_VERSION}, kind AdmissionReview; got ${String(body.apiVersion)}, ${String(body.kind)}` };
  }
  const r = body.request;
  if (!isObj(r)) return { ok: false, error: 'the AdmissionReview has no request' };
  const uid = str(r.uid);
  if (!uid) return { ok: false, error: 'the AdmissionReview request has no uid' };
  const k = isObj(r.kind) ? r.kind : undefined;
  const kind = k && typeof k.kind === 'string' ? { group: str(k.group) ?? '', version: str(k.version) ?? '', kind: k.kind } : undefined;
  return { ok: true, request: { uid, kind, operation: str(r.operation), subResource: str(r.subResource), namespace: str(r.namespace), object: r.object } };
}

/** Pods being created are ours; anything else a (mis)configured registration sends is let through untouched. */
export function isPodCreate(r: AdmissionRequest): boolean {
  return r.kind?.group === '' && r.kind.kind === 'Pod' && r.operation === 'CREATE' && r.subResource === undefined;
}

export function reviewResponse(uid: string, result: InjectResult): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  switch (result.kind) {
    case 'skip':
      break;
    case 'patch':
      response.patchType = 'JSONPatch';
      response.patch = Buffer.from(JSON.stringify(result.patch)).toString('base64');
      if (result.warnings.length > 0) response.warnings = result.warnings;
      break;
    case 'allow-unchanged':
      // Warnings reach the client that created the pod (kubectl prints them).
      response.warnings = [`chaperone: admitted without the sidecar: ${result.reason}`];
      break;
    case 'refuse':
      response.allowed = false;
      response.status = { code: 400, reason: 'BadRequest', message: `chaperone: cannot inject the sidecar: ${result.reason}` };
      break;
  }
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

/**
 * The response as JSON text, equal to JSON.stringify(reviewResponse(uid, result)) but without a
 * second pass over the base64 patch: base64 needs no JSON escaping, so it is concatenated as is.
 * `patchText` is the patch's JSON text (InjectionCache.patchText); ignored unless result is a patch.
 */
export function encodeReviewResponse(uid: string, result: InjectResult, patchText?: string): string {
  if (result.kind !== 'patch') return JSON.stringify(reviewResponse(uid, result));
  const patch = Buffer.from(patchText ?? JSON.stringify(result.patch)).toString('base64');
  const warnings = result.warnings.length > 0 ? `,"warnings":${JSON.stringify(result.warnings)}` : '';
  return `{"apiVersion":"${ADMISSION_API_VERSION}","kind":"AdmissionReview","response":{"uid":${JSON.stringify(uid)},"allowed":true,"patchType":"JSONPatch","patch":"${patch}"${warnings}}}`;
}
