// ScpRecorder: files found and hashed across any chunking; folders give nested paths.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ScpRecorder } from './scp-recorder.js';
import type { ScpFile } from './scp-recorder.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('one file, fed whole and byte by byte', () => {
  const stream = Buffer.from('T1 0 1 0\nC0644 5 a.txt\nhello\0');
  for (const step of [stream.length, 1, 3]) {
    const files: ScpFile[] = [];
    const r = new ScpRecorder('/tmp/x', false, (f) => files.push(f));
    for (let i = 0; i < stream.length; i += step) r.feed(stream.subarray(i, i + step));
    assert.deepEqual(files, [{ path: '/tmp/x', bytes: 5, sha256: sha('hello') }]);
  }
});

test('recursive: folders nest, the download root folder is the root itself', () => {
  const body = 'D0755 0 top\nC0644 2 a\nhi\0D0755 0 sub\nC0600 0 empty\n\0E\nE\n';
  const up: ScpFile[] = [];
  new ScpRecorder('/dst', false, (f) => up.push(f)).feed(Buffer.from(body));
  assert.deepEqual(up.map((f) => f.path), ['/dst/top/a', '/dst/top/sub/empty']);
  const down: ScpFile[] = [];
  new ScpRecorder('/src/top', true, (f) => down.push(f)).feed(Buffer.from(body));
  assert.deepEqual(down.map((f) => [f.path, f.bytes, f.sha256]), [['/src/top/a', 2, sha('hi')], ['/src/top/sub/empty', 0, sha('')]]);
});

test('garbage and path tricks stop the parse without throwing', () => {
  for (const bad of ['nonsense\n', 'C0644 x a\n', 'C0644 1 ../../etc/passwd\nx\0', `C0644 1 ${'a'.repeat(5000)}`]) {
    const files: ScpFile[] = [];
    new ScpRecorder('/r', false, (f) => files.push(f)).feed(Buffer.from(bad));
    assert.deepEqual(files, [], bad);
  }
});
