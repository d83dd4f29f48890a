// HTTP status of a failed @kubernetes/client-node call, so callers branch on 404/409 and nothing else.
import { ApiException } from '@kubernetes/client-node';

export function apiStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}
