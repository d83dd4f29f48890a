// Tests of the policy loader: files, folders, multi-document YAML, and every refusal with its file, path and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isChaperoneError } from '../errors.js';
import { loadPolicyFiles, parsePolicyText, POLICY_ERR_INVALID, POLICY_ERR_READ, validateReferences, validateUniqueNames } from './load.js';
import type { PolicyProblem } from './load.js';

const CONNECTION = (name: string) => `apiVersion: chaperone.dev/v1alpha1
kind: Connection
metadata: { name: ${name} }
spec:
  type: postgres
  target: { host: db.prod.svc, port: 5432, database: orders }
  credentials: { secretRef: { name: db-admin } }
  listen: { port: 5432 }
`;

const POLICY = (name: string, connection: string) => `apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: ${name} }
spec:
  subjects:
    - serviceAccount: { namespace: agents, name: support-bot }
  connections: [${connection}]
  rules:
    - { action: deny, match: { statements: [drop] } }
    - { action: allow, match: { statements: [select] } }
`;

async function withDir(files: Record<string, string>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-policy-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `fn`, expects POLICY_ERR_INVALID and returns its problems. */
async function problemsOf(fn: () => unknown): Promise<{ message: string; problems: PolicyProblem[] }> {
  try {
    await fn();
  } catch (err) {
    assert.ok(isChaperoneError(err, POLICY_ERR_INVALID), `expected ${POLICY_ERR_INVALID}, got ${String(err)}`);
    return { message: err.message, problems: err.details!['problems'] as PolicyProblem[] };
  }
  assert.fail('expected the loader to refuse');
}

test('multi-document text: documents in order, empty and comment-only documents skipped', () => {
  const docs = parsePolicyText(`${CONNECTION('a')}---\n# nothing here\n---\n${POLICY('p', 'a')}---\n`, 'x.yaml');
  assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`), ['Connection/a', 'AccessPolicy/p']);
  assert.deepEqual(parsePolicyText('', 'empty.yaml'), []);
});

test('folders are read recursively in sorted order, only *.yaml / *.yml, hidden entries skipped', async () => {
  await withDir({
    'b/conn.yml': CONNECTION('b'),
    'a.yaml': CONNECTION('a'),
    'c/d/policy.YAML': POLICY('p', 'a'),
    'notes.txt': 'not yaml',
    '..2024_01_01/a.yaml': CONNECTION('a'), // a ConfigMap mount's hidden copy
    '.hidden.yaml': CONNECTION('a'),
  }, async (dir) => {
    const docs = await loadPolicyFiles([dir]);
    assert.deepEqual(docs.map((d) => d.metadata.name), ['a', 'b', 'p']);
    await symlink(join(dir, 'b', 'conn.yml'), join(dir, 'linked.yaml'));
    await assert.rejects(loadPolicyFiles([dir]), (err) => isChaperoneError(err, POLICY_ERR_INVALID) && /duplicate Connection "b"/.test(err.message));
  });
});

test('files and folders mix; an explicit file is read whatever its extension', async () => {
  await withDir({ 'conns/a.yaml': CONNECTION('a'), 'policy.txt': POLICY('p', 'a') }, async (dir) => {
    const docs = await loadPolicyFiles([join(dir, 'conns'), join(dir, 'policy.txt')]);
    assert.deepEqual(docs.map((d) => d.metadata.name), ['a', 'p']);
  });
});

test('a missing path is POLICY_ERR_READ naming the path', async () => {
  await assert.rejects(loadPolicyFiles(['/nonexistent/chaperone/policies']),
    (err) => isChaperoneError(err, POLICY_ERR_READ) && err.message.includes('/nonexistent/chaperone/policies'));
});

const invalid: { name: string; text: string; expect: PolicyProblem[] }[] = [
  {
    name: 'YAML syntax error',
    text: `${CONNECTION('a')}---\nkind: [Connection\nmetadata: {}\n`,
    expect: [{ file: 'f.yaml', document: 2, path: '', line: 11, message: 'Flow sequence in block collection must be sufficiently indented and end with a ]' }],
  },
  {
    name: 'duplicate YAML key',
    text: CONNECTION('a').replace('kind: Connection\n', 'kind: Connection\nkind: Connection\n'),
    expect: [{ file: 'f.yaml', document: 1, path: '', line: 3, message: 'Map keys must be unique' }],
  },
  {
    name: 'a scalar document',
    text: 'just text\n',
    expect: [{ file: 'f.yaml', document: 1, path: '', line: 1, message: 'Invalid input: expected object, received string' }],
  },
  {
    name: 'bad action, with its line',
    text: POLICY('p', 'a').replace('action: allow', 'action: permit'),
    expect: [{ file: 'f.yaml', document: 1, path: 'spec.rules[1].action', line: 10, message: 'Invalid option: expected one of "allow"|"deny"|"approve"|"mask"' }],
  },
  {
    name: 'unknown field points at the field',
    text: CONNECTION('a').replace('  listen: { port: 5432 }', '  listen: { port: 5432 }\n  tls: true'),
    expect: [{ file: 'f.yaml', document: 1, path: 'spec.tls', line: 9, message: 'unknown field' }],
  },
  {
    name: 'missing field points at its parent',
    text: CONNECTION('a').replace('  credentials: { secretRef: { name: db-admin } }\n', ''),
    expect: [{ file: 'f.yaml', document: 1, path: 'spec.credentials', line: 4, message: 'Invalid input: expected object, received undefined' }],
  },
  {
    name: 'problems from several documents are all listed',
    text: `${CONNECTION('a').replace('port: 5432 }\n', 'port: 70000 }\n')}---\n${POLICY('p', 'a').replace('[drop]', '[drop, dropp]')}`,
    expect: [
      { file: 'f.yaml', document: 1, path: 'spec.listen.port', line: 8, message: 'must be 1..65535' },
      { file: 'f.yaml', document: 2, path: 'spec.rules[0].match.statements[1]', line: 18, message: 'unknown statement kind "dropp"' },
    ],
  },
  {
    name: 'duplicate names of one kind',
    text: `${CONNECTION('a')}---\n${CONNECTION('a')}`,
    expect: [{ file: 'f.yaml', document: 2, path: 'metadata.name', line: 12, message: 'duplicate Connection "a", first defined in f.yaml document 1' }],
  },
];

test('parsePolicyText refusals carry file, document, path, line and reason', async (t) => {
  for (const c of invalid) {
    await t.test(c.name, async () => {
      const { message, problems } = await problemsOf(() => parsePolicyText(c.text, 'f.yaml'));
      assert.deepEqual(problems, c.expect);
      const first = c.expect[0]!;
      assert.ok(message.startsWith(`invalid policy: f.yaml:${first.line} document ${first.document}`), message);
      assert.ok(message.includes(first.message), message);
    });
  }
});

test('the same name in two kinds is fine', () => {
  assert.equal(parsePolicyText(`${CONNECTION('a')}---\n${POLICY('a', 'a')}`, 'f.yaml').length, 2);
});

test('loadPolicyFiles gathers problems of every file before refusing', async () => {
  await withDir({ 'a.yaml': 'kind: [\n', 'b.yaml': POLICY('p', 'a').replace('name: support-bot', 'name: Support_Bot') }, async (dir) => {
    const { message, problems } = await problemsOf(() => loadPolicyFiles([dir]));
    assert.deepEqual(problems.map((p) => [p.file, p.document, p.path, p.line]), [
      [join(dir, 'a.yaml'), 1, '', 2],
      [join(dir, 'b.yaml'), 1, 'spec.subjects[0].serviceAccount.name', 6],
    ]);
    assert.match(message, /\(and 1 more\)$/);
  });
});

test('duplicates across files name both files', async () => {
  await withDir({ 'a.yaml': POLICY('p', 'c'), 'b.yaml': POLICY('p', 'c'), 'c.yaml': CONNECTION('c') }, async (dir) => {
    const { problems } = await problemsOf(() => loadPolicyFiles([dir]));
    assert.deepEqual(problems, [{ file: join(dir, 'b.yaml'), document: 1, path: 'metadata.name', line: 3, message: `duplicate AccessPolicy "p", first defined in ${join(dir, 'a.yaml')} document 1` }]);
  });
});

test('unknown connections are refused unless known from elsewhere or the check is off', async () => {
  await withDir({ 'c.yaml': CONNECTION('a'), 'p.yaml': POLICY('p', 'a, b') }, async (dir) => {
    const { problems } = await problemsOf(() => loadPolicyFiles([dir]));
    assert.deepEqual(problems, [{ file: join(dir, 'p.yaml'), document: 1, path: 'spec.connections[1]', line: 7, message: 'unknown connection "b"' }]);
    assert.equal((await loadPolicyFiles([dir], { extraConnectionNames: ['b'] })).length, 2);
    const docs = await loadPolicyFiles([join(dir, 'p.yaml')], { checkReferences: false });
    assert.equal(docs.length, 1);
    validateReferences(docs, ['a', 'b']);
    const { problems: later } = await problemsOf(() => validateReferences(docs, ['a']));
    assert.deepEqual(later, [{ file: '<input>', document: 1, path: 'spec.connections[1]', message: 'unknown connection "b"' }]);
  });
});

test('validateUniqueNames refuses duplicates among plain documents', async () => {
  const docs = [...parsePolicyText(CONNECTION('a'), 'x'), ...parsePolicyText(CONNECTION('a'), 'y')];
  const { problems } = await problemsOf(() => validateUniqueNames(docs));
  assert.equal(problems[0]?.message, 'duplicate Connection "a", first defined in <input> document 1');
});
