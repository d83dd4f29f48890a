// SSH-side policy helpers: env allowlist, legacy scp classification.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyScp, envAllowed } from './policy.js';

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
