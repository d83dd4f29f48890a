// The Kubernetes remote-command stream protocols over WebSocket (pods/exec, attach,
// portforward): which subprotocols the sidecar carries, the channel framing of their messages
// and the exec Status on the error channel. Pure: malformed input is a value.

/** The exec/attach subprotocols the sidecar relays, newest first (the kubelet's own order). */
export const EXEC_SUBPROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'] as const;
/** Port-forward over WebSocket. */
export const PORTFORWARD_SUBPROTOCOLS = ['v4.channel.k8s.io', 'portforward.k8s.io', 'v2.portforward.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'] as const;

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** One message of a channel protocol: the stream it belongs to and its bytes. */
export type ChannelMessage = { ok: true; channel: number; data: Buffer } | { ok: false; error: string };

/** Whether a subprotocol sends its messages as base64 text (`base64.channel.k8s.io`, `v4.base64…`). */
export function isBase64Protocol(protocol: string): boolean {
  return /(^|\.)base64\./.test(protocol);
}

/**
 * Decodes one WebSocket message: binary protocols put the channel in the first byte; the base64
 * ones put it as an ASCII digit before base64 text.
 */
export function decodeChannelMessage(protocol: string, data: Buffer, isBinary: boolean): ChannelMessage {
  if (data.length === 0) return { ok: false, error: 'empty message' };
  if (isBase64Protocol(protocol)) {
    if (isBinary) return { ok: false, error: 'binary message on a base64 protocol' };
    const text = data.toString('latin1');
    const channel = text.charCodeAt(0) - 48;
    if (channel < 0 || channel > 9) return { ok: false, error: 'no channel digit' };
    return { ok: true, channel, data: Buffer.from(text.slice(1), 'base64') };
  }
  return { ok: true, channel: data[0]!, data: data.subarray(1) };
}

/** Encodes a message the way decodeChannelMessage reads it (the stand-in upstream and tests use it). */
export function encodeChannelMessage(protocol: string, channel: number, data: Buffer | string): { data: Buffer | string; binary: boolean } {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if (isBase64Protocol(protocol)) return { data: `${String.fromCharCode(48 + channel)}${bytes.toString('base64')}`, binary: false };
  return { data: Buffer.concat([Buffer.from([channel]), bytes]), binary: true };
}

/** What the error channel said about how the command ended. */
export type ExecOutcome =
  | { kind: 'exit'; code: number }
  | { kind: 'failure'; message: string };

/**
 * The error channel's content. From v4 on it is a metav1.Status: Success (exit 0), or Failure
 * with reason NonZeroExitCode and an ExitCode cause. Older protocols send a plain error text.
 */
export function execOutcome(protocol: string, data: Buffer): ExecOutcome | undefined {
  const text = data.toString('utf8').trim();
  if (text === '') return undefined;
  if (!/^v[45]\./.test(protocol)) return { kind: 'failure', message: text };
  let status: unknown;
  try {
    status = JSON.parse(text);
  } catch {
    return { kind: 'failure', message: text };
  }
  if (typeof status !== 'object' || status === null) return { kind: 'failure', message: text };
  const s = status as { status?: unknown; reason?: unknown; message?: unknown; details?: { causes?: { reason?: unknown; message?: unknown }[] } };
  if (s.status === 'Success') return { kind: 'exit', code: 0 };
  if (s.reason === 'NonZeroExitCode') {
    const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = Number(cause?.message);
    if (Number.isInteger(code)) return { kind: 'exit', code };
  }
  return { kind: 'failure', message: typeof s.message === 'string' ? s.message : text };
}

/**
 * A resize message (channel 4): `{"Width":80,"Height":24}`. The kubelet reads it with Go's JSON
 * decoder, which matches keys case-insensitively (client-node sends `width`/`height`).
 */
export function parseResize(data: Buffer): { cols: number; rows: number } | undefined {
  try {
    const v: unknown = JSON.parse(data.toString('utf8'));
    if (typeof v !== 'object' || v === null) return undefined;
    const field = (name: string) => Object.entries(v).find(([k]) => k.toLowerCase() === name)?.[1];
    const cols = Number(field('width'));
    const rows = Number(field('height'));
    if (Number.isInteger(cols) && Number.isInteger(rows) && cols >= 0 && rows >= 0) return { cols, rows };
  } catch {
    // not JSON: not a resize
  }
  return undefined;
}

/** The exec Status the kubelet sends on channel 3 for an exit code (v4 and v5). */
export function exitStatus(code: number): string {
  if (code === 0) return JSON.stringify({ metadata: {}, status: 'Success' });
  return JSON.stringify({
    metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: exit status ${code}`, reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  });
}

/** The stream parameters of an exec or attach request (`command` repeated, `tty`, `stdin`…). */
export interface StreamQuery {
  command: string[];
  container: string | undefined;
  tty: boolean;
  stdin: boolean;
  /** port-forward: the `ports` parameters. */
  ports: string[];
}

export function streamQuery(target: string): StreamQuery {
  const q = target.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
  const flag = (name: string) => ['true', '1'].includes((params.get(name) ?? '').toLowerCase());
  return {
    command: params.getAll('command'),
    container: params.get('container') ?? undefined,
    tty: flag('tty'),
    stdin: flag('stdin'),
    ports: params.getAll('ports').flatMap((p) => p.split(',')).map((p) => p.trim()).filter((p) => p !== ''),
  };
}
