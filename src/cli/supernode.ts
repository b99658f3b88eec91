// `tsn2n supernode` subcommand (placeholder until its issue lands).
import type { Command } from 'commander';

export function registerSupernode(program: Command): void {
  program
    .command('supernode')
    .description('supernode (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new Error('supernode is not implemented yet');
    });
}
