// Benchmark arithmetic and output: pgbench output parsing, medians, percentiles and the table.

export interface PgbenchResult { tps: number; latencyMs: number; transactions: number }

/**
 * TPS ("tps = 12345.6 (without initial connection time)"), "latency average = 0.081 ms" and
 * "number of transactions actually processed: 123456".
 */
export function parsePgbench(stdout: string): PgbenchResult | null {
  const tps = /tps = ([\d.]+)/.exec(stdout)?.[1];
  const lat = /latency average = ([\d.]+) ms/.exec(stdout)?.[1];
  const transactions = /number of transactions actually processed: (\d+)/.exec(stdout)?.[1];
  if (tps === undefined || lat === undefined || transactions === undefined) return null;
  return { tps: Number(tps), latencyMs: Number(lat), transactions: Number(transactions) };
}

/**
 * Per-transaction latencies (µs) from pgbench -l log lines:
 * "client_id transaction_no time script_no time_epoch time_us" (time is the latency in µs).
 */
export function parseTransactionLog(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const v = Number(f[2]);
    if (f.length >= 6 && Number.isFinite(v)) out.push(v);
  }
  return out;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile (p in 0..100) of a sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
