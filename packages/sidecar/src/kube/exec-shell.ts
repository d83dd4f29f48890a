// An interactive shell through pods/exec (`kubectl exec -it pod -- sh`) or pods/attach: like an
// SSH shell, each line the agent submits on stdin is decided by the shell policy before its
// Enter reaches the container (ssh/line-guard.ts follows the typing); a denied line is wiped
// (Ctrl-U) and the agent told why; an approve rule holds the line.
import type { ApprovalEvent, RecordEvent } from '@chaperone/core/records/types';
import { decideCommand } from '@chaperone/core/shell/policy';
import { LineGuard, mayExpandHistory } from '../ssh/line-guard.js';
import type { GuardStep } from '../ssh/line-guard.js';
import { CHANNEL, decodeChannelMessage, encodeChannelMessage } from './exec-protocol.js';
import { holdForApproval } from './exec-hold.js';
import type { KubeProxyState, KubeSession } from './proxy.js';

/** Kill the line the target's editor holds, then submit the empty line: a fresh prompt. */
const KILL_LINE = Buffer.from('\x15\r');

/** How the relay sends a message on: to the container, or back to the agent. */
export interface RelaySend {
  upstream(data: Buffer | string, binary: boolean): void;
  agent(data: Buffer | string, binary: boolean): void;
}

export interface ShellGuardOptions {
  state: KubeProxyState;
  session: KubeSession;
  tty: boolean;
  /** The stream's number in its session, for the CommandEvents. */
  channel: number;
  record(e: RecordEvent): void;
  approval(e: ApprovalEvent): void;
  /** What the sidecar itself told the agent, for the terminal recording. */
  told(data: Buffer): void;
}

export class ShellInputGuard {
  private protocol = '';
  private readonly guard = new LineGuard();
  // Input is handled in order: a held line holds everything typed after it.
  private queue = Promise.resolve();
  /** Without a tty nothing is echoed, so a line is kept whole and sent only once allowed. */
  private held: Buffer[] = [];

  constructor(private readonly o: ShellGuardOptions) {}

  opened(protocol: string): void {
    this.protocol = protocol;
  }

  input(data: Buffer, isBinary: boolean, send: RelaySend): void {
    const m = decodeChannelMessage(this.protocol, data, isBinary);
    const steps: GuardStep[] | undefined = m.ok && m.channel === CHANNEL.stdin ? this.guard.feed(m.data) : undefined;
    this.queue = this.queue
      .then(() => (steps ? this.carryOut(steps, send) : send.upstream(data, isBinary)))
      .catch((err: unknown) => this.o.state.logger?.warn({ err: (err as Error).message }, 'exec shell input failed'));
  }

  private stdin(send: RelaySend, data: Buffer): void {
    const m = encodeChannelMessage(this.protocol, CHANNEL.stdin, data);
    send.upstream(m.data, m.binary);
  }

  private async carryOut(steps: GuardStep[], send: RelaySend): Promise<void> {
    for (const step of steps) {
      if (step.type === 'pass') {
        if (this.o.tty) this.stdin(send, step.data);
        else this.held.push(step.data);
        continue;
      }
      const line = step.line.trim();
      if (line === '') {
        this.submit(send, step.submit);
        continue;
      }
      const started = performance.now();
      const uncheckable = step.uncertain ?? (this.o.tty && mayExpandHistory(line) ? 'history expansion' : undefined);
      const { programs, ...decided } = uncheckable
        ? { action: 'deny' as const, policy: '', rule: 'uncheckable-line', message: `the line uses ${uncheckable}, which chaperone cannot follow; type the command plainly`, programs: [] as string[] }
        : decideCommand(this.o.state.latest().shell, line, 'shell');
      let d = decided;
      let approval: string | undefined;
      if (d.action === 'approve') {
        const r = await holdForApproval(this.o.state, this.o.session, { kind: 'command', command: line }, d, this.o.approval);
        approval = r.approval;
        if (!r.approved) d = r.decision;
      }
      this.o.record({
        type: 'command', command: line, programs,
        decision: d.action === 'allow' || d.action === 'approve' ? { action: d.action, policy: d.policy, rule: d.rule } : { action: d.action, policy: d.policy, rule: d.rule, message: d.message },
        channel: this.o.channel, durationMs: Math.round(performance.now() - started),
        ...(approval !== undefined ? { approval } : {}),
      });
      if (d.action !== 'deny') {
        this.submit(send, step.submit);
        continue;
      }
      this.held = [];
      if (this.o.tty) this.stdin(send, KILL_LINE);
      const text = this.o.tty ? `\r\nchaperone: denied: ${d.message}\r\n` : `chaperone: denied: ${d.message}\n`;
      const m = encodeChannelMessage(this.protocol, this.o.tty ? CHANNEL.stdout : CHANNEL.stderr, text);
      send.agent(m.data, m.binary);
      this.o.told(Buffer.from(text));
    }
  }

  private submit(send: RelaySend, key: Buffer): void {
    if (this.o.tty) return this.stdin(send, key);
    this.held.push(key);
    this.stdin(send, Buffer.concat(this.held));
    this.held = [];
  }
}
