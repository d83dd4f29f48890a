import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultDataDir } from './paths.js';

test('data folders follow XDG_DATA_HOME, then /var/lib for root, then ~/.local/share', () => {
  assert.equal(defaultDataDir('dev', { XDG_DATA_HOME: '/x' }, 0), '/x/chaperone/dev');
  assert.equal(defaultDataDir('dev', {}, 0), '/var/lib/chaperone/dev');
  assert.equal(defaultDataDir('dev', { HOME: '/home/a' }, 1000), '/home/a/.local/share/chaperone/dev');
});
