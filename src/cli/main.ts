#!/usr/bin/env node
// Entry point of the `tsn2n` command: wires each subcommand module into commander and maps errors to exit codes.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../util/errors.js';
import { VERSION } from '../util/version.js';
import { registerDecode } from './decode.js';
import { registerDemo } from './demo.js';
import { registerEdge } from './edge.js';
import { registerKeygen } from './keygen.js';
import { registerStatus } from './status.js';
import { registerSupernode } from './supernode.js';

/** Exit code for bad flags or configuration (like getopt errors in n2n). */
export const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<void> {
  const program = new Command('tsn2n')
    .description('n2n v3 peer-to-peer VPN: edge and supernode, wire-compatible with n2n 3.1.1')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(`${s.split('\n')[0]}\n`) });
  registerSupernode(program);
  registerEdge(program);
  registerDecode(program);
  registerKeygen(program);
  registerStatus(program, (s) => process.stdout.write(s));
  registerDemo(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; commander has already printed its message.
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`tsn2n: ${err.message}\n`);
    process.exit(EXIT_USAGE);
  }
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`tsn2n: ${msg}\n`);
  process.exit(1);
});
