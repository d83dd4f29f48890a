// The limits@openssh.com packets, byte for byte as OpenSSH's sftp-server writes them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIMITS_EXTENSION, SFTP_LIMITS, limitsReplyPacket, versionPacket } from './sftp-limits.js';

test('VERSION announces version 3 and limits@openssh.com "1"', () => {
  const p = versionPacket();
  assert.equal(p.readUInt32BE(0), p.length - 4);
  assert.equal(p[4], 2);
  assert.equal(p.readUInt32BE(5), 3);
  assert.equal(p.readUInt32BE(9), LIMITS_EXTENSION.length);
  assert.equal(p.subarray(13, 13 + LIMITS_EXTENSION.length).toString(), LIMITS_EXTENSION);
  assert.equal(p.readUInt32BE(13 + LIMITS_EXTENSION.length), 1);
  assert.equal(p.subarray(17 + LIMITS_EXTENSION.length).toString(), '1');
});

test('the limits reply carries the request id and four uint64 limits', () => {
  const p = limitsReplyPacket(0xfffffffe);
  assert.equal(p.readUInt32BE(0), 1 + 4 + 32);
  assert.equal(p[4], 201);
  assert.equal(p.readUInt32BE(5), 0xfffffffe);
  assert.deepEqual([0, 1, 2, 3].map((i) => Number(p.readBigUInt64BE(9 + i * 8))),
    [SFTP_LIMITS.maxPacketLength, SFTP_LIMITS.maxReadLength, SFTP_LIMITS.maxWriteLength, SFTP_LIMITS.maxOpenHandles]);
});
