// Root: `tsn2n supernode` and two `tsn2n edge` processes on real TAP devices in network namespaces; ping across
// the overlay for every cipher, with and without header encryption; clean shutdown. Never skips under CI=true.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPrerequisites,
  describeMissing,
  Lab,
  type LabHost,
  type LabProcess,
  mgmtRead,
  ping,
} from '../../src/lab/index.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN_JS = resolve(REPO, 'dist/cli/main.js');
const IS_CI = process.env.CI === 'true';
const missing = describeMissing(checkPrerequisites(['ping']));
if (missing && !IS_CI) console.warn(`[edge-netns] skipping: ${missing}`);

const SN_IP = '203.0.113.1';
const SN_PORT = 7654;
const KEY = 'netns-secret';
const CIPHERS = [1, 2, 3, 4, 5] as const;
const CIPHER_NAMES = ['', 'null', 'Twofish', 'AES', 'ChaCha20', 'Speck'];
const REGISTER_TIMEOUT_MS = 15_000;

describe.skipIf(missing !== undefined && !IS_CI)('tsn2n edge on real TAP devices (netns)', () => {
  let lab: Lab;
  let sn: LabHost;
  let hostA: LabHost;
  let hostB: LabHost;
  let supernode: LabProcess;
  const communityFile = join(tmpdir(), `tsn2n-edge-netns-${process.pid}.list`);

  beforeAll(async () => {
    if (missing) throw new Error(`root test: ${missing}`);
    // The processes run the built CLI.
    execFileSync(
      process.execPath,
      [resolve(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: REPO,
        stdio: 'inherit',
      },
    );
    lab = await Lab.create({ log: (l) => console.log(`[lab] ${l}`) });
    sn = await lab.publicHost('sn', `${SN_IP}/24`);
    hostA = await lab.publicHost('a', '203.0.113.11/24');
    hostB = await lab.publicHost('b', '203.0.113.12/24');
    // Header encryption needs fixed community names in the supernode's community file.
    const names = CIPHERS.flatMap((c) => [`plain${c}`, `henc${c}`]);
    writeFileSync(communityFile, `${names.join('\n')}\n`);
    supernode = lab.spawn('supernode', sn.ns, [
      process.execPath,
      MAIN_JS,
      'supernode',
      '-f',
      '-p',
      String(SN_PORT),
      '-c',
      communityFile,
    ]);
    await supernode.waitForOutput(/listening on UDP/, 10_000);
  }, 180_000);

  afterAll(async () => {
    await lab?.destroy();
    if (lab) expect(lab.remaining()).toEqual([]);
  });

  function startEdge(
    host: LabHost,
    community: string,
    addr: string,
    cipher: number,
    he: boolean,
  ): LabProcess {
    const args = [
      process.execPath,
      MAIN_JS,
      'edge',
      '-c',
      community,
      '-l',
      `${SN_IP}:${SN_PORT}`,
      '-a',
      addr,
    ];
    args.push('-d', 'n2n0', `-A${cipher}`, '-f');
    if (cipher !== 1) args.push('-k', KEY);
    if (he) args.push('-H');
    return lab.spawn(`edge ${community}@${host.name}`, host.ns, args);
  }

  for (const cipher of CIPHERS) {
    for (const he of [false, true]) {
      it(`ping across the overlay with ${CIPHER_NAMES[cipher]}${he ? ' and -H' : ''}`, async () => {
        const community = `${he ? 'henc' : 'plain'}${cipher}`;
        const a = startEdge(hostA, community, '10.77.0.1/24', cipher, he);
        const b = startEdge(hostB, community, '10.77.0.2/24', cipher, he);
        try {
          await a.waitForOutput(/registered with supernode/, REGISTER_TIMEOUT_MS);
          await b.waitForOutput(/registered with supernode/, REGISTER_TIMEOUT_MS);
          // The first echo may go through the supernode while hole punching is under way.
          const r = await ping(lab, hostA.ns, '10.77.0.2', { count: 4, intervalS: 0.2 });
          expect(r.received).toBeGreaterThanOrEqual(3);
          const back = await ping(lab, hostB.ns, '10.77.0.1', { count: 2, intervalS: 0.2 });
          expect(back.received).toBe(2);
          // The management port reports the peer, direct (p2p) or via the supernode (pSp). Its overlay address
          // is known only once a REGISTER from it arrived, as in n2n.
          const edges = await mgmtRead(lab, hostA.ns, 5644, 'edges');
          expect(edges.length).toBeGreaterThanOrEqual(1);
          for (const e of edges) expect(['p2p', 'pSp']).toContain(e.mode);
          expect(edges.map((e) => e.sockaddr)).toContainEqual(expect.stringMatching(/^203\.0\.113\.12:\d+$/));
        } finally {
          await a.stop();
          await b.stop();
        }
        // SIGTERM is a clean shutdown: UNREGISTER_SUPER sent, exit code 0.
        expect(a.exitCode).toBe(0);
        expect(b.exitCode).toBe(0);
        expect(a.output()).toMatch(/edge stopped/);
      });
    }
  }
});
