// The chaperone command line: one binary that runs every part and the operator commands.
import { ChaperoneError } from '@chaperone/core/errors';
import { COMMANDS, usage } from './commands/index.js';

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(usage());
    return first === undefined ? 2 : 0;
  }
  // Two-word commands (`policy check`, `sessions list`) are looked up before one-word ones.
  const second = rest[0];
  const two = second !== undefined ? COMMANDS[`${first} ${second}`] : undefined;
  const entry = two ?? COMMANDS[first];
  if (!entry) {
    process.stderr.write(`chaperone: unknown command "${first}${second ? ` ${second}` : ''}"\n\n${usage()}`);
    return 2;
  }
  const args = two ? rest.slice(1) : rest;
  const command = await entry.load();
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${entry.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ChaperoneError) {
      process.stderr.write(`chaperone: ${err.message} [${err.code}]\n`);
    } else {
      process.stderr.write(`chaperone: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    // 2 for a command line that cannot be run (as for an unknown command), 1 for a failure.
    process.exitCode = err instanceof ChaperoneError && err.code === 'CLI_ERR_USAGE' ? 2 : 1;
  },
);
