// The fleet generator (bench/fleet) against an in-process supernode over real loopback UDP: every registration
// answered, every relayed PACKET delivered to the socket of its destination edge.
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet } from '../../bench/fleet/generator.js';
import { Supernode } from '../../src/supernode/supernode.js';

const EDGES = 200;
const RUN_MS = 2500;
const SETTLE_MS = 1000;

let sn: Supernode | undefined;
let fleet: Fleet | undefined;

afterEach(async () => {
  fleet?.close();
  fleet = undefined;
  await sn?.stop();
  sn = undefined;
});

async function run(headerEncryption: boolean): Promise<{ fleet: Fleet; sn: Supernode }> {
  sn = new Supernode(
    {
      port: 0,
      bindAddress: '127.0.0.1',
      tcp: false,
      // All simulated edges share one sender address: admit them all at once (admission.ts).
      newEdgeBurst: EDGES,
      communityFile: headerEncryption ? '/fleet.list' : undefined,
    },
    { readTextFile: () => 'fleet\n' },
  );
  await sn.start();
  fleet = new Fleet({
    host: '127.0.0.1',
    port: sn.address!.port,
    edges: EDGES,
    sockets: 8,
    community: 'fleet',
    headerEncryption,
    // Every edge registers within the first 0.5 s, then once a second.
    intervalMs: 1000,
    rampPerSec: 400,
    packetsPerSec: 400,
    payloadBytes: 64,
  });
  fleet.open('127.0.0.1');
  fleet.start();
  await new Promise((r) => setTimeout(r, RUN_MS));
  fleet.stopSending();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  return { fleet, sn };
}

describe('bench/fleet generator', () => {
  for (const he of [false, true]) {
    it(`${EDGES} edges on 8 sockets${he ? ', -H' : ''}: all registered, all PACKETs relayed`, async () => {
      const { fleet: f, sn: s } = await run(he);
      const c = f.counts;
      expect(c.regSent).toBeGreaterThanOrEqual(2 * EDGES);
      expect(c.regAnswered).toBe(c.regSent);
      expect(c.regNaks + c.regStray + c.rxBad + c.sendDropped + c.pktMisrouted).toBe(0);
      expect(c.edgesUp).toBe(EDGES);
      expect(s.edgeCount).toBe(EDGES);
      expect(c.pktSent).toBeGreaterThan(100);
      expect(c.pktDelivered).toBe(c.pktSent);
      expect(f.regRtt.count).toBe(c.regAnswered);
      expect(f.pktLatency.count).toBe(c.pktDelivered);
    });
  }
});
