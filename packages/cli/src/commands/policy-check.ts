// `chaperone policy check`: validate policy documents and explain what an identity may do.
import { isChaperoneError } from '@chaperone/core/errors';
import { explainAccess, explainStatement } from '@chaperone/core/policy/explain';
import { formatProblem, loadPolicyFiles, type PolicyProblem } from '@chaperone/core/policy/load';
import { explainCommand } from '@chaperone/core/shell/explain';
import { parse, parseIdentity, type Command } from './command.js';

const USAGE = 'chaperone policy check FILE|DIR… [--known-connections a,b] [--as NAMESPACE/SERVICEACCOUNT --connection NAME [--sql TEXT | --command LINE]] [--json]';

export const policyCheck: Command = {
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parse(args, {
      as: { type: 'string' },
      connection: { type: 'string' },
      sql: { type: 'string' },
      command: { type: 'string' },
      'known-connections': { type: 'string' },
      json: { type: 'boolean' },
    }, USAGE, true);
    if (positionals.length === 0 || (values.as === undefined) !== (values.connection === undefined) || ((values.sql !== undefined || values.command !== undefined) && values.as === undefined) || (values.sql !== undefined && values.command !== undefined)) {
      process.stderr.write(`usage: ${USAGE}\n`);
      return 2;
    }
    const known = values['known-connections']?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
    let docs;
    try {
      docs = await loadPolicyFiles(positionals, { extraConnectionNames: known });
    } catch (err) {
      if (isChaperoneError(err) && err.details?.problems) {
        const problems = err.details.problems as PolicyProblem[];
        if (values.json) process.stdout.write(`${JSON.stringify({ ok: false, problems }, null, 2)}\n`);
        else process.stderr.write(`${problems.map(formatProblem).join('\n')}\n${problems.length} problem(s); nothing was loaded\n`);
        return 1;
      }
      throw err;
    }
    const counts = `${docs.filter((d) => d.kind === 'Connection').length} connection(s), ${docs.filter((d) => d.kind === 'AccessPolicy').length} access polic(ies)`;
    if (values.as === undefined || values.connection === undefined) {
      process.stdout.write(values.json ? `${JSON.stringify({ ok: true, documents: docs.length })}\n` : `ok: ${counts}\n`);
      return 0;
    }
    const identity = parseIdentity(values.as);
    const result = values.sql !== undefined
      ? await explainStatement(docs, identity, values.connection, values.sql)
      : values.command !== undefined
        ? await explainCommand(docs, identity, values.connection, values.command)
        : explainAccess(docs, identity, values.connection);
    process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${result.text.trimEnd()}\n`);
    return 0;
  },
};
