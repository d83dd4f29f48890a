// The little of the `oidc-provider` package (a test-only dependency without its own types) the
// test OIDC issuer uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface ProviderAccount {
    accountId: string;
    claims(): Promise<Record<string, unknown>> | Record<string, unknown>;
  }

  export interface ProviderConfiguration {
    clients: Record<string, unknown>[];
    jwks?: { keys: Record<string, unknown>[] };
    findAccount(ctx: unknown, id: string): Promise<ProviderAccount | undefined>;
    claims: Record<string, string[]>;
    scopes?: string[];
    conformIdTokenClaims?: boolean;
    features?: Record<string, { enabled: boolean }>;
    ttl?: Record<string, number>;
    cookies?: { keys: string[] };
    pkce?: { required: () => boolean };
  }

  export class Provider {
    constructor(issuer: string, configuration: ProviderConfiguration);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    proxy: boolean;
  }
  export default Provider;
}
