// SSH-side policy helpers: env allowlist, legacy scp classification, decision strength.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Decision } from '@chaperone/core/decision';
import { classifyScp, envAllowed, stricter } from './policy.js';

test('env: locale and terminal pass; loader and shell hooks do not', () => {
  for (const ok of ['LANG', 'LC_ALL', 'LC_CTYPE', 'TERM', 'TZ']) assert.equal(envAllowed(ok), true, ok);
  for (const no of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'BASH_ENV', 'ENV', 'PATH', 'PROMPT_COMMAND', 'SHELLOPTS', 'PS4', 'lc_all', 'LC_']) assert.equal(envAllowed(no), false, no);
});

test('scp: -t uploads, -f downloads; anything more is a command line', () => {
  assert.deepEqual(classifyScp('scp -t /tmp/x'), { direction: 'upload', path: '/tmp/x', recursive: false });
  assert.deepEqual(classifyScp('scp -v -r -f -- data'), { direction: 'download', path: 'data', recursive: true });
  assert.deepEqual(classifyScp('scp -pt .'), { direction: 'upload', path: '.', recursive: false });
  for (const not of ['scp a b', 'scp -t /x; rm -rf /', 'scp -t $(rm -rf /)', 'scp -t a b', 'scp -x -t a', 'sh -c "scp -t a"', 'scp -t']) {
    assert.equal(classifyScp(not), undefined, not);
  }
});

test('stricter: deny > approve > allow, the first on a tie', () => {
  const allow: Decision = { action: 'allow', policy: 'p', rule: 'a' };
  const allow2: Decision = { action: 'allow', policy: 'p', rule: 'b' };
  const approve: Decision = { action: 'approve', approvers: [], timeoutSeconds: 1, message: 'm', policy: 'p', rule: 'c' };
  const deny: Decision = { action: 'deny', message: 'no', policy: 'p', rule: 'd' };
  assert.equal(stricter(allow, allow2), allow);
  assert.equal(stricter(allow, approve), approve);
  assert.equal(stricter(deny, approve), deny);
  assert.equal(stricter(approve, deny), deny);
});
