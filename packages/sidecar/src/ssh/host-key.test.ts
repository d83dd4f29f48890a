// Host key lines parse to the wire blob; only the same blob matches.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { fingerprint, generateHostKey, hostKeyMatches, parseHostKey } from './host-key.js';

test('a .pub line, with or without hosts and comment, gives the key blob', () => {
  const pair = generateHostKey();
  const parsed = ssh2.utils.parseKey(pair.public);
  assert.ok(!(parsed instanceof Error));
  const blob = parsed.getPublicSSH();
  for (const line of [pair.public, `[host]:22 ${pair.public}`, `${pair.public} comment words`]) {
    const r = parseHostKey(line);
    assert.ok(r.ok, line);
    assert.equal(r.key.type, 'ssh-ed25519');
    assert.ok(hostKeyMatches(r.key, blob));
    assert.deepEqual(r.key.algorithms, ['ssh-ed25519']);
  }
  const other = ssh2.utils.parseKey(generateHostKey().public);
  assert.ok(!(other instanceof Error));
  const r = parseHostKey(pair.public);
  assert.ok(r.ok);
  assert.equal(hostKeyMatches(r.key, other.getPublicSSH()), false);
  assert.equal(hostKeyMatches(r.key, blob.subarray(1)), false);
  assert.match(fingerprint(blob, (b) => createHash('sha256').update(b).digest()), /^SHA256:[A-Za-z0-9+/]{43}$/);
});

test('malformed lines are values, not crashes', () => {
  const ed = generateHostKey().public.split(' ')[1] ?? '';
  for (const bad of ['', 'ssh-ed25519', 'ssh-ed25519 !!!', `ssh-rsa ${ed}`, 'nonsense AAAA', 'ssh-ed25519 AAAA']) {
    assert.equal(parseHostKey(bad).ok, false, bad);
  }
});
