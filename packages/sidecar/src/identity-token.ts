// Where the sidecar's own identity token comes from: the kubelet's projected service-account
// token on disk, or (local stack only) the control plane's development issuer.
import { readFile } from 'node:fs/promises';
import { ChaperoneError } from '@chaperone/core/errors';
import type { DevTokenRequest, DevTokenResponse } from '@chaperone/core/api';

export const SIDECAR_ERR_TOKEN_UNREADABLE = 'SIDECAR_ERR_TOKEN_UNREADABLE';

/** Called before every exchange, so a rotated token is always the one presented. */
export type TokenSource = () => Promise<string>;

/**
 * The projected token file (audience `chaperone`). Read on every call: the kubelet rotates
 * it in place well before it expires, so a cached copy would go stale.
 */
export function fileTokenSource(path: string): TokenSource {
  return async () => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ChaperoneError(SIDECAR_ERR_TOKEN_UNREADABLE, `cannot read the identity token at ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path }, { cause: err });
    }
    const token = text.trim();
    if (token.length === 0) throw new ChaperoneError(SIDECAR_ERR_TOKEN_UNREADABLE, `the identity token file ${path} is empty`, { path });
    return token;
  };
}

/** Asks the control plane's development issuer (`POST /v1/dev/tokens`) for a fresh token each time. */
export function devTokenSource(issuer: { devToken(req: DevTokenRequest): Promise<DevTokenResponse> }, req: DevTokenRequest): TokenSource {
  return async () => (await issuer.devToken(req)).token;
}
