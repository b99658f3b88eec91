// `tsn2n decode` subcommand (placeholder until its issue lands).
import type { Command } from 'commander';

export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('decode (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new Error('decode is not implemented yet');
    });
}
