// File transfer through the sidecar with the real sftp and scp clients: each transfer recorded
// with path, direction, size and SHA-256; a read-only connection refuses writes; forwarding and
// interactive shells as policy says.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ChannelEvent, FileTransferEvent } from '@chaperone/core/records/types';
import { spawn } from 'node:child_process';
import { AGENT, BOX, HELD_FILES, READONLY, decide, eventually, pendingApproval, run, startStack } from './support.js';
import { keygen } from '../harness/sshd.js';
import type { Stack } from './support.js';

let s: Stack;
before(async () => { s = await startStack(); });
after(async () => { await s?.stop(); });

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function transfer(connection: string, path: string, direction: FileTransferEvent['direction'], protocol: FileTransferEvent['protocol']): Promise<FileTransferEvent> {
  return eventually(`${protocol} ${direction} of ${path}`, async () =>
    (await s.events(connection)).find((e): e is FileTransferEvent => e.type === 'file' && e.path === path && e.direction === direction && e.protocol === protocol));
}

test('sftp put and get are proxied and recorded with the right size and sha256', async () => {
  const data = randomBytes(300_000);
  const local = join(s.dir, 'up.bin');
  await writeFile(local, data);
  const remote = join(s.sshd.dir, 'sftp-up.bin');
  const back = join(s.dir, 'back.bin');
  const r = await s.sftp(BOX, `put ${local} ${remote}\nls -l ${s.sshd.dir}\nget ${remote} ${back}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readFile(remote), data);
  assert.deepEqual(await readFile(back), data);
  assert.match(r.stdout, /sftp-up\.bin/);
  const up = await transfer(BOX, remote, 'upload', 'sftp');
  assert.deepEqual({ bytes: up.bytes, sha256: up.sha256, action: up.decision.action }, { bytes: data.length, sha256: sha256(data), action: 'allow' });
  const down = await transfer(BOX, remote, 'download', 'sftp');
  assert.deepEqual({ bytes: down.bytes, sha256: down.sha256 }, { bytes: data.length, sha256: sha256(data) });
});

test('the sidecar announces limits@openssh.com: OpenSSH sftp uses 255 KiB requests through it', async () => {
  const data = randomBytes(2_000_000);
  const local = join(s.dir, 'limits.bin');
  await writeFile(local, data);
  const remote = join(s.sshd.dir, 'limits.bin');
  const r = await run('/usr/bin/sftp', ['-P', String(s.port(BOX)), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-vvv', '-b', '-', 'agent@127.0.0.1'], { input: `put ${local} ${remote}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readFile(remote), data);
  assert.match(r.stderr, /limits@openssh\.com/);
  // sftp-client.c logs the sizes it took from the server's limits.
  assert.match(r.stderr, /buffer sizes 261120 \/ 261120/);
});

test('scp (SFTP protocol) and legacy scp -O are recorded', async () => {
  const data = randomBytes(70_000);
  const local = join(s.dir, 'scp.bin');
  await writeFile(local, data);
  const modern = join(s.sshd.dir, 'scp-modern.bin');
  const m = await s.scp(BOX, [local, `agent@127.0.0.1:${modern}`]);
  assert.equal(m.code, 0, m.stderr);
  assert.deepEqual(await readFile(modern), data);
  assert.equal((await transfer(BOX, modern, 'upload', 'sftp')).sha256, sha256(data));

  const legacy = join(s.sshd.dir, 'scp-legacy.bin');
  const l = await s.scp(BOX, ['-O', local, `agent@127.0.0.1:${legacy}`]);
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual(await readFile(legacy), data);
  const up = await transfer(BOX, legacy, 'upload', 'scp');
  assert.deepEqual({ bytes: up.bytes, sha256: up.sha256 }, { bytes: data.length, sha256: sha256(data) });

  const fetched = join(s.dir, 'legacy-back.bin');
  const d = await s.scp(BOX, ['-O', `agent@127.0.0.1:${legacy}`, fetched]);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(await readFile(fetched), data);
  assert.equal((await transfer(BOX, legacy, 'download', 'scp')).sha256, sha256(data));
});

test('a read-only connection lets files be read, refuses writes (sftp, scp, scp -O)', async () => {
  const existing = join(s.sshd.dir, 'readable.txt');
  await writeFile(existing, 'readable');
  const local = join(s.dir, 'ro-back.txt');
  const get = await s.sftp(READONLY, `get ${existing} ${local}\n`);
  assert.equal(get.code, 0, get.stderr);
  assert.equal(await readFile(local, 'utf8'), 'readable');

  const target = join(s.sshd.dir, 'ro-written.txt');
  const put = await s.sftp(READONLY, `put ${local} ${target}\n`);
  assert.notEqual(put.code, 0);
  assert.match(put.stderr, /read-only box|Permission denied/);
  const scp = await s.scp(READONLY, [local, `agent@127.0.0.1:${target}`]);
  assert.notEqual(scp.code, 0);
  const legacy = await s.scp(READONLY, ['-O', local, `agent@127.0.0.1:${target}`]);
  assert.notEqual(legacy.code, 0);
  assert.match(legacy.stderr, /chaperone: denied: read-only box/);
  const rm = await s.sftp(READONLY, `rm ${existing}\n`);
  assert.notEqual(rm.code, 0);
  assert.equal(existsSync(target), false);
  assert.ok(existsSync(existing));
});

test('an approve rule for file-write holds each file written over SFTP, named by its path', async () => {
  const local = join(s.dir, 'held.txt');
  await writeFile(local, 'held bytes');
  const first = join(s.sshd.dir, 'held-first.txt');
  const second = join(s.sshd.dir, 'held-second.txt');
  // One SFTP session writing two files: each is its own approval; approving the first does not cover the second.
  const running = s.sftp(HELD_FILES, `put ${local} ${first}\nput ${local} ${second}\n`);
  const a1 = await pendingApproval(s.cp, `sftp file-write ${first}`);
  assert.equal(existsSync(first), false);
  await decide(s.cp, a1.id, 'approve');
  const a2 = await pendingApproval(s.cp, `sftp file-write ${second}`);
  assert.notEqual(a2.id, a1.id);
  await decide(s.cp, a2.id, 'deny', 'not that one');
  const r = await running;
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /writing files needs an SRE: denied by .+ \(not that one\)|Permission denied/);
  assert.equal(await readFile(first, 'utf8'), 'held bytes');
  assert.equal(existsSync(second), false);
  const up = await transfer(HELD_FILES, first, 'upload', 'sftp');
  assert.equal(up.decision.action, 'approve');
});

test('port forwarding is refused and recorded', async () => {
  const r = await s.ssh(BOX, ['-W', `127.0.0.1:${s.sshd.port}`]);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /stdio forwarding failed|open failed/);
  const event = await eventually('the refused forward', async () =>
    (await s.events(BOX)).find((e): e is ChannelEvent => e.type === 'channel' && e.kind === 'port-forward'));
  assert.equal(event.detail, `127.0.0.1:${s.sshd.port}`);
  assert.equal(event.decision.action, 'deny');
});

/** A real ssh-agent holding one fresh key; its socket for SSH_AUTH_SOCK and the key's fingerprint. */
async function startAgent(dir: string): Promise<{ sock: string; fingerprint: string; stop(): void }> {
  for (const bin of ['/usr/bin/ssh-agent', '/usr/bin/ssh-add']) {
    if (!existsSync(bin)) throw new Error(`${bin} not found: install it with \`apt-get install openssh-client\``);
  }
  const sock = join(dir, 'agent.sock');
  const agent = spawn('/usr/bin/ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  try {
    await eventually('the ssh-agent socket', async () => (existsSync(sock) ? true : undefined), 10_000);
    const key = join(dir, 'forwarded_ed25519');
    keygen(key);
    const added = await run('/usr/bin/ssh-add', [key], { env: { SSH_AUTH_SOCK: sock } });
    assert.equal(added.code, 0, added.stderr);
    const fp = await run('/usr/bin/ssh-keygen', ['-l', '-f', `${key}.pub`]);
    const fingerprint = fp.stdout.split(' ')[1] ?? '';
    assert.match(fingerprint, /^SHA256:/);
    return { sock, fingerprint, stop: () => agent.kill() };
  } catch (err) {
    agent.kill();
    throw err;
  }
}

test('agent forwarding (ssh -A) is relayed where policy allows it, refused and recorded elsewhere', async () => {
  const agent = await startAgent(s.dir);
  try {
    const env = { SSH_AUTH_SOCK: agent.sock };
    const allowed = await s.ssh(AGENT, ['-A', 'ssh-add -l'], { env });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.ok(allowed.stdout.includes(agent.fingerprint), `the target should list the forwarded key: ${allowed.stdout}`);

    const refused = await s.ssh(BOX, ['-A', 'ssh-add -l'], { env });
    // ssh-add exits 2 when there is no agent to talk to.
    assert.equal(refused.code, 2, refused.stderr);
    assert.ok(!refused.stdout.includes(agent.fingerprint));

    const used = await eventually('the relayed agent use', async () =>
      (await s.events(AGENT)).filter((e): e is ChannelEvent => e.type === 'channel' && e.kind === 'agent-forward'));
    assert.ok(used.some((e) => e.decision.action === 'allow' && e.decision.rule === 'agent-forwarding'), JSON.stringify(used));
    const denied = await eventually('the refused agent forwarding', async () =>
      (await s.events(BOX)).find((e): e is ChannelEvent => e.type === 'channel' && e.kind === 'agent-forward'));
    assert.equal(denied.decision.action, 'deny');
  } finally {
    agent.stop();
  }
});
