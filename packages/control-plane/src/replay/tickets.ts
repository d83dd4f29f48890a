// Browser access to one session's replay without the admin token: a one-time ticket (in the URL
// the CLI prints) is swapped for a short-lived cookie that opens only that session's replay.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** `ticket`: in a URL, once, for a minute. `view`: the cookie it is swapped for. */
export type TicketKind = 'ticket' | 'view';

export const TICKET_TTL_MS = 60_000;
export const VIEW_TTL_MS = 30 * 60_000;

interface Claims {
  k: TicketKind;
  s: string;
  e: number;
  n: string;
}

export type TicketCheck = { ok: true; expiresAt: number } | { ok: false; reason: 'malformed' | 'signature' | 'kind' | 'session' | 'expired' | 'used' };

export class ReplayTickets {
  private readonly key: Buffer;
  /** Nonces of tickets already swapped, until they expire; a ticket works once. */
  private readonly used = new Map<string, number>();

  /**
   * The key is derived from the admin token, so every replica of the control plane accepts the
   * others' tickets and restarting does not log viewers out; without an admin token (the routes
   * are open then) a random key does.
   */
  constructor(adminToken: string | undefined, private readonly now: () => number = Date.now) {
    this.key = adminToken === undefined
      ? randomBytes(32)
      : createHmac('sha256', 'chaperone replay tickets v1').update(adminToken).digest();
  }

  issue(kind: TicketKind, session: string): { token: string; expiresAt: number } {
    const expiresAt = this.now() + (kind === 'ticket' ? TICKET_TTL_MS : VIEW_TTL_MS);
    const claims: Claims = { k: kind, s: session, e: expiresAt, n: randomBytes(12).toString('base64url') };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { token: `${body}.${this.sign(body)}`, expiresAt };
  }

  /** Checks a token for a session; a `ticket` is spent by a successful check. */
  check(token: string, kind: TicketKind, session: string): TicketCheck {
    const [body, sig, extra] = token.split('.');
    if (!body || !sig || extra !== undefined || body.length > 2048) return { ok: false, reason: 'malformed' };
    const want = Buffer.from(this.sign(body));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'signature' };
    let claims: Partial<Claims>;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Claims>;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (claims.k !== kind) return { ok: false, reason: 'kind' };
    if (claims.s !== session) return { ok: false, reason: 'session' };
    const now = this.now();
    if (typeof claims.e !== 'number' || claims.e <= now) return { ok: false, reason: 'expired' };
    if (kind === 'ticket') {
      this.forgetExpired(now);
      if (typeof claims.n !== 'string' || this.used.has(claims.n)) return { ok: false, reason: 'used' };
      this.used.set(claims.n, claims.e);
    }
    return { ok: true, expiresAt: claims.e };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  private forgetExpired(now: number): void {
    for (const [nonce, exp] of this.used) if (exp <= now) this.used.delete(nonce);
  }
}
