// `tsn2n edge` subcommand (placeholder until its issue lands).
import type { Command } from 'commander';

export function registerEdge(program: Command): void {
  program
    .command('edge')
    .description('edge (not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new Error('edge is not implemented yet');
    });
}
