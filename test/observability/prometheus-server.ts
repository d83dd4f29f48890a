// A real Prometheus (Debian's `prometheus` package) for tests: static scrape targets on loopback,
// optional rule files, its HTTP API for instant queries, targets and rules.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../harness/postgres.js';
import type { MetricFamily } from './conventions.js';

export interface ScrapeJob { job: string; url: string }

/** One series of an instant-query result. */
export interface Sample { metric: Record<string, string>; value: [number, string] }
export type QueryAnswer = { ok: true; resultType: string; result: Sample[] } | { ok: false; error: string };

export interface RunningPrometheus {
  url: string;
  query(expr: string): Promise<QueryAnswer>;
  get<T>(path: string): Promise<T>;
  log(): string;
  stop(): Promise<void>;
}

/** `prometheus` or `promtool`, or a failure saying how to install it. */
export function prometheusBinary(name: 'prometheus' | 'promtool'): string {
  const path = `/usr/bin/${name}`;
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(`${path} is missing: install Debian's prometheus package (scripts/install-system-deps.sh prometheus, or apt-get install prometheus)`);
  }
}

export async function startPrometheus(dir: string, jobs: ScrapeJob[], ruleFiles: string[] = []): Promise<RunningPrometheus> {
  const bin = prometheusBinary('prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: jobs.map(({ job, url }) => {
      const u = new URL(url);
      return { job_name: job, metrics_path: u.pathname, scheme: u.protocol.slice(0, -1), static_configs: [{ targets: [u.host] }] };
    }),
  };
  const configPath = join(dir, 'prometheus.yml');
  writeFileSync(configPath, stringify(config));
  const port = await freePort();
  const child: ChildProcess = spawn(bin, [
    `--config.file=${configPath}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    // Debian's defaults point at /usr/share/prometheus; the tests need neither console nor UI.
    '--web.console.templates=/nonexistent', '--web.console.libraries=/nonexistent',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${log}`);
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`prometheus not ready within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    return (await res.json()) as T;
  };
  return {
    url,
    get,
    async query(expr) {
      const body = await get<{ status: string; error?: string; data?: { resultType: string; result: Sample[] | [number, string] } }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      if (body.status !== 'success' || !body.data) return { ok: false, error: body.error ?? body.status };
      // A scalar answer (e.g. time()) is one unlabelled value.
      const result = body.data.resultType === 'scalar' ? [{ metric: {}, value: body.data.result as [number, string] }] : (body.data.result as Sample[]);
      return { ok: true, resultType: body.data.resultType, result };
    },
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Every chaperone_* family Prometheus scraped, with its type from the targets' metadata and its series' labels (job and instance left out). */
export async function scrapedFamilies(prom: RunningPrometheus): Promise<MetricFamily[]> {
  const meta = await prom.get<{ data: Record<string, { type: string }[]> }>('/api/v1/metadata');
  const series = await prom.get<{ data: Record<string, string>[] }>(`/api/v1/series?match[]=${encodeURIComponent('{__name__=~"chaperone_.+"}')}`);
  const families = new Map<string, MetricFamily & { series: Record<string, string>[] }>();
  for (const s of series.data) {
    const { __name__: name = '', job: _job, instance: _instance, ...labels } = s;
    const family = [name, name.replace(/_(bucket|sum|count)$/, '')].find((n) => meta.data[n]) ?? name;
    const f = families.get(family) ?? { name: family, type: meta.data[family]?.[0]?.type ?? 'unknown', labelNames: [], series: [] };
    f.series.push(labels);
    families.set(family, f);
  }
  return [...families.values()];
}
