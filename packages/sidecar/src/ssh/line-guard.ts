// Follows what an agent types into an interactive shell, so the line can be checked against the
// command policy before the key that submits it (Enter) reaches the target. It sees only the
// keystrokes, not the target's line editor: what it cannot follow makes the line `uncertain`.

/** What to do with a piece of the agent's input. */
export type GuardStep =
  /** Forward these bytes now (typing is echoed by the target, so it must pass at once). */
  | { type: 'pass'; data: Buffer }
  /** The agent submitted a line: decide it, then send `submit` (allow) or discard it (deny). */
  | { type: 'line'; line: string; uncertain: string | undefined; submit: Buffer };

const CR = 0x0d;
const LF = 0x0a;
const CTRL_O = 0x0f; // readline operate-and-get-next: runs the line too
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const CTRL_W = 0x17;
const BS = 0x08;
const DEL = 0x7f;
const ESC = 0x1b;
const TAB = 0x09;
/**
 * Never passed: bash's Ctrl-X prefix reaches edit-and-execute-command (Ctrl-X Ctrl-E), which opens
 * the line in an editor and runs it when the editor exits (vi's `ZZ`): no submit key ever crosses.
 */
const CTRL_X = 0x18;

export class LineGuard {
  private line = '';
  /** Why the line may not be what the target's editor holds (escape sequences, completion, yank…). */
  private uncertain: string | undefined;
  private readonly decoder = new TextDecoder('utf8', { fatal: false });

  /**
   * Splits a chunk of input at each submit key; text between is tracked and passed at once.
   * Ctrl-X is dropped (see CTRL_X) and leaves the line uncertain.
   */
  feed(chunk: Buffer): GuardStep[] {
    const steps: GuardStep[] = [];
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === CTRL_X) {
        if (i > from) steps.push({ type: 'pass', data: chunk.subarray(from, i) });
        this.absorb(chunk.subarray(from, i));
        this.uncertain ??= 'Ctrl-X, which chaperone does not pass (edit-and-execute)';
        from = i + 1;
      } else if (b === CR || b === LF || b === CTRL_O) {
        if (i > from) steps.push({ type: 'pass', data: chunk.subarray(from, i) });
        this.absorb(chunk.subarray(from, i));
        steps.push({ type: 'line', line: this.line, uncertain: this.uncertain, submit: chunk.subarray(i, i + 1) });
        this.reset();
        from = i + 1;
      }
    }
    if (from < chunk.length) {
      steps.push({ type: 'pass', data: chunk.subarray(from) });
      this.absorb(chunk.subarray(from));
    }
    return steps;
  }

  /** After a denial: the target's line was killed, start afresh. */
  reset(): void {
    this.line = '';
    this.uncertain = undefined;
  }

  private absorb(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const text = this.decoder.decode(bytes, { stream: true });
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      if (c === DEL || c === BS) this.line = [...this.line].slice(0, -1).join('');
      else if (c === CTRL_U || c === CTRL_C) this.reset();
      else if (c === CTRL_D) { if (this.line !== '') this.uncertain ??= 'Ctrl-D inside a line'; }
      else if (c === CTRL_W) this.line = this.line.replace(/\S*\s*$/, '');
      else if (c === TAB) this.uncertain ??= 'tab completion';
      else if (c === ESC) this.uncertain ??= 'cursor or editing keys';
      else if (c < 0x20) this.uncertain ??= `control key Ctrl-${String.fromCharCode(c + 0x40)}`;
      else this.line += ch;
    }
  }
}

/**
 * Whether bash's history expansion could rewrite the line on the target (`!!`, `!$`, `!-2`,
 * `!rm`, `^old^new`): it can rebuild a denied command from allowed ones, so such lines are not
 * checkable. Errs on the side of yes (a `!` in quotes counts too).
 */
export function mayExpandHistory(line: string): boolean {
  return line.trimStart().startsWith('^') || /![^\s=(]/.test(line);
}
