// `tsn2n decode` end to end: the compiled CLI on hex lines and pcap files built from the 3.1.1 captures.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatagramDecoder } from '../../src/cli/decode.js';
import { writePcap } from '../../src/cli/pcap.js';
import {
  AuthSecret,
  binToAscii,
  buildAckToken,
  buildRegisterSuperToken,
  computeTrailer,
  DEFAULT_FEDERATION_NAME,
  dynamicKey,
  federationPrivateKey,
  federationPublicKey,
  generatePublicKey,
  generateSharedSecret,
  userPrivateKey,
} from '../../src/transform/auth.js';
import {
  AUTH_TRAILER_BYTES,
  dynamicHeaderKeys,
  encryptHeader,
  headerLength,
  staticHeaderKeys,
} from '../../src/transform/header.js';
import { fromHex, toHex } from '../../src/util/bytes.js';
import { ConfigError } from '../../src/util/errors.js';
import {
  communityBytes,
  encodedLengthMessage,
  encodeMessage,
  type Message,
  MsgType,
} from '../../src/wire/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

import { VECTORS } from './helpers/vectors.js';

const MAIN = resolve(ROOT, 'dist/cli/main.js');
const BUILD_TIMEOUT_MS = 180_000;

interface Datagram {
  i: number;
  src: string;
  dst: string;
  hex: string;
  type: string;
  decoded: Record<string, unknown>;
  frame_matches_tap?: string[];
}
interface VectorFile {
  scenario: {
    name: string;
    header_encryption: boolean;
    cipher: number;
    key: string | null;
    community: string;
  };
  udp: Datagram[];
  tap_frames: Record<string, { i: number; dir: string; hex: string }[]>;
}

const files = readdirSync(VECTORS)
  .filter((f) => /^A.*\.json$/.test(f))
  .sort();
const load = (f: string): VectorFile => JSON.parse(readFileSync(resolve(VECTORS, f), 'utf8')) as VectorFile;

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'decode', ...args], {
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The flags the capture was made with: -c/-k/-A always, -H when the capture used it. */
function argsFor(v: VectorFile): string[] {
  const a = ['-c', v.scenario.community, `-A${v.scenario.cipher}`];
  if (v.scenario.key !== null) a.push('-k', v.scenario.key);
  if (v.scenario.header_encryption) a.push('-H');
  return a;
}

/** The TAP frame a `frame_matches_tap` entry like `edge_b#2:in` names. */
function tapFrame(v: VectorFile, ref: string): string {
  const m = /^(\w+)#(\d+):(\w+)$/.exec(ref);
  if (!m) throw new Error(`bad tap reference ${ref}`);
  const f = v.tap_frames[m[1]].find((t) => t.i === Number(m[2]) && t.dir === m[3]);
  if (!f) throw new Error(`missing tap frame ${ref}`);
  return f.hex;
}

/** Fields every output line must share with the reference decoding. */
function checkAgainstReference(v: VectorFile, u: Datagram, o: Record<string, unknown>): void {
  expect(o.error, `#${u.i} ${String(o.error)}`).toBeUndefined();
  expect(o.type).toBe(u.type);
  for (const k of [
    'ttl',
    'flags',
    'community',
    'src_mac',
    'dst_mac',
    'cookie',
    'sock',
    'edge_mac',
    'target_mac',
  ]) {
    if (u.decoded[k] !== undefined && u.decoded[k] !== null)
      expect(o[k], `#${u.i} ${k}`).toEqual(u.decoded[k]);
  }
  if (v.scenario.header_encryption) {
    expect(o.header_encrypted).toBe(true);
    expect(o.he_stamp).toBe(u.decoded.he_stamp);
  }
  if (u.type === 'PACKET') {
    expect(o.transform).toBe(v.scenario.cipher);
    expect(o.payload, `#${u.i} payload`).toBe(u.decoded.frame_hex);
    for (const ref of u.frame_matches_tap ?? []) expect(o.payload).toBe(tapFrame(v, ref));
  }
}

let tmp = '';

beforeAll(() => {
  // Build the CLI like `npm test` does; other work in progress may have type errors, tsc still emits.
  try {
    execFileSync(
      process.execPath,
      [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
        stdio: 'pipe',
      },
    );
  } catch {
    // The checks below fail clearly if nothing usable was emitted.
  }
  expect(existsSync(MAIN)).toBe(true);
  expect(statSync(resolve(ROOT, 'dist/cli/decode.js')).mtimeMs).toBeGreaterThanOrEqual(
    statSync(resolve(ROOT, 'src/cli/decode.ts')).mtimeMs - 1,
  );
  tmp = mkdtempSync(join(tmpdir(), 'tsn2n-decode-'));
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('hex lines on stdin', () => {
  for (const f of files) {
    it(`${f}: every datagram, with the capture's flags`, () => {
      const v = load(f);
      const r = run(argsFor(v), `${v.udp.map((u) => u.hex).join('\n')}\n`);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const out = lines(r.stdout);
      expect(out.length).toBe(v.udp.length);
      v.udp.forEach((u, i) => {
        checkAgainstReference(v, u, out[i]);
      });
    });
  }

  it('plain datagrams decode without -H; encrypted ones then fail cleanly', () => {
    const v = load('A3-aes-he.json');
    const plain = v.udp.map((u) => u.decoded.plain_hex as string);
    const r = run(['-k', 'goldenkey'], `${plain.join('\n')}\n${v.udp[0].hex}\n`);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out.length).toBe(v.udp.length + 1);
    v.udp.forEach((u, i) => {
      expect(out[i].type).toBe(u.type);
      if (u.type === 'PACKET') expect(out[i].payload).toBe(u.decoded.frame_hex);
    });
    expect(String(out[v.udp.length].error)).toMatch(/^ERR_WIRE_/);
  });

  it('without the key a PACKET shows its header and no payload', () => {
    const v = load('A4-chacha20-nohe.json');
    const pkt = v.udp.find((u) => u.type === 'PACKET') as Datagram;
    const out = lines(run([], `${pkt.hex}\n`).stdout);
    expect(out.length).toBe(1);
    expect(out[0].type).toBe('PACKET');
    expect(out[0].transform).toBe(4);
    expect(out[0].payload).toBeUndefined();
  });

  it('garbage lines print {"error": …} and the run goes on', () => {
    const v = load('A1-null-nohe.json');
    const input = [
      'zz-not-hex',
      '0102',
      '',
      '# comment',
      v.udp[0].hex,
      'ff'.repeat(80),
      `04${v.udp[0].hex.slice(2)}`,
    ];
    const r = run([], `${input.join('\n')}\n`);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out.length).toBe(5);
    expect(Object.keys(out[0])).toEqual(['error']);
    expect(out[1].error).toMatch(/ERR_WIRE_TRUNCATED/);
    expect(out[2].type).toBe('REGISTER_SUPER');
    expect(out[3].error).toMatch(/ERR_WIRE_BAD_VERSION/);
    expect(out[4].error).toMatch(/ERR_WIRE_BAD_VERSION/);
  });

  it('-H with the wrong community reports a decryption error per datagram', () => {
    const v = load('A2-twofish-he.json');
    const out = lines(
      run(
        ['-H', '-c', 'othercomm'],
        `${v.udp
          .slice(0, 3)
          .map((u) => u.hex)
          .join('\n')}\n`,
      ).stdout,
    );
    expect(out.length).toBe(3);
    for (const o of out) expect(o.error).toMatch(/header decryption failed/);
  });
});

describe('pcap input', () => {
  const ipPort = (s: string): [string, number] => {
    const [ip, port] = s.split(':');
    return [ip, Number(port)];
  };

  for (const f of ['A4-chacha20-he.json', 'A3-aes-nohe-relay.json', 'A5-speck-nohe.json']) {
    it(`${f} as a pcap file`, () => {
      const v = load(f);
      const pcap = writePcap(
        v.udp.map((u) => ({ src: ipPort(u.src), dst: ipPort(u.dst), payload: fromHex(u.hex) })),
      );
      const path = join(tmp, `${v.scenario.name}.pcap`);
      writeFileSync(path, pcap);
      const r = run([...argsFor(v), path]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const out = lines(r.stdout);
      expect(out.length).toBe(v.udp.length);
      v.udp.forEach((u, i) => {
        expect(out[i].frame).toBe(i + 1);
        expect(out[i].src).toBe(u.src);
        expect(out[i].dst).toBe(u.dst);
        checkAgainstReference(v, u, out[i]);
      });
    });
  }

  it('a file that cannot be read or is not a pcap exits non-zero', () => {
    const missing = run([join(tmp, 'nope.pcap')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/cannot read/);
    const junk = join(tmp, 'junk.pcap');
    writeFileSync(junk, 'this is not a capture file at all');
    const bad = run([junk]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/not a classic pcap/);
  });

  it('a truncated last record prints an error line and exits 0', () => {
    const v = load('A1-null-nohe.json');
    const pcap = writePcap(
      v.udp.slice(0, 2).map((u) => ({ src: ipPort(u.src), dst: ipPort(u.dst), payload: fromHex(u.hex) })),
    );
    const path = join(tmp, 'cut.pcap');
    writeFileSync(path, pcap.subarray(0, pcap.length - 5));
    const r = run([path]);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out.length).toBe(2);
    expect(out[0].type).toBe(v.udp[0].type);
    expect(out[1].error).toMatch(/truncated/);
  });
});

describe('usage errors', () => {
  it('-H without -c and a bad -A exit with the usage code', () => {
    const r = run(['-H'], '');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/-c/);
    expect(run(['-A', '9'], '').status).toBe(2);
  });
});

describe('DatagramDecoder in user/password mode', () => {
  it('takes the dynamic key out of REGISTER_SUPER_ACK and decrypts what follows with it', () => {
    const community = 'upcomm';
    const c20 = communityBytes(community);
    const fedName = DEFAULT_FEDERATION_NAME;
    const userPriv = userPrivateKey('alice', 'secret');
    const fedPubAscii = binToAscii(federationPublicKey(fedName));
    // Both sides derive the same shared secret (spec §8.2): edge from the federation key, supernode from the user's.
    const edgeSecret = new AuthSecret(generateSharedSecret(userPriv, federationPublicKey(fedName)));
    const snSecret = new AuthSecret(
      generateSharedSecret(federationPrivateKey(fedName), generatePublicKey(userPriv)),
    );
    expect(toHex(snSecret.ss)).toBe(toHex(edgeSecret.ss));
    const challenge = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i);
    const rsToken = buildRegisterSuperToken(generatePublicKey(userPriv), challenge, edgeSecret);
    const dk = dynamicKey(1_700_000_000, c20, communityBytes(fedName));
    const ackToken = buildAckToken(rsToken, 0, dk, snSecret);
    const stamp = { hi: 0x6b081592, lo: 0x5c9a7000 };

    // REGISTER_SUPER_ACK: static header keys, 16-byte trailer appended after encryption.
    const ack: Message = {
      type: MsgType.REGISTER_SUPER_ACK,
      common: { ttl: 2, type: MsgType.REGISTER_SUPER_ACK, flags: 0x60, community: c20 },
      body: {
        cookie: 0x1234,
        srcMac: 0x02000000fe00,
        devAddr: { addr: 0, bitlen: 0 },
        lifetime: 15,
        sock: { family: 4, address: '10.0.0.2', port: 50001 },
        auth: { scheme: 2, token: ackToken },
        supernodes: [],
        keyTime: 0,
      },
    };
    const ackLen = encodedLengthMessage(ack);
    const ackBuf = new Uint8Array(ackLen + AUTH_TRAILER_BYTES);
    encodeMessage(ack, ackBuf, 0);
    encryptHeader(ackBuf, 0, ackLen, ackLen, stamp, 7, staticHeaderKeys(c20));
    computeTrailer(ackBuf, 0, ackLen, snSecret, ackBuf, ackLen);

    // A PACKET under the dynamic keys; the first 16 payload bytes are inside hl (spec §7.2).
    const frame = Uint8Array.from({ length: 60 }, (_, i) => (i * 37) & 0xff);
    const pkt: Message = {
      type: MsgType.PACKET,
      common: { ttl: 2, type: MsgType.PACKET, flags: 0, community: c20 },
      body: { srcMac: 0x0200000000aa, dstMac: 0x0200000000bb, compression: 1, transform: 1 },
      payloadOffset: 38,
      payloadLength: frame.length,
    };
    const pktBuf = new Uint8Array(38 + frame.length);
    encodeMessage(pkt, pktBuf, 0);
    pktBuf.set(frame, 38);
    const hl = headerLength(MsgType.PACKET, 38, frame.length, true);
    encryptHeader(
      pktBuf,
      0,
      pktBuf.length,
      hl,
      { hi: stamp.hi, lo: stamp.lo + 0x10 },
      9,
      dynamicHeaderKeys(dk),
    );

    const dec = new DatagramDecoder({
      community,
      headerEncryption: true,
      user: 'alice',
      password: 'secret',
      federationPublicKey: fedPubAscii,
    });
    // Before the ACK the dynamic key is unknown.
    expect(dec.decode(pktBuf).error).toMatch(/header decryption failed/);
    const a = dec.decode(ackBuf);
    expect(a.error).toBeUndefined();
    expect(a.type).toBe('REGISTER_SUPER_ACK');
    expect(a.header_key).toBe('static');
    expect(a.trailer).toBe(toHex(ackBuf.subarray(ackLen)));
    expect(a.trailer_ok).toBe(true);
    expect(a.dynamic_key).toBe(toHex(dk));
    const p = dec.decode(pktBuf);
    expect(p.error).toBeUndefined();
    expect(p.header_key).toBe(`dynamic ${toHex(dk)}`);
    expect(p.payload).toBe(toHex(frame));
    // The caller's bytes are never decrypted in place.
    expect(pktBuf[0]).not.toBe(3);
  });

  it('refuses incomplete credentials', () => {
    expect(() => new DatagramDecoder({ community: 'x', headerEncryption: true, user: 'alice' })).toThrow(
      ConfigError,
    );
  });
});
