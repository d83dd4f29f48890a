// One pgbench -S exchange through the masking stage alone (MaskStream), for the micro-benchmarks:
// the bench policy's mask rule is on customers.card_number, pgbench reads pgbench_accounts, so
// this is the per-statement price of masking being on for results with no masked column.
import { randomBytes } from 'node:crypto';
import { parsePolicyText } from '@chaperone/core/policy/load';
import type { AccessPolicyDoc } from '@chaperone/core/policy/types';
import { LineageAnalyzer } from '@chaperone/core/sql/lineage-cache';
import { Catalog } from '@chaperone/sidecar/pg/catalog';
import { encodeQuery } from '@chaperone/sidecar/pg/encode';
import { coreLineage } from '@chaperone/sidecar/pg/mask-lineage';
import { maskingOptions } from '@chaperone/sidecar/pg/mask-options';
import { MaskPlanner } from '@chaperone/sidecar/pg/mask-plan';
import { MaskStream } from '@chaperone/sidecar/pg/mask-stream';
import { BENCH_CONNECTION, benchPolicyYaml } from './stack.js';

/** pgbench_accounts as the catalog would answer (the OID is arbitrary: the server's RowDescription names it). */
const ACCOUNTS_OID = 16_400;

function frame(type: number, body: Buffer): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b[0] = type; b.writeInt32BE(4 + body.length, 1); body.copy(b, 5);
  return b;
}

/** The server's answer to `SELECT abalance FROM pgbench_accounts WHERE aid = N`, in one read. */
function serverReply(): Buffer {
  const field = Buffer.alloc(18);
  field.writeUInt32BE(ACCOUNTS_OID, 0); field.writeInt16BE(3, 4); field.writeUInt32BE(23, 6); field.writeInt16BE(4, 10); field.writeInt32BE(-1, 12);
  const value = Buffer.from('0');
  const length = Buffer.alloc(4); length.writeInt32BE(value.length);
  return Buffer.concat([
    frame(0x54, Buffer.concat([Buffer.from([0, 1]), Buffer.from('abalance\0'), field])), // RowDescription
    frame(0x44, Buffer.concat([Buffer.from([0, 1]), length, value])), // DataRow
    frame(0x43, Buffer.from('SELECT 1\0')), // CommandComplete
    frame(0x5a, Buffer.from('I')), // ReadyForQuery
  ]);
}

/** A function doing exchange `i` (Query out, its answer back through the stage); throws if a value would be changed. */
export function maskStageExchange(texts: readonly string[]): (i: number) => void {
  const policies = parsePolicyText(benchPolicyYaml({ host: '127.0.0.1', port: 5432, database: 'app' }), 'bench.yaml')
    .filter((d): d is AccessPolicyDoc => d.kind === 'AccessPolicy');
  const masking = maskingOptions(policies, BENCH_CONNECTION, randomBytes(32).toString('base64'), coreLineage(new LineageAnalyzer()));
  if (!masking) throw new Error('the bench policy has no mask rule: the masking stage benchmark needs one');
  const catalog = new Catalog(() => { throw new Error('the masking stage benchmark asks no catalog'); });
  catalog.seed({ oid: ACCOUNTS_OID, schema: 'public', name: 'pgbench_accounts', kind: 'r', columns: new Map([[1, 'aid'], [2, 'bid'], [3, 'abalance'], [4, 'filler']]) });
  const planner = new MaskPlanner(masking.policy, catalog, masking.lineage.forCatalog(catalog));
  const reply = serverReply();
  const queries = texts.map((t) => encodeQuery(t));
  let delivered = 0;
  const stream = new MaskStream({ deliver: (b) => { delivered += b.length; }, pause: () => undefined, resume: () => undefined, maskFailed: (err) => { throw err; } },
    () => planner, catalog, { column: () => undefined, detector: () => undefined });
  return (i) => {
    stream.frontend(queries[i % queries.length] as Buffer);
    const before = delivered;
    const error = stream.push(reply);
    if (error || delivered - before !== reply.length) throw new Error(`the masking stage changed a result with no masked column: ${error?.message ?? `${delivered - before} of ${reply.length} bytes`}`);
  };
}
