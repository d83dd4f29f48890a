// The limits@openssh.com SFTP extension on the agent's side of the proxy. OpenSSH's sftp and scp
// size their requests from it: against OpenSSH's sftp-server (which announces it) they read and
// write 255 KiB per request; against a server without it, 32 KiB. Announcing it makes one request
// through the sidecar carry 8× the bytes (8× fewer requests to decode, check, forward and answer),
// and its max-open-handles bounds the requests the client keeps in flight (OpenSSH's sftp-client.c
// takes min(64, open handles)), so bytes in flight per SFTP session stay bounded.
// ssh2's SFTP server answers INIT with a fixed VERSION (3, no extensions) and has no call for an
// extended reply, so both are written here through its channel, as its own sendOrBuffer() does.
import type { SFTPWrapper } from 'ssh2';

/** SSH_FXP_VERSION and SSH_FXP_EXTENDED_REPLY (draft-ietf-secsh-filexfer-02 §3). */
const FXP_VERSION = 2;
const FXP_EXTENDED_REPLY = 201;
export const LIMITS_EXTENSION = 'limits@openssh.com';

/** What the sidecar announces (OpenSSH PROTOCOL, "sftp: limits@openssh.com"). */
export const SFTP_LIMITS = {
  /** ssh2's SFTP parser takes packets up to 256 KiB (its OPENSSH_MAX_PKT_LEN). */
  maxPacketLength: 256 * 1024,
  /** As OpenSSH's sftp-server: the packet limit less room for the request's header. */
  maxReadLength: 256 * 1024 - 1024,
  maxWriteLength: 256 * 1024 - 1024,
  /** 16 requests of 255 KiB in flight: about 4 MiB per SFTP session, each way. */
  maxOpenHandles: 16,
} as const;

/** The VERSION packet announcing the extension: uint32 length, byte 2, uint32 3, string name, string "1". */
export function versionPacket(): Buffer {
  const name = Buffer.from(LIMITS_EXTENSION);
  const body = Buffer.alloc(1 + 4 + 4 + name.length + 4 + 1);
  let p = 0;
  body[p++] = FXP_VERSION;
  p = body.writeUInt32BE(3, p);
  p = body.writeUInt32BE(name.length, p);
  p += name.copy(body, p);
  p = body.writeUInt32BE(1, p);
  body.write('1', p);
  return frame(body);
}

/** The limits reply: uint32 id, then four uint64s. */
export function limitsReplyPacket(reqid: number, l: typeof SFTP_LIMITS = SFTP_LIMITS): Buffer {
  const body = Buffer.alloc(1 + 4 + 4 * 8);
  body[0] = FXP_EXTENDED_REPLY;
  body.writeUInt32BE(reqid >>> 0, 1);
  [l.maxPacketLength, l.maxReadLength, l.maxWriteLength, l.maxOpenHandles].forEach((v, i) => body.writeBigUInt64BE(BigInt(v), 5 + i * 8));
  return frame(body);
}

function frame(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** ssh2's SFTP channel internals this file writes through (lib/protocol/SFTP.js). */
interface SftpInternals {
  server: boolean;
  outgoing: { id: number; window: number; packetSize: number; state: string };
  _buffer: Buffer[];
  _protocol: { channelData(id: number, data: Buffer): void };
}

/**
 * Call right after accepting the agent's SFTP channel, before its INIT arrives: ssh2's 9-byte
 * VERSION is replaced by one announcing limits@openssh.com (the channel's send window is charged
 * for the difference), and EXTENDED limits requests are answered. Returns the EXTENDED handler's
 * part: true when it answered the request.
 */
export function announceLimits(agent: SFTPWrapper): (reqid: number, name: string) => boolean {
  const ch = agent as unknown as SftpInternals;
  const protocol = ch._protocol;
  if (!ch.server || typeof protocol?.channelData !== 'function' || !ch.outgoing) return () => false;
  let announced = false;
  // Only this channel's view of the protocol object changes, and only until VERSION has gone out.
  ch._protocol = new Proxy(protocol, {
    get(target, key) {
      if (key === 'channelData') {
        return (id: number, data: Buffer) => {
          if (data.length === 9 && data[4] === FXP_VERSION) {
            const version = versionPacket();
            const extra = version.length - data.length;
            // ssh2 charged the window for its 9 bytes; the extension's bytes are charged here. A
            // window too small for them (not at channel start) keeps ssh2's plain VERSION.
            if (ch.outgoing.window >= extra && version.length <= ch.outgoing.packetSize) {
              ch.outgoing.window -= extra;
              announced = true;
              data = version;
            }
          }
          ch._protocol = protocol;
          target.channelData(id, data);
        };
      }
      const v = Reflect.get(target, key) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return (reqid, name) => {
    if (name !== LIMITS_EXTENSION || !announced) return false;
    const reply = limitsReplyPacket(reqid);
    // Sent only when nothing is queued before it and it fits the window; else the caller answers
    // OP_UNSUPPORTED, which OpenSSH's client takes as "no limits" (its 32 KiB defaults).
    if (ch._buffer.length > 0 || ch.outgoing.state !== 'open' || ch.outgoing.window < reply.length || ch.outgoing.packetSize < reply.length) return false;
    ch.outgoing.window -= reply.length;
    protocol.channelData(ch.outgoing.id, reply);
    return true;
  };
}
