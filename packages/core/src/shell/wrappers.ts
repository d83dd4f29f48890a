// What a wrapper command runs in its turn: sudo, env, xargs, find -exec, sh -c and friends. Each
// entry reads the wrapper's own options the way the real tool does, so that no option value is
// taken for the command and no command is taken for an option value.
import { scanOptions } from './options.js';
import type { OptionSpec } from './options.js';
import type { ResolvedWord } from './words.js';

export type Inner =
  /** Words run as a command (unwrapped again in turn). */
  | { kind: 'command'; words: ResolvedWord[] }
  /** Shell text that is parsed again. */
  | { kind: 'script'; text: string }
  /** Something runs that cannot be seen statically: fails closed as a dynamic program. */
  | { kind: 'unknown'; reason: string };

export interface WrapperContext {
  /** What a shell reading its standard input would run: a here-document, a here-string, or unknown. */
  stdinScript(): Inner;
}

type Unwrap = (args: ResolvedWord[], ctx: WrapperContext) => Inner[];

const SHELLS = ['sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'ash', 'rbash', 'yash', 'posh', 'fish'];

/** Program names (basenames) whose operands run another command. */
export const WRAPPERS: ReadonlyMap<string, Unwrap> = new Map<string, Unwrap>([
  ...SHELLS.map((s): [string, Unwrap] => [s, shell]),
  ['sudo', sudo],
  ['doas', optionsThen({ flags: 'Lns', withArg: 'uC' }, 's')],
  ['env', env],
  ['nice', optionsThen({ withArg: 'n', digits: true, long: { adjustment: true } })],
  ['nohup', optionsThen({})],
  ['setsid', optionsThen({ flags: 'cfw', long: { ctty: false, fork: false, wait: false } })],
  ['stdbuf', optionsThen({ withArg: 'ioe', long: { input: true, output: true, error: true } })],
  ['ionice', optionsThen({ flags: 't', withArg: 'cnpPu', long: { class: true, classdata: true, ignore: false } })],
  ['time', optionsThen({ flags: 'apvq', withArg: 'fo', long: { format: true, output: true, append: false, portability: false, verbose: false, quiet: false } })],
  ['timeout', timeout],
  ['xargs', xargs],
  ['find', find],
  ['command', command],
  ['builtin', (args) => (args.length === 0 ? [] : [{ kind: 'command', words: args }])],
  ['exec', optionsThen({ flags: 'cl', withArg: 'a' })],
  ['eval', (args) => [joined(args, 'eval')]],
  ['busybox', (args) => (args.length === 0 || args[0]!.text.startsWith('-') ? [] : [{ kind: 'command', words: args }])],
  ['chroot', chroot],
  ['flock', flock],
  ['su', su],
  ['runuser', su],
  ['watch', watch],
  ['alias', alias],
  ['source', source],
  ['trap', trap],
  ['ssh', ssh],
  ['pkexec', optionsThen({ long: { user: true, 'disable-internal-agent': false, 'keep-cwd': false } })],
  ['unbuffer', optionsThen({ flags: 'p' })],
  ['catchsegv', optionsThen({})],
  ['strace', optionsThen({ flags: 'cCdDfFhiqrtTvVwxyzZk', withArg: 'abeEIoOpPsSuUX', long: { output: true, 'summary-only': false, trace: true, follow: false } })],
  ['ltrace', optionsThen({ flags: 'bcCfhiLrStTV', withArg: 'aAeFlnopsuwxD', long: { output: true } })],
  ['taskset', (args) => operandThen(args, { flags: 'acp', long: { 'all-tasks': false, 'cpu-list': false } })],
  ['chrt', (args) => operandThen(args, { flags: 'abdefiorRmpv', withArg: 'TPD', long: { 'reset-on-fork': false } })],
  ['unshare', optionsThen({ flags: 'imnpuUCTfrc', long: { fork: false, 'map-root-user': false, 'mount-proc': false, pid: false, net: false, mount: false, ipc: false, uts: false, user: false, cgroup: false, time: false, 'kill-child': false } })],
  ['nsenter', optionsThen({ flags: 'amuinpUCTFrwZ', withArg: 'tSGw', long: { target: true, all: false, mount: false, uts: false, ipc: false, net: false, pid: false, user: false, cgroup: false, time: false, 'no-fork': false, 'preserve-credentials': false } })],
  ['systemd-run', optionsThen({ flags: 'Grtq', withArg: 'pEu', long: { user: false, system: false, scope: false, unit: true, property: true, description: true, slice: true, uid: true, gid: true, nice: true, 'working-directory': true, setenv: true, pty: false, pipe: false, wait: false, collect: false, quiet: false, 'same-dir': false, 'service-type': true, 'remain-after-exit': false } })],
  ['sg', sg],
  ['script', script],
]);

/**
 * Variables that run code of their own: PROMPT_COMMAND holds shell text; BASH_ENV and ENV name a
 * file a starting shell sources; LD_PRELOAD and LD_AUDIT load libraries into every program.
 */
export function codeInVariable(name: string, value: { text: string; dynamic: boolean }): Inner | undefined {
  if (name === 'PROMPT_COMMAND') return value.dynamic ? { kind: 'unknown', reason: `PROMPT_COMMAND=${value.text}` } : { kind: 'script', text: value.text };
  if (CODE_FILE_VARIABLES.has(name)) return { kind: 'unknown', reason: `${name}, which runs code from a file` };
  return undefined;
}
const CODE_FILE_VARIABLES: ReadonlySet<string> = new Set(['BASH_ENV', 'ENV', 'LD_PRELOAD', 'LD_AUDIT']);

/** Leading NAME=value operands (env, sudo): skipped, and whatever code they carry. */
function environment(words: ResolvedWord[]): { rest: ResolvedWord[]; env: Inner[] } {
  const env: Inner[] = [];
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i]!;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(w.text);
    if (m === null) break;
    const code = codeInVariable(m[1]!, { text: w.text.slice(m[0].length), dynamic: w.dynamic });
    if (code !== undefined) env.push(code);
  }
  return { rest: words.slice(i), env };
}

/** Options, then the command; `shellFlag` (sudo -s, doas -s) runs the command through a shell. */
function optionsThen(spec: OptionSpec, shellFlag = ''): Unwrap {
  return (args) => {
    const scan = scanOptions(args, spec);
    if (!scan.ok) return [{ kind: 'unknown', reason: scan.reason }];
    const rest = args.slice(scan.index);
    const viaShell = [...shellFlag].some((f) => scan.seen.has(f));
    if (viaShell) return rest.length === 0 ? [{ kind: 'unknown', reason: 'an interactive shell' }] : [joined(rest, 'shell')];
    return rest.length === 0 ? [] : [{ kind: 'command', words: rest }];
  };
}

const SUDO: OptionSpec = {
  flags: 'AbBEeHiKklNnPSsVv',
  withArg: 'CDghpRrTtUu',
  long: {
    askpass: false, background: false, bell: false, 'preserve-env': false, edit: false, 'set-home': false, login: false,
    'reset-timestamp': false, 'remove-timestamp': false, list: false, 'non-interactive': false, 'preserve-groups': false,
    stdin: false, shell: false, version: false, validate: false, 'no-update': false,
    'close-from': true, chdir: true, group: true, host: true, prompt: true, chroot: true, role: true, type: true,
    'command-timeout': true, 'other-user': true, user: true,
  },
};

function sudo(args: ResolvedWord[]): Inner[] {
  const scan = scanOptions(args, SUDO);
  if (!scan.ok) return [{ kind: 'unknown', reason: `sudo: ${scan.reason}` }];
  // sudo -e edits files, -l/-v/-k/-K act on credentials; none of them runs the operands.
  if (['e', 'edit'].some((f) => scan.seen.has(f))) return [];
  const { rest, env } = environment(args.slice(scan.index));
  const viaShell = ['s', 'i', 'shell', 'login'].some((f) => scan.seen.has(f));
  if (viaShell) return [...env, rest.length === 0 ? { kind: 'unknown', reason: 'an interactive shell' } : joined(rest, 'sudo -s')];
  return rest.length === 0 ? env : [...env, { kind: 'command', words: rest }];
}

const ENV: OptionSpec = {
  flags: 'i0v',
  withArg: 'uCS',
  long: {
    'ignore-environment': false, null: false, unset: true, chdir: true, 'split-string': true, debug: false,
    'default-signal': false, 'ignore-signal': false, 'block-signal': false, 'list-signal-handling': false,
  },
};

function env(args: ResolvedWord[]): Inner[] {
  // A lone `-` means -i.
  const scan = scanOptions(args.filter((w, i) => !(i === 0 && !w.dynamic && w.text === '-')), ENV);
  if (!scan.ok) return [{ kind: 'unknown', reason: `env: ${scan.reason}` }];
  const offset = args[0] !== undefined && !args[0].dynamic && args[0].text === '-' ? 1 : 0;
  const { rest, env } = environment(args.slice(scan.index + offset));
  // -S splits its value into words and runs them before the remaining operands.
  const split = scan.seen.get('S') ?? scan.seen.get('split-string');
  if (split !== undefined) return [...env, joined([{ text: split, dynamic: false }, ...rest], 'env -S')];
  return rest.length === 0 ? env : [...env, { kind: 'command', words: rest }];
}

function timeout(args: ResolvedWord[]): Inner[] {
  const scan = scanOptions(args, {
    flags: 'v', withArg: 'sk',
    long: { 'preserve-status': false, foreground: false, verbose: false, signal: true, 'kill-after': true },
  });
  if (!scan.ok) return [{ kind: 'unknown', reason: `timeout: ${scan.reason}` }];
  const rest = args.slice(scan.index + 1); // the first operand is the duration
  return rest.length === 0 ? [] : [{ kind: 'command', words: rest }];
}

const XARGS: OptionSpec = {
  flags: '0rtpxo',
  withArg: 'adEILnPs',
  optionalArg: 'eil',
  long: {
    null: false, 'no-run-if-empty': false, verbose: false, interactive: false, exit: false, 'open-tty': false, 'show-limits': false,
    'arg-file': true, delimiter: true, eof: true, replace: true, 'max-lines': true, 'max-args': true, 'max-procs': true,
    'max-chars': true, 'process-slot-var': true,
  },
};

/** xargs appends words read from its input: the command gets a dynamic argument. */
function xargs(args: ResolvedWord[]): Inner[] {
  const scan = scanOptions(args, XARGS);
  if (!scan.ok) return [{ kind: 'unknown', reason: `xargs: ${scan.reason}` }];
  const rest = args.slice(scan.index);
  const words = rest.length === 0 ? [{ text: 'echo', dynamic: false }] : rest;
  return [{ kind: 'command', words: [...words, { text: '{input}', dynamic: true }] }];
}

/** find … -exec CMD … ; (also -execdir, -ok, -okdir, and the `+` form); `{}` is a found path. */
function find(args: ResolvedWord[]): Inner[] {
  const out: Inner[] = [];
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic || !['-exec', '-execdir', '-ok', '-okdir'].includes(w.text)) continue;
    const words: ResolvedWord[] = [];
    for (i++; i < args.length; i++) {
      const a = args[i]!;
      if (!a.dynamic && (a.text === ';' || (a.text === '+' && words.at(-1)?.text === '{}'))) break;
      words.push(a.text.includes('{}') ? { text: a.text, dynamic: true } : a);
    }
    if (words.length > 0) out.push({ kind: 'command', words });
  }
  return out;
}

/** `command -v/-V` only looks the name up; plain `command` runs it, skipping functions. */
function command(args: ResolvedWord[]): Inner[] {
  const scan = scanOptions(args, { flags: 'pvV' });
  if (!scan.ok) return [{ kind: 'unknown', reason: `command: ${scan.reason}` }];
  if (scan.seen.has('v') || scan.seen.has('V')) return [];
  const rest = args.slice(scan.index);
  return rest.length === 0 ? [] : [{ kind: 'command', words: rest }];
}

function chroot(args: ResolvedWord[]): Inner[] {
  const scan = scanOptions(args, { long: { userspec: true, groups: true, 'skip-chdir': false } });
  if (!scan.ok) return [{ kind: 'unknown', reason: `chroot: ${scan.reason}` }];
  const rest = args.slice(scan.index + 1); // NEWROOT
  return rest.length === 0 ? [{ kind: 'unknown', reason: 'an interactive shell' }] : [{ kind: 'command', words: rest }];
}

function flock(args: ResolvedWord[]): Inner[] {
  const spec: OptionSpec = {
    flags: 'sxuneoFv', withArg: 'wEc',
    long: { shared: false, exclusive: false, unlock: false, nonblock: false, 'close': false, 'no-fork': false, verbose: false, timeout: true, 'conflict-exit-code': true, command: true },
  };
  const scan = scanOptions(args, spec);
  if (!scan.ok) return [{ kind: 'unknown', reason: `flock: ${scan.reason}` }];
  const script = scan.seen.get('c') ?? scan.seen.get('command');
  const after = args.slice(scan.index + 1); // the lock file or descriptor
  // Options may also follow the lock file (`flock /lock -c CMD`).
  const more = scanOptions(after, spec);
  if (!more.ok) return [{ kind: 'unknown', reason: `flock: ${more.reason}` }];
  const c = script ?? more.seen.get('c') ?? more.seen.get('command');
  if (c !== undefined) return [{ kind: 'script', text: c }];
  const rest = after.slice(more.index);
  return rest.length === 0 ? [] : [{ kind: 'command', words: rest }];
}

/** su/runuser: only -c/--command runs something we can see; otherwise a login shell. */
function su(args: ResolvedWord[]): Inner[] {
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic) continue;
    if (w.text === '-c' || w.text === '--command' || w.text === '--session-command') {
      const v = args[i + 1];
      if (v === undefined || v.dynamic) return [{ kind: 'unknown', reason: 'su -c without a static command' }];
      return [{ kind: 'script', text: v.text }];
    }
    const long = /^--(session-)?command=(.*)$/s.exec(w.text);
    if (long !== null) return [{ kind: 'script', text: long[2]! }];
    if (/^-[a-zA-Z]*c$/.test(w.text)) {
      const v = args[i + 1];
      if (v === undefined || v.dynamic) return [{ kind: 'unknown', reason: 'su -c without a static command' }];
      return [{ kind: 'script', text: v.text }];
    }
  }
  return [{ kind: 'unknown', reason: 'an interactive shell' }];
}

/** watch runs its operands through `sh -c`, or directly with -x. */
function watch(args: ResolvedWord[]): Inner[] {
  const scan = scanOptions(args, {
    flags: 'bceEgprtwx', withArg: 'nq', optionalArg: 'dC',
    long: { beep: false, color: false, 'no-color': false, differences: false, errexit: false, chgexit: false, exec: false, precise: false, 'no-rerun': false, 'no-title': false, 'no-wrap': false, interval: true, 'equexit': true, 'no-linewrap': false },
  });
  if (!scan.ok) return [{ kind: 'unknown', reason: `watch: ${scan.reason}` }];
  const rest = args.slice(scan.index);
  if (rest.length === 0) return [];
  return scan.seen.has('x') || scan.seen.has('exec') ? [{ kind: 'command', words: rest }] : [joined(rest, 'watch')];
}

/**
 * bash/sh/zsh…: `-c STRING` runs STRING; a script operand runs a file we cannot see (the
 * program stays the shell, as `source` does); no operand reads commands from standard input.
 */
function shell(args: ResolvedWord[], ctx: WrapperContext): Inner[] {
  let c = false;
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i]!;
    if (w.dynamic) return [{ kind: 'unknown', reason: 'a shell with dynamic options' }];
    if (w.text === '--' || w.text === '-') { i++; break; }
    if (w.text === '--rcfile' || w.text === '--init-file') { i++; continue; }
    if (w.text.startsWith('--')) continue;
    if (!/^[-+]./.test(w.text)) break;
    const letters = w.text.slice(1);
    if (w.text.startsWith('-') && letters.includes('c')) c = true;
    // -o/-O/+o/+O take an option name.
    if (/[oO]/.test(letters)) i++;
  }
  const operand = args[i];
  if (c) {
    if (operand === undefined) return [{ kind: 'unknown', reason: 'a shell -c without a command string' }];
    if (operand.dynamic) return [{ kind: 'unknown', reason: `a shell running ${operand.text}` }];
    return [{ kind: 'script', text: operand.text }];
  }
  return operand === undefined ? [ctx.stdinScript()] : scriptFile(operand, ctx);
}

/** `source FILE`, `. FILE`: the program stays `source`, unless the file is really the input. */
function source(args: ResolvedWord[], ctx: WrapperContext): Inner[] {
  const operand = args[0];
  return operand === undefined ? [] : scriptFile(operand, ctx);
}

/**
 * A script file a shell runs: its content is unknown and the program's name decides (as for
 * `source`), except the shell's own input (`/dev/stdin` fed by a here-document) and a file only
 * known at run time (`<(curl …)`, `$F`).
 */
function scriptFile(file: ResolvedWord, ctx: WrapperContext): Inner[] {
  if (file.dynamic) return [{ kind: 'unknown', reason: `a script read from ${file.text}` }];
  return STDIN_FILES.has(file.text) ? [ctx.stdinScript()] : [];
}
const STDIN_FILES: ReadonlySet<string> = new Set(['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0', '-']);

/** One operand (taskset's mask, chrt's priority) after the options, then the command. */
function operandThen(args: ResolvedWord[], spec: OptionSpec): Inner[] {
  const scan = scanOptions(args, spec);
  if (!scan.ok) return [{ kind: 'unknown', reason: scan.reason }];
  const rest = args.slice(scan.index + 1);
  return rest.length === 0 ? [] : [{ kind: 'command', words: rest }];
}

/** `alias x='rm -rf'`: the value runs wherever x is used later, so it counts as run here. */
function alias(args: ResolvedWord[]): Inner[] {
  return args.flatMap((w): Inner[] => {
    const eq = w.text.indexOf('=');
    if (eq === -1) return [];
    return w.dynamic ? [{ kind: 'unknown', reason: `alias ${w.text}` }] : [{ kind: 'script', text: w.text.slice(eq + 1) }];
  });
}

/** `trap 'rm x' EXIT`: the action runs later, on the signal. */
function trap(args: ResolvedWord[]): Inner[] {
  const scan = scanOptions(args, { flags: 'lpP' });
  if (!scan.ok) return [{ kind: 'unknown', reason: `trap: ${scan.reason}` }];
  const action = args[scan.index];
  if (action === undefined || args.length - scan.index < 2) return [];
  if (action.dynamic) return [{ kind: 'unknown', reason: `trap ${action.text}` }];
  return action.text === '-' || action.text === '' ? [] : [{ kind: 'script', text: action.text }];
}

/** ssh HOST CMD… runs CMD through the remote user's shell (the target itself, or another host). */
function ssh(args: ResolvedWord[]): Inner[] {
  const scan = scanOptions(args, { flags: '46AaCfGgKkMNnqsTtVvXxYy', withArg: 'BbcDEeFIiJLlmOoPpQRSWw' });
  if (!scan.ok) return [{ kind: 'unknown', reason: `ssh: ${scan.reason}` }];
  if (scan.seen.has('N') || scan.seen.has('G') || scan.seen.has('V') || scan.seen.has('Q')) return [];
  const rest = args.slice(scan.index + 1); // the destination
  return rest.length === 0 ? [{ kind: 'unknown', reason: 'a remote interactive shell' }] : [joined(rest, 'ssh')];
}

/** sg GROUP -c CMD, or sg GROUP CMD (run through /bin/sh). */
function sg(args: ResolvedWord[]): Inner[] {
  const rest = args.slice(1);
  if (rest[0] !== undefined && !rest[0].dynamic && rest[0].text === '-c') rest.shift();
  return rest.length === 0 ? [{ kind: 'unknown', reason: 'an interactive shell' }] : [joined(rest, 'sg')];
}

/** script [options] [file]: -c CMD runs CMD through a shell, otherwise an interactive one. */
function script(args: ResolvedWord[]): Inner[] {
  const scan = scanOptions(args, {
    flags: 'aeEfqkrT', withArg: 'cBIOmot',
    long: { append: false, command: true, 'return': false, flush: false, force: false, quiet: false, timing: true, 'log-in': true, 'log-out': true, 'log-io': true, 'log-timing': true, 'logging-format': true, echo: true, 'output-limit': true },
  });
  if (!scan.ok) return [{ kind: 'unknown', reason: `script: ${scan.reason}` }];
  const c = scan.seen.get('c') ?? scan.seen.get('command');
  return c === undefined ? [{ kind: 'unknown', reason: 'an interactive shell' }] : [{ kind: 'script', text: c }];
}

/** Operands joined with spaces and parsed again (eval, sudo -s, watch, env -S). */
function joined(words: readonly ResolvedWord[], what: string): Inner {
  const dynamic = words.find((w) => w.dynamic);
  if (dynamic !== undefined) return { kind: 'unknown', reason: `${what} of ${dynamic.text}` };
  return { kind: 'script', text: words.map((w) => w.text).join(' ') };
}
