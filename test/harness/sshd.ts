// Starts Debian's OpenSSH server (/usr/sbin/sshd) on a loopback port for a test: its own config,
// host key and authorized_keys in a temp folder, running as the test's user, logging to stderr.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SSHD_PATH = '/usr/sbin/sshd';
const INSTALL_HINT = 'install it with `apt-get install openssh-server openssh-client` (or `make deps`)';

export interface SshServer {
  host: string;
  port: number;
  /** The server's public host key line (`ssh-ed25519 AAAA… `), what a Connection's hostKey holds. */
  hostKey: string;
  /** The login name: the user running the test. */
  user: string;
  /** A private key (OpenSSH format) the server accepts for `user`, and its path. */
  clientKey: string;
  clientKeyPath: string;
  /** The folder holding config, keys and logs. */
  dir: string;
  /** What sshd wrote to stderr so far (for failing tests). */
  log(): string;
  stop(): Promise<void>;
}

export interface SshServerOptions {
  /** Extra sshd_config lines (e.g. `AllowTcpForwarding no`). */
  config?: string[];
  /** Password authentication is not available (UsePAM no, no shadow access): keys only. */
  port?: number;
}

/** Throws with an install hint when the OpenSSH server or client is missing. */
export function requireOpenSsh(): void {
  for (const bin of [SSHD_PATH, '/usr/bin/ssh', '/usr/bin/ssh-keygen', '/usr/bin/scp', '/usr/bin/sftp']) {
    if (!existsSync(bin)) throw new Error(`${bin} not found: ${INSTALL_HINT}`);
  }
}

export async function startSshd(opts: SshServerOptions = {}): Promise<SshServer> {
  requireOpenSsh();
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-sshd-'));
  const hostKeyPath = join(dir, 'host_ed25519');
  const clientKeyPath = join(dir, 'client_ed25519');
  keygen(hostKeyPath);
  keygen(clientKeyPath);
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${clientKeyPath}.pub`));
  // Privilege separation needs this folder when sshd runs as root (Debian creates it at boot).
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = opts.port ?? await freePort();
  const user = userInfo().username;
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKeyPath}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    `AllowUsers ${user}`,
    'PermitRootLogin yes',
    'AllowTcpForwarding yes',
    'X11Forwarding no',
    'PrintMotd no',
    'PrintLastLog no',
    'AcceptEnv LANG LC_* TEST_*',
    'Subsystem sftp internal-sftp',
    'LogLevel INFO',
    ...(opts.config ?? []),
  ];
  const configPath = join(dir, 'sshd_config');
  await writeFile(configPath, `${config.join('\n')}\n`);
  const child = spawn(SSHD_PATH, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  await waitListening(child, () => stderr, port);
  const hostKey = (await readFile(`${hostKeyPath}.pub`, 'utf8')).trim();
  const clientKey = await readFile(clientKeyPath, 'utf8');
  return {
    host: '127.0.0.1', port, hostKey, user, clientKey, clientKeyPath, dir,
    log: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh ed25519 key pair at path (and path.pub), no passphrase. */
export function keygen(path: string): void {
  const r = spawnSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'chaperone-test', '-f', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr || r.error?.message}`);
}

/** A loopback port nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** sshd -e logs "Server listening on 127.0.0.1 port N." once it accepts connections. */
async function waitListening(child: ChildProcess, stderr: () => string, port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!stderr().includes(`port ${port}`)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sshd did not start listening on port ${port}: ${stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
