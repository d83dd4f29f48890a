// Skips the options of a wrapper command (sudo, env, xargs…) to find the command it runs. An
// option the table does not know makes the scan fail: the caller then fails closed.
import type { ResolvedWord } from './words.js';

export interface OptionSpec {
  /** Short options without a value. */
  flags?: string;
  /** Short options taking a value (attached, `-uroot`, or the next word). */
  withArg?: string;
  /** Short options whose value may only be attached (`-i{}`, `-e`). */
  optionalArg?: string;
  /** Long options: name → whether it takes a value (`--user root` or `--user=root`). */
  long?: Record<string, boolean>;
  /** `-10` style numeric options (nice). */
  digits?: boolean;
}

export type OptionScan =
  | { ok: true; /** Index of the first operand (args.length when none). */ index: number; seen: Map<string, string> }
  | { ok: false; reason: string };

export function scanOptions(args: readonly ResolvedWord[], spec: OptionSpec): OptionScan {
  const seen = new Map<string, string>();
  const flags = spec.flags ?? '';
  const withArg = spec.withArg ?? '';
  const optionalArg = spec.optionalArg ?? '';
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i]!;
    // A dynamic word may be an option or the command; as the command it makes the program dynamic.
    if (w.dynamic || !w.text.startsWith('-') || w.text === '-') return { ok: true, index: i, seen };
    if (w.text === '--') return { ok: true, index: i + 1, seen };
    if (w.text.startsWith('--')) {
      const eq = w.text.indexOf('=');
      const name = w.text.slice(2, eq === -1 ? undefined : eq);
      const takes = spec.long?.[name];
      if (takes === undefined) return { ok: false, reason: `unknown option --${name}` };
      if (eq !== -1) seen.set(name, w.text.slice(eq + 1));
      else if (takes) {
        const v = args[++i];
        if (v === undefined || v.dynamic) return { ok: false, reason: `option --${name} without a static value` };
        seen.set(name, v.text);
      } else seen.set(name, '');
      continue;
    }
    if (spec.digits === true && /^-\d+$/.test(w.text)) continue;
    for (let j = 1; j < w.text.length; j++) {
      const c = w.text[j]!;
      if (withArg.includes(c)) {
        let value = w.text.slice(j + 1);
        if (value === '') {
          const v = args[++i];
          if (v === undefined || v.dynamic) return { ok: false, reason: `option -${c} without a static value` };
          value = v.text;
        }
        seen.set(c, value);
        break;
      }
      if (optionalArg.includes(c)) {
        seen.set(c, w.text.slice(j + 1));
        break;
      }
      if (!flags.includes(c)) return { ok: false, reason: `unknown option -${c}` };
      seen.set(c, '');
    }
  }
  return { ok: true, index: i, seen };
}
