// The real environment of a supernode (system clock and randomness, node:dgram, DNS, files): defaults for deps.
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { openUdp } from '../io/udp.js';
import { SystemClock } from '../util/clock.js';
import { silentLogger } from '../util/log.js';
import { SystemRandom } from '../util/random.js';
import type { SupernodeDeps } from './supernode.js';

/** System clock, OS randomness, a silent logger, node:dgram sockets, IPv4 DNS lookups, synchronous file reads. */
export function defaultSupernodeDeps(): SupernodeDeps {
  return {
    clock: new SystemClock(),
    random: new SystemRandom(),
    logger: silentLogger,
    openUdp: (address, port) => openUdp({ family: 4, address, port }),
    resolve: async (host) => (await lookup(host, { family: 4 })).address,
    readTextFile: (path) => readFileSync(path, 'utf8'),
  };
}
