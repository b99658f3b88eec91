// `tsn2n demo` subcommand (placeholder until its issue lands).
import type { Command } from 'commander';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('demo (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new Error('demo is not implemented yet');
    });
}
