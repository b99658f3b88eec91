// `tsn2n keygen`: like upstream's n2n-keygen, prints a community-file user line or an edge's -P federation key.
import type { Command } from 'commander';
import { binToAscii, federationPublicKey, generatePublicKey, userPrivateKey } from '../transform/auth.js';
import { ConfigError } from '../util/errors.js';

/** The marker of a user line in the supernode's community file (N2N_USER_KEY_LINE_STARTER). */
const USER_LINE_STARTER = '*';

/** The line n2n-keygen prints for `<username> <password>` or `-F <federation>`. */
export function keygenLine(first: string, second: string): string {
  if (first === '-F') return `-P ${binToAscii(federationPublicKey(second))}`;
  const priv = userPrivateKey(first, second);
  const line = `${USER_LINE_STARTER} ${first} ${binToAscii(generatePublicKey(priv))}`;
  priv.fill(0);
  return line;
}

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description(
      'print a community-file line for user/password authentication (<username> <password>), ' +
        "or an edge's -P federation key (-F <federation name>), like n2n-keygen",
    )
    .argument('<username|-F>', "user name, or -F for a federation's public key")
    .argument('<password|name>', 'password, or the federation name')
    .allowUnknownOption()
    .action((first: string, second: string) => {
      if (second.length === 0) throw new ConfigError('keygen: the password or federation name is empty');
      process.stdout.write(`${keygenLine(first, second)}\n`);
    });
}
