// HTTP access to the control plane for operator commands (sessions, approvals).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { ChaperoneError } from '@chaperone/core/errors';

/** Where `chaperone dev` writes the addresses of the stack it runs, for the other commands. */
export function devStateFile(): string {
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'chaperone', 'dev.json');
}

export interface DevState {
  pid: number;
  controlPlane: string;
  postgres: string;
  adminToken?: string;
}

export function readDevState(): DevState | undefined {
  try {
    return JSON.parse(readFileSync(devStateFile(), 'utf8')) as DevState;
  } catch {
    return undefined;
  }
}

export interface OperatorTarget {
  url: string;
  token: string | undefined;
}

/** --control-plane, then $CHAPERONE_CONTROL_PLANE, then a running `chaperone dev`. */
export function resolveTarget(flag: string | undefined): OperatorTarget {
  const dev = readDevState();
  const url = flag ?? process.env.CHAPERONE_CONTROL_PLANE ?? dev?.controlPlane;
  if (!url) {
    throw new ChaperoneError('CLI_ERR_NO_CONTROL_PLANE', 'no control plane: pass --control-plane URL, set CHAPERONE_CONTROL_PLANE, or start `chaperone dev`');
  }
  return { url: url.replace(/\/$/, ''), token: process.env.CHAPERONE_TOKEN ?? (url === dev?.controlPlane ? dev?.adminToken : undefined) };
}

export async function apiGet<T>(target: OperatorTarget, path: string, signal?: AbortSignal): Promise<T> {
  return apiRequest<T>(target, 'GET', path, undefined, signal);
}

export async function apiPost<T>(target: OperatorTarget, path: string, body: unknown): Promise<T> {
  return apiRequest<T>(target, 'POST', path, body);
}

async function apiRequest<T>(target: OperatorTarget, method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    const headers: Record<string, string> = target.token ? { authorization: `Bearer ${target.token}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    res = await fetch(`${target.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(signal ? { signal } : {}) });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ChaperoneError('CLI_ERR_UNREACHABLE', `control plane at ${target.url} is unreachable: ${(err as Error).cause ?? (err as Error).message}`);
  }
  const answer = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok) {
    throw new ChaperoneError(answer.error?.code ?? 'CLI_ERR_HTTP', `${path}: ${res.status} ${answer.error?.message ?? res.statusText}`);
  }
  return answer as T;
}
