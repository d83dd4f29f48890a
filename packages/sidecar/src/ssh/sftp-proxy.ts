// SFTP through the sidecar: ssh2's SFTP server side faces the agent, an SFTP client faces the
// target. Each request is checked (file-read / file-write), each opened file's bytes are hashed
// as they pass, and closing it records a FileTransferEvent.
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
// ssh2 is CommonJS: its named exports come through the default export.
import ssh2 from 'ssh2';
import type { Attributes, FileEntry, SFTPWrapper } from 'ssh2';
import type { Decision } from '@chaperone/core/decision';
import type { ShellOperation } from '@chaperone/core/policy/types';
import type { SessionContext } from './context.js';
import { authorize } from './hold.js';
import type { Authorized } from './hold.js';
import { recordedDecision } from './observer.js';
import { announceLimits } from './sftp-limits.js';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;
const WRITE_FLAGS = OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT | OPEN_MODE.TRUNC;
/** Out-of-order chunks kept for hashing per file, at most (a client reading at random offsets). */
const MAX_PENDING = 64;

interface OpenFile {
  path: string;
  direction: 'upload' | 'download';
  decision: Decision;
  hash: Hash;
  bytes: number;
  next: number;
  pending: Map<number, Buffer>;
}

/**
 * Proxies one SFTP session until either side ends. The agent's SFTP channel is accepted at once
 * (OpenSSH's sftp sends its first requests without waiting for the reply), so requests wait for
 * the target's SFTP channel; when there is none, each is answered with the reason.
 */
export function proxySftp(ctx: SessionContext, agent: SFTPWrapper, target: Promise<SFTPWrapper | { error: string }>): void {
  const limits = announceLimits(agent);
  let remote: SFTPWrapper | undefined;
  let failed: string | undefined;
  const ready = target.then((r) => {
    if ('error' in r) failed = r.error;
    else { remote = r; r.once('close', closeBoth); }
  });
  /** Runs `fn` with the target's channel, once there is one; answers the request when there is none. */
  const withRemote = (reqid: number, fn: (remote: SFTPWrapper) => void) => {
    const go = () => (remote ? fn(remote) : agent.status(reqid, STATUS_CODE.NO_CONNECTION, `chaperone: ${failed ?? 'no target connection'}`));
    if (remote || failed !== undefined) go();
    else void ready.then(go);
  };
  const files = new Map<string, OpenFile>();
  // An approval covers one operation kind on one path, for this SFTP session: approvers see the
  // path they approve, and it covers nothing else (writing /tmp/x does not open /etc/passwd). The
  // requests one transfer makes on its path (STAT, OPEN, SETSTAT…) ask once; an answer (approved,
  // denied, expired) is kept, so a refused path is not asked again in this session.
  const approved = new Map<string, Promise<Authorized>>();

  const check = async (reqid: number, op: ShellOperation, path: string): Promise<Decision | undefined> => {
    const decision = ctx.policy().decideOperation(op);
    const what = `sftp ${op} ${path}`;
    let auth: Authorized;
    if (decision.action === 'approve') {
      let held = approved.get(what);
      if (!held) { held = authorize(ctx, decision, what); approved.set(what, held); }
      auth = await held;
    } else {
      auth = await authorize(ctx, decision, what);
    }
    if (auth.run) return decision;
    ctx.log.record({ type: 'channel', kind: 'subsystem', detail: `sftp ${op} ${path}`, decision: recordedDecision(decision) });
    agent.status(reqid, STATUS_CODE.PERMISSION_DENIED, `chaperone: denied: ${auth.message}`);
    return undefined;
  };
  const fail = (reqid: number, err: Error & { code?: unknown }) => {
    agent.status(reqid, typeof err.code === 'number' ? err.code : STATUS_CODE.FAILURE, err.message);
  };
  const done = (reqid: number) => (err: Error | undefined | null) => (err ? fail(reqid, err) : agent.status(reqid, STATUS_CODE.OK));
  const guarded = (op: ShellOperation, run: (reqid: number, path: string, remote: SFTPWrapper) => void) =>
    (reqid: number, path: string) => {
      void check(reqid, op, path).then((d) => { if (d) withRemote(reqid, (remote) => run(reqid, path, remote)); });
    };

  agent.on('OPEN', (reqid: number, filename: string, flags: number, attrs: Attributes) => {
    const direction = (flags & WRITE_FLAGS) !== 0 ? 'upload' : 'download';
    void check(reqid, direction === 'upload' ? 'file-write' : 'file-read', filename).then((decision) => {
      if (!decision) return;
      withRemote(reqid, (remote) => remote.open(filename, flags, attrs, (err, handle) => {
        if (err) return fail(reqid, err);
        files.set(handle.toString('hex'), { path: filename, direction, decision, hash: createHash('sha256'), bytes: 0, next: 0, pending: new Map() });
        agent.handle(reqid, handle);
      }));
    });
  });
  agent.on('READ', (reqid: number, handle: Buffer, offset: number, length: number) => {
    const cb = (err: Error | undefined, n: number, buf: Buffer) => {
      if (err) return fail(reqid, err);
      const data = buf.subarray(0, n);
      const file = files.get(handle.toString('hex'));
      if (file) hashAt(file, offset, data);
      ctx.log.bytes('out', n);
      agent.data(reqid, data);
    };
    // ssh2 turns EOF into a zero-length read unless asked; the agent must see EOF itself.
    (cb as { _wantEOFError?: boolean })._wantEOFError = true;
    withRemote(reqid, (remote) => remote.read(handle, Buffer.allocUnsafe(length), 0, length, offset, cb));
  });
  agent.on('WRITE', (reqid: number, handle: Buffer, offset: number, data: Buffer) => {
    const file = files.get(handle.toString('hex'));
    if (file) hashAt(file, offset, data);
    ctx.log.bytes('in', data.length);
    withRemote(reqid, (remote) => remote.write(handle, data, 0, data.length, offset, done(reqid)));
  });
  agent.on('CLOSE', (reqid: number, handle: Buffer) => {
    const key = handle.toString('hex');
    const file = files.get(key);
    files.delete(key);
    if (file) recordFile(ctx, file);
    withRemote(reqid, (remote) => remote.close(handle, done(reqid)));
  });
  agent.on('FSTAT', (reqid: number, handle: Buffer) => withRemote(reqid, (remote) => remote.fstat(handle, (err, attrs) => (err ? fail(reqid, err) : agent.attrs(reqid, attrs)))));
  agent.on('FSETSTAT', (reqid: number, handle: Buffer, attrs: Attributes) => {
    const file = files.get(handle.toString('hex'));
    if (file?.direction !== 'upload') return agent.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'chaperone: the file is open for reading');
    withRemote(reqid, (remote) => remote.fsetstat(handle, attrs, done(reqid)));
  });
  agent.on('OPENDIR', guarded('file-read', (reqid, path, remote) => remote.opendir(path, (err, h) => (err ? fail(reqid, err) : agent.handle(reqid, h)))));
  agent.on('READDIR', (reqid: number, handle: Buffer) => {
    // `full` keeps `.` and `..`: the agent's client expects the listing exactly as the target sent it.
    withRemote(reqid, (remote) => (remote.readdir as unknown as ReaddirFull).call(remote, handle, { full: true }, (err, list) => (err ? fail(reqid, err) : agent.name(reqid, list))));
  });
  agent.on('STAT', guarded('file-read', (reqid, path, remote) => remote.stat(path, (err, a) => (err ? fail(reqid, err) : agent.attrs(reqid, a)))));
  agent.on('LSTAT', guarded('file-read', (reqid, path, remote) => remote.lstat(path, (err, a) => (err ? fail(reqid, err) : agent.attrs(reqid, a)))));
  agent.on('READLINK', guarded('file-read', (reqid, path, remote) => remote.readlink(path, (err, target) => (err ? fail(reqid, err) : agent.name(reqid, [{ filename: target, longname: target, attrs: {} as Attributes }])))));
  agent.on('REALPATH', (reqid: number, path: string) => withRemote(reqid, (remote) => remote.realpath(path, (err, abs) => (err ? fail(reqid, err) : agent.name(reqid, [{ filename: abs, longname: abs, attrs: {} as Attributes }])))));
  agent.on('REMOVE', guarded('file-write', (reqid, path, remote) => remote.unlink(path, done(reqid))));
  agent.on('RMDIR', guarded('file-write', (reqid, path, remote) => remote.rmdir(path, done(reqid))));
  agent.on('MKDIR', (reqid: number, path: string, attrs: Attributes) => {
    void check(reqid, 'file-write', path).then((d) => { if (d) withRemote(reqid, (remote) => remote.mkdir(path, attrs, done(reqid))); });
  });
  agent.on('SETSTAT', (reqid: number, path: string, attrs: Attributes) => {
    void check(reqid, 'file-write', path).then((d) => { if (d) withRemote(reqid, (remote) => remote.setstat(path, attrs, done(reqid))); });
  });
  agent.on('RENAME', (reqid: number, from: string, to: string) => {
    void check(reqid, 'file-write', `${from} -> ${to}`).then((d) => { if (d) withRemote(reqid, (remote) => remote.rename(from, to, done(reqid))); });
  });
  agent.on('SYMLINK', (reqid: number, targetPath: string, linkPath: string) => {
    void check(reqid, 'file-write', linkPath).then((d) => { if (d) withRemote(reqid, (remote) => remote.symlink(targetPath, linkPath, done(reqid))); });
  });
  agent.on('EXTENDED', (reqid: number, name: string) => { if (!limits(reqid, name)) agent.status(reqid, STATUS_CODE.OP_UNSUPPORTED); });

  let closed = false;
  function closeBoth(): void {
    if (closed) return;
    closed = true;
    for (const file of files.values()) recordFile(ctx, file);
    files.clear();
    // scp in SFTP mode checks the exit status, as sftp-server gives it when its input ends.
    exitStatus(agent, failed === undefined ? 0 : 1);
    agent.end();
    remote?.end();
  }
  // The agent's EOF ends the session (OpenSSH's sftp waits for the channel to close).
  agent.once('end', closeBoth);
  agent.once('close', closeBoth);
}

/**
 * ssh2's server-side SFTP channel has no exit(): send exit-status (RFC 4254 §6.10) through its
 * connection's protocol object as its Channel class does.
 */
function exitStatus(agent: SFTPWrapper, code: number): void {
  const ch = agent as unknown as { outgoing?: { id: number; state: string }; _protocol?: { exitStatus(id: number, code: number): void } };
  if (ch.outgoing?.state === 'open' && ch._protocol) ch._protocol.exitStatus(ch.outgoing.id, code);
}

/** ssh2's client readdir with its `full` option, which the typings leave out. */
type ReaddirFull = (handle: Buffer, o: { full: boolean }, cb: (err: Error | undefined, list: FileEntry[]) => void) => void;

/** Hashes bytes in file order: a chunk ahead of the next offset waits (bounded) for the gap. */
function hashAt(file: OpenFile, offset: number, data: Buffer): void {
  file.bytes += data.length;
  if (offset !== file.next) {
    if (offset > file.next && file.pending.size < MAX_PENDING) file.pending.set(offset, Buffer.from(data));
    return;
  }
  file.hash.update(data);
  file.next += data.length;
  for (let more = file.pending.get(file.next); more; more = file.pending.get(file.next)) {
    file.pending.delete(file.next);
    file.hash.update(more);
    file.next += more.length;
  }
}

function recordFile(ctx: SessionContext, file: OpenFile): void {
  // Chunks that never joined (a gap, random access) are hashed in offset order after the rest.
  for (const offset of [...file.pending.keys()].sort((a, b) => a - b)) file.hash.update(file.pending.get(offset)!);
  file.pending.clear();
  ctx.log.record({
    type: 'file', protocol: 'sftp', direction: file.direction, path: file.path, bytes: file.bytes,
    sha256: file.hash.digest('hex'), decision: recordedDecision(file.decision),
  });
}
