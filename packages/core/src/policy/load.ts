// Loads policy YAML (files, folders, multi-document streams) into validated documents, naming
// the file, document, path and line of every problem.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { ChaperoneError } from '../errors.js';
import { PolicyDocSchema } from './schema.js';
import type { PolicyDoc } from './types.js';

/** A document failed YAML parsing, validation, or a cross-document check. */
export const POLICY_ERR_INVALID = 'POLICY_ERR_INVALID';
/** A path given to the loader could not be read. */
export const POLICY_ERR_READ = 'POLICY_ERR_READ';

export interface PolicyProblem {
  file: string;
  /** 1-based position of the document in its file (multi-document YAML), as people count. */
  document: number;
  /** Where inside the document, e.g. `spec.rules[1].action`; '' for the document itself. */
  path: string;
  message: string;
  /** 1-based line in the file, when the YAML nodes tell. */
  line?: number;
}

type PathSegment = string | number | symbol;

/** A validated document and where it came from, for cross-document problems. */
interface SourcedDoc {
  doc: PolicyDoc;
  file: string;
  document: number;
  lineOf(path: readonly PathSegment[]): number | undefined;
}

export interface LoadOptions {
  /** Refuse AccessPolicies naming connections not among the loaded ones (default true). */
  checkReferences?: boolean;
  /** Connection names known from elsewhere, accepted as references. */
  extraConnectionNames?: Iterable<string>;
}

/** Parses one YAML text (possibly several `---` documents); throws POLICY_ERR_INVALID. */
export function parsePolicyText(text: string, fileName: string): PolicyDoc[] {
  const { docs, problems } = parseSourced(text, fileName);
  problems.push(...duplicateProblems(docs));
  throwIfAny(problems);
  return docs.map((d) => d.doc);
}

/** Loads YAML files and folders (every *.yaml / *.yml inside, recursively, in sorted order). */
export async function loadPolicyFiles(paths: string[], options: LoadOptions = {}): Promise<PolicyDoc[]> {
  const files: string[] = [];
  for (const path of paths) files.push(...(await yamlFilesAt(path)));
  const docs: SourcedDoc[] = [];
  const problems: PolicyProblem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ChaperoneError(POLICY_ERR_READ, `cannot read policy file ${file}: ${(err as Error).message}`, { file }, { cause: err });
    }
    const parsed = parseSourced(text, file);
    docs.push(...parsed.docs);
    problems.push(...parsed.problems);
  }
  // Cross-document checks only mean something once every document is valid.
  if (problems.length === 0) {
    problems.push(...duplicateProblems(docs));
    if (options.checkReferences !== false) problems.push(...referenceProblems(docs, options.extraConnectionNames));
  }
  throwIfAny(problems);
  return docs.map((d) => d.doc);
}

/** Refuses AccessPolicies that name a connection that is neither among `docs` nor in `extraConnectionNames`. */
export function validateReferences(docs: readonly PolicyDoc[], extraConnectionNames?: Iterable<string>): void {
  throwIfAny(referenceProblems(unsourced(docs), extraConnectionNames));
}

/** Refuses two documents of the same kind with the same name. */
export function validateUniqueNames(docs: readonly PolicyDoc[]): void {
  throwIfAny(duplicateProblems(unsourced(docs)));
}

/** `['spec', 'rules', 1, 'action']` → `spec.rules[1].action`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

export function formatProblem(p: PolicyProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return `${where} document ${p.document}${p.path === '' ? '' : ` ${p.path}`}: ${p.message}`;
}

function throwIfAny(problems: PolicyProblem[]): void {
  const first = problems[0];
  if (first === undefined) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new ChaperoneError(POLICY_ERR_INVALID, `invalid policy: ${formatProblem(first)}${more}`, { problems });
}

async function yamlFilesAt(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new ChaperoneError(POLICY_ERR_READ, `cannot read policy path ${path}: ${(err as Error).message}`, { file: path }, { cause: err });
  }
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    if (!/\.ya?ml$/i.test(entry.name)) continue;
    const full = join(entry.parentPath, entry.name);
    const relative = full.slice(path.length);
    // Kubernetes mounts ConfigMaps with hidden `..data` / `..<timestamp>` copies beside the
    // visible links; reading them would load every document twice.
    if (relative.split(/[\\/]/).some((part) => part.startsWith('.'))) continue;
    if (entry.isSymbolicLink() && !(await stat(full).then((s) => s.isFile(), () => false))) continue;
    found.push(full);
  }
  return found.sort();
}

function parseSourced(text: string, file: string): { docs: SourcedDoc[]; problems: PolicyProblem[] } {
  const lineCounter = new LineCounter();
  const yamlDocs = parseAllDocuments(text, { lineCounter });
  const docs: SourcedDoc[] = [];
  const problems: PolicyProblem[] = [];
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  // parseAllDocuments returns an EmptyStream (not an array) when there is no document at all.
  if (!Array.isArray(yamlDocs)) return { docs, problems };
  yamlDocs.forEach((yamlDoc, index) => {
    const document = index + 1;
    if (yamlDoc.errors.length > 0) {
      for (const err of yamlDoc.errors) {
        // The yaml package appends a position and a code frame; the problem carries the line instead.
        const message = (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, '');
        problems.push({ file, document, path: '', message, line: err.linePos?.[0].line ?? lineAt(err.pos[0]) });
      }
      return;
    }
    const contents = yamlDoc.contents;
    if (contents === null || (isScalar(contents) && contents.value === null)) return; // empty or comment-only
    const lineOf = (path: readonly PathSegment[]) => lineOfPath(yamlDoc, path, lineAt);
    let value: unknown;
    try {
      value = yamlDoc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      problems.push({ file, document, path: '', message: (err as Error).message, line: lineOf([]) });
      return;
    }
    const result = PolicyDocSchema.safeParse(value);
    if (result.success) docs.push({ doc: result.data, file, document, lineOf });
    else problems.push(...issueProblems(result.error.issues, file, document, lineOf));
  });
  return { docs, problems };
}

function issueProblems(issues: z.core.$ZodIssue[], file: string, document: number, lineOf: SourcedDoc['lineOf']): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  const add = (path: readonly PathSegment[], message: string) => {
    const line = lineOf(path);
    out.push({ file, document, path: formatPath(path), message, ...(line === undefined ? {} : { line }) });
  };
  for (const issue of issues) {
    // One problem per unknown field, pointing at the field itself.
    if (issue.code === 'unrecognized_keys') for (const key of issue.keys) add([...issue.path, key], 'unknown field');
    else add(issue.path, issue.message);
  }
  return out;
}

// Follows `path` through the YAML nodes; when it runs out (a missing field), the line of the
// deepest node that exists. For a mapping entry, the line of its key.
function lineOfPath(doc: Document, path: readonly PathSegment[], lineAt: (offset: number) => number): number | undefined {
  let node: unknown = doc.contents;
  let line = rangeLine(node, lineAt);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (pair === undefined) break;
      line = rangeLine(pair.key, lineAt) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node === undefined) break;
      line = rangeLine(node, lineAt) ?? line;
    } else break;
  }
  return line;
}

function rangeLine(node: unknown, lineAt: (offset: number) => number): number | undefined {
  const range = (node as YamlNode | null | undefined)?.range;
  return range ? lineAt(range[0]) : undefined;
}

function unsourced(docs: readonly PolicyDoc[]): SourcedDoc[] {
  return docs.map((doc, i) => ({ doc, file: '<input>', document: i + 1, lineOf: () => undefined }));
}

function problemAt(d: SourcedDoc, path: readonly PathSegment[], message: string): PolicyProblem {
  const line = d.lineOf(path);
  return { file: d.file, document: d.document, path: formatPath(path), message, ...(line === undefined ? {} : { line }) };
}

function duplicateProblems(docs: readonly SourcedDoc[]): PolicyProblem[] {
  const first = new Map<string, SourcedDoc>();
  const out: PolicyProblem[] = [];
  for (const d of docs) {
    const key = `${d.doc.kind}/${d.doc.metadata.name}`;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, d);
    else out.push(problemAt(d, ['metadata', 'name'], `duplicate ${d.doc.kind} "${d.doc.metadata.name}", first defined in ${earlier.file} document ${earlier.document}`));
  }
  return out;
}

function referenceProblems(docs: readonly SourcedDoc[], extra?: Iterable<string>): PolicyProblem[] {
  const known = new Set(extra ?? []);
  for (const d of docs) if (d.doc.kind === 'Connection') known.add(d.doc.metadata.name);
  const out: PolicyProblem[] = [];
  for (const d of docs) {
    if (d.doc.kind !== 'AccessPolicy') continue;
    d.doc.spec.connections.forEach((name, i) => {
      if (!known.has(name)) out.push(problemAt(d, ['spec', 'connections', i], `unknown connection "${name}"`));
    });
  }
  return out;
}
