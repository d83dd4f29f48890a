// Follows a SPDY exec connection as the relay passes it: the agent's SYN_STREAMs say which
// stream is stdin, stdout, stderr, error or resize; their data frames go to the ExecRecording
// as the WebSocket channels would. What cannot be followed is left unrecorded, and said once.
import type { Logger } from 'pino';
import { CHANNEL } from './exec-protocol.js';
import type { ExecRecording } from './exec-recording.js';
import { SpdyFrameReader, SpdyHeaderReader } from './spdy-frames.js';

const CHANNELS: Record<string, number> = { stdin: CHANNEL.stdin, stdout: CHANNEL.stdout, stderr: CHANNEL.stderr, error: CHANNEL.error, resize: CHANNEL.resize };

export class SpdyTap {
  private readonly fromAgent = new SpdyFrameReader();
  private readonly fromUpstream = new SpdyFrameReader();
  private readonly headers = new SpdyHeaderReader();
  private readonly streams = new Map<number, number>();
  private warned = false;

  constructor(private readonly recording: ExecRecording, private readonly logger: Logger | undefined) {}

  bytes(fromAgent: boolean, chunk: Buffer): void {
    const reader = fromAgent ? this.fromAgent : this.fromUpstream;
    for (const frame of reader.feed(chunk)) {
      if (frame.control) {
        if (!fromAgent) continue;
        const syn = this.headers.synStream(frame);
        const channel = syn ? CHANNELS[syn.headers.get('streamtype') ?? ''] : undefined;
        if (syn && channel !== undefined) this.streams.set(syn.streamId, channel);
        continue;
      }
      const channel = this.streams.get(frame.streamId);
      if (channel !== undefined && frame.data.length > 0) this.recording.stream(fromAgent, channel, frame.data);
    }
    const broken = reader.broken ?? this.headers.broken;
    if (broken !== undefined && !this.warned) {
      this.warned = true;
      this.logger?.warn({ reason: broken }, 'cannot follow a SPDY exec stream; the rest of it is not recorded');
    }
  }
}
