// The channel framing and exec Status reading of the Kubernetes stream protocols.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeChannelMessage, encodeChannelMessage, execOutcome, exitStatus, parseResize, streamQuery } from './exec-protocol.js';

test('binary protocols carry the channel in the first byte; base64 ones as a digit before base64 text', () => {
  for (const protocol of ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io']) {
    const m = encodeChannelMessage(protocol, 1, 'héllo\n');
    const back = decodeChannelMessage(protocol, Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data), m.binary);
    assert.ok(back.ok, protocol);
    assert.equal(back.channel, 1);
    assert.equal(back.data.toString(), 'héllo\n');
  }
  assert.equal(decodeChannelMessage('base64.channel.k8s.io', Buffer.from('0aGk='), false).ok, true);
  assert.deepEqual(decodeChannelMessage('v5.channel.k8s.io', Buffer.alloc(0), true), { ok: false, error: 'empty message' });
  assert.equal(decodeChannelMessage('base64.channel.k8s.io', Buffer.from('xaGk='), false).ok, false);
});

test('the exit status comes from the v4/v5 Status; older protocols give only an error text', () => {
  assert.deepEqual(execOutcome('v5.channel.k8s.io', Buffer.from(exitStatus(0))), { kind: 'exit', code: 0 });
  assert.deepEqual(execOutcome('v4.channel.k8s.io', Buffer.from(exitStatus(42))), { kind: 'exit', code: 42 });
  assert.deepEqual(execOutcome('v5.channel.k8s.io', Buffer.from('{"status":"Failure","message":"no such container"}')), { kind: 'failure', message: 'no such container' });
  assert.deepEqual(execOutcome('v5.channel.k8s.io', Buffer.from('not json')), { kind: 'failure', message: 'not json' });
  assert.deepEqual(execOutcome('channel.k8s.io', Buffer.from('command terminated with non-zero exit code: 2')), { kind: 'failure', message: 'command terminated with non-zero exit code: 2' });
  assert.equal(execOutcome('v5.channel.k8s.io', Buffer.from('')), undefined);
});

test('resize messages are read as the kubelet reads them (keys in any case)', () => {
  assert.deepEqual(parseResize(Buffer.from('{"Width":80,"Height":24}')), { cols: 80, rows: 24 });
  assert.deepEqual(parseResize(Buffer.from('{"width":101,"height":33}')), { cols: 101, rows: 33 });
  assert.equal(parseResize(Buffer.from('{"Width":"x"}')), undefined);
  assert.equal(parseResize(Buffer.from('null')), undefined);
  assert.equal(parseResize(Buffer.from('[')), undefined);
});

test('the stream query: command words in order, flags, ports', () => {
  const q = streamQuery('/api/v1/namespaces/a/pods/p/exec?command=sh&command=-c&command=echo%20a%26b&container=main&stdin=true&tty=1&stdout=true');
  assert.deepEqual(q, { command: ['sh', '-c', 'echo a&b'], container: 'main', tty: true, stdin: true, ports: [] });
  assert.deepEqual(streamQuery('/api/v1/namespaces/a/pods/p/portforward?ports=80,443&ports=8080').ports, ['80', '443', '8080']);
  assert.deepEqual(streamQuery('/x').command, []);
});
