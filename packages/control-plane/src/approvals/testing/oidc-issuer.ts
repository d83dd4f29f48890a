// Test helper: a real OpenID Provider (the `oidc-provider` package) on a loopback port, and an
// authorization-code login driven through its development login and consent pages with fetch,
// so tests hold genuine ID tokens signed by the provider's own keys.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export interface TestAccount {
  email?: string;
  /** The `email_verified` claim; absent when undefined. */
  emailVerified?: boolean;
  groups: string[];
}

export interface TestIssuer {
  issuer: string;
  clientId: string;
  /** A fresh ID token for the account (logs in, consents, redeems the code). */
  idToken(accountId: string): Promise<string>;
  close(): Promise<void>;
}

const REDIRECT = 'http://127.0.0.1/callback';

export async function startTestIssuer(accounts: Record<string, TestAccount>, opts: { clientId?: string; idTokenTtlSeconds?: number } = {}): Promise<TestIssuer> {
  const clientId = opts.clientId ?? 'chaperone-approvals';
  const clientSecret = randomBytes(24).toString('base64url');
  // The issuer URL needs the port, so the server listens before the provider exists.
  const route: { handler?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  const server: Server = createServer((req, res) => route.handler?.(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Keys of its own: the package's quick-start keys are the same in every instance.
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomBytes(6).toString('hex'), use: 'sig', alg: 'RS256' };
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [REDIRECT], grant_types: ['authorization_code'], response_types: ['code'] }],
    async findAccount(_ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return { accountId: id, claims: () => ({
        sub: id, ...(account.email ? { email: account.email } : {}),
        ...(account.emailVerified !== undefined ? { email_verified: account.emailVerified } : {}), groups: account.groups,
      }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    scopes: ['openid', 'email', 'groups'],
    // Put the scope's claims into the ID token itself, as IdPs configured for kubectl/oidc-login do.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    ttl: { IdToken: opts.idTokenTtlSeconds ?? 3600, Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, AuthorizationCode: 60 },
    cookies: { keys: [randomBytes(16).toString('hex')] },
  });
  route.handler = provider.callback();

  return {
    issuer,
    clientId,
    idToken: (accountId) => login(issuer, clientId, clientSecret, accountId),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Authorization-code flow with PKCE through the dev interactions, carrying cookies by hand. */
async function login(issuer: string, clientId: string, clientSecret: string, accountId: string): Promise<string> {
  const jar = new Map<string, string>();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const q = new URLSearchParams({
    client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid email groups',
    nonce: randomBytes(8).toString('hex'), code_challenge: challenge, code_challenge_method: 'S256',
  });
  let url = `${issuer}/auth?${q}`;
  for (let hop = 0; hop < 12; hop++) {
    const interaction = /\/interaction\/([^/?]+)$/.exec(new URL(url).pathname);
    let res: Response;
    if (interaction) {
      // The dev pages: a GET renders the prompt (login, then consent); we answer it by POST.
      const page = await send(jar, url);
      const prompt = /name="prompt" value="(\w+)"/.exec(await page.text())?.[1] ?? 'login';
      const form = new URLSearchParams(prompt === 'login' ? { prompt, login: accountId, password: 'any' } : { prompt });
      res = await send(jar, url, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    } else {
      res = await send(jar, url);
    }
    const location = res.headers.get('location');
    if (!location) throw new Error(`OIDC login stopped at ${url}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    const next = new URL(location, url);
    if (next.href.startsWith(REDIRECT)) {
      const code = next.searchParams.get('code');
      if (!code) throw new Error(`OIDC login refused: ${next.search}`);
      return redeem(issuer, clientId, clientSecret, code, verifier);
    }
    url = next.href;
  }
  throw new Error('OIDC login did not finish');
}

async function redeem(issuer: string, clientId: string, clientSecret: string, code: string, verifier: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }),
  });
  const body = (await res.json()) as { id_token?: string; error?: string; error_description?: string };
  if (!body.id_token) throw new Error(`token endpoint: ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
  return body.id_token;
}

async function send(jar: Map<string, string>, url: string, init: RequestInit = {}): Promise<Response> {
  const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), ...(cookie ? { cookie } : {}) } });
  for (const line of res.headers.getSetCookie()) {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
    else jar.set(name, value);
  }
  return res;
}
