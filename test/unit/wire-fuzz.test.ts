// 100,000 random and mutated datagrams (seeded, reproducible) through the decoders: a valid message or WireError.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { equalBytes, fixedString, fromHex } from '../../src/util/bytes.js';
import { WireError, WireErrorCode } from '../../src/util/errors.js';
import { SeededRandom } from '../../src/util/random.js';
import {
  type Common,
  communityBytes,
  createPacketHeaderView,
  decodeMessage,
  encodedLengthMessage,
  encodeMessage,
  type Message,
  MsgType,
  peekMessageType,
  readPacketHeader,
} from '../../src/wire/index.js';

import { VECTORS } from './helpers/vectors.js';

const ITERATIONS = 100_000;
const SEED = 0x6e326e32;
const DECODE_CODES = new Set<string>([
  WireErrorCode.TRUNCATED,
  WireErrorCode.BAD_VERSION,
  WireErrorCode.BAD_TYPE,
  WireErrorCode.BAD_LENGTH,
  WireErrorCode.BAD_VALUE,
]);

/** Plain datagrams of every capture, plus encoded messages of the types no capture holds. */
function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  for (const f of readdirSync(VECTORS).filter((n) => /^A.*\.json$/.test(n))) {
    const v = JSON.parse(readFileSync(resolve(VECTORS, f), 'utf8')) as {
      scenario: { header_encryption: boolean };
      udp: { hex: string; decoded: { plain_hex?: string } }[];
    };
    for (const u of v.udp) {
      const hex = v.scenario.header_encryption ? (u.decoded.plain_hex ?? '') : u.hex;
      if (!seen.has(hex)) {
        seen.add(hex);
        out.push(fromHex(hex));
      }
    }
  }
  const c = (type: number, flags: number): Common => ({
    ttl: 2,
    type: type as Common['type'],
    flags,
    community: communityBytes('fuzz'),
  });
  const v6 = { family: 6 as const, address: 'fe80::1', port: 1 };
  const extra: Message[] = [
    {
      type: MsgType.REGISTER_SUPER_NAK,
      common: c(MsgType.REGISTER_SUPER_NAK, 0x60),
      body: { cookie: 1, srcMac: 2, auth: { scheme: 2, token: new Uint8Array(48) } },
    },
    { type: MsgType.RE_REGISTER_SUPER, common: c(MsgType.RE_REGISTER_SUPER, 0x20), body: {} },
    {
      type: MsgType.REGISTER_SUPER_ACK,
      common: c(MsgType.REGISTER_SUPER_ACK, 0x60),
      body: {
        cookie: 3,
        srcMac: 4,
        devAddr: { addr: 0x0a000001, bitlen: 24 },
        lifetime: 15,
        sock: v6,
        auth: { scheme: 2, token: new Uint8Array(48).fill(7) },
        supernodes: [
          { sock: { family: 4, address: '10.0.0.1', port: 7654 }, mac: 5 },
          { sock: { family: 4, address: '10.0.0.2', port: 7655 }, mac: 6 },
        ],
        keyTime: 9,
      },
    },
    {
      type: MsgType.PEER_INFO,
      common: c(MsgType.PEER_INFO, 0x60),
      body: {
        aflags: 0,
        srcMac: 1,
        mac: 2,
        sock: v6,
        preferredSock: { family: 4, address: '192.168.0.9', port: 9 },
        load: 1,
        uptime: 2,
        version: fixedString('3.1.1', 20),
      },
    },
  ];
  for (const m of extra) {
    const b = new Uint8Array(encodedLengthMessage(m));
    encodeMessage(m, b, 0);
    out.push(b);
  }
  return out;
}

/**
 * True when the input may legitimately differ from its re-encoding: decode_sock looks only at bit 15 of a sock's
 * flags word (other bits are dropped) and entries of an unknown family are skipped.
 */
function sockBitsIgnored(m: Message): boolean {
  return (
    m.type !== MsgType.QUERY_PEER &&
    m.type !== MsgType.UNREGISTER_SUPER &&
    m.type !== MsgType.REGISTER_SUPER_NAK
  );
}

describe('fuzz: decoders fail only with WireError', () => {
  it(`${ITERATIONS} random and mutated datagrams`, () => {
    const rnd = new SeededRandom(SEED);
    const pick = (n: number): number => rnd.u32() % n;
    const base = seeds();
    expect(base.length).toBeGreaterThan(50);
    const view = createPacketHeaderView();
    const stats = { ok: 0, codes: {} as Record<string, number> };
    const OFFSET_MAX = 7;

    for (let it = 0; it < ITERATIONS; it++) {
      const seed = base[pick(base.length)];
      let d: Uint8Array;
      const op = pick(8);
      switch (op) {
        case 0: {
          // bit flips
          d = seed.slice();
          const flips = 1 + pick(8);
          for (let k = 0; k < flips; k++) d[pick(d.length)] ^= 1 << pick(8);
          break;
        }
        case 1:
          d = seed.slice(0, pick(seed.length + 1));
          break;
        case 2: {
          const ext = new Uint8Array(1 + pick(64));
          rnd.fill(ext);
          d = new Uint8Array(seed.length + ext.length);
          d.set(seed);
          d.set(ext, seed.length);
          break;
        }
        case 3: {
          // insertion of 1..8 random bytes
          const at = pick(seed.length + 1);
          const ins = new Uint8Array(1 + pick(8));
          rnd.fill(ins);
          d = new Uint8Array(seed.length + ins.length);
          d.set(seed.subarray(0, at));
          d.set(ins, at);
          d.set(seed.subarray(at), at + ins.length);
          break;
        }
        case 4: {
          // deletion of a range
          const at = pick(seed.length);
          const n = 1 + pick(Math.min(16, seed.length - at));
          d = new Uint8Array(seed.length - n);
          d.set(seed.subarray(0, at));
          d.set(seed.subarray(at + n), at);
          break;
        }
        case 5: {
          // body bytes set to extremes (length fields, flags, families)
          d = seed.slice();
          const k = 1 + pick(4);
          for (let j = 0; j < k; j++) d[2 + pick(d.length - 2)] = pick(2) ? 0xff : pick(64);
          break;
        }
        case 6: {
          // a valid header with any type/flags and a random body
          d = new Uint8Array(24 + pick(200));
          rnd.fill(d);
          d[0] = 3;
          break;
        }
        default: {
          d = new Uint8Array(pick(120));
          rnd.fill(d);
          break;
        }
      }
      // Place it at an unaligned offset inside a larger buffer half the time.
      const off = pick(2) ? pick(OFFSET_MAX + 1) : 0;
      const buf = new Uint8Array(off + d.length + pick(4));
      buf.set(d, off);
      const end = off + d.length;
      // Plain checks inside the loop: vitest's expect() per iteration would dominate the run time.
      const fail = (why: string): never => {
        throw new Error(`iteration ${it} op ${op}: ${why}`);
      };
      let m: ReturnType<typeof decodeMessage> | undefined;
      try {
        m = decodeMessage(buf, off, end);
      } catch (e) {
        if (!(e instanceof WireError)) fail(String(e));
        const code = (e as WireError).code;
        if (!DECODE_CODES.has(code)) fail(`unexpected code ${code}`);
        stats.codes[code] = (stats.codes[code] ?? 0) + 1;
        // The hot-path reader must fail cleanly on the same bytes too.
        try {
          readPacketHeader(buf, off, end, view);
        } catch (e2) {
          if (!(e2 instanceof WireError)) fail(`readPacketHeader: ${String(e2)}`);
        }
        continue;
      }
      stats.ok++;
      if (m.consumed > d.length) fail('consumed beyond the datagram');
      if (peekMessageType(buf, off, end) !== m.type) fail('peekMessageType disagrees');
      // Whatever decodes must re-encode, and its encoding must be a fixed point.
      const out = new Uint8Array(encodedLengthMessage(m));
      encodeMessage(m, out, 0);
      const again = decodeMessage(out);
      const out2 = new Uint8Array(encodedLengthMessage(again));
      encodeMessage(again, out2, 0);
      if (!equalBytes(out, out2)) fail('re-encode is not stable');
      if (
        m.type !== MsgType.PACKET &&
        !equalBytes(out, buf.subarray(off, off + out.length)) &&
        !sockBitsIgnored(m)
      ) {
        fail('re-encode differs from the input');
      }
      if (m.type === MsgType.PACKET) {
        if (readPacketHeader(buf, off, end, view) !== m.payloadOffset)
          fail('readPacketHeader payload offset');
        if (view.srcMac !== m.body.srcMac || view.dstMac !== m.body.dstMac) fail('readPacketHeader MACs');
      }
    }
    // Both outcomes occur often, and every class of failure is exercised.
    expect(stats.ok).toBeGreaterThan(ITERATIONS / 10);
    expect(stats.codes[WireErrorCode.TRUNCATED]).toBeGreaterThan(1000);
    expect(stats.codes[WireErrorCode.BAD_VERSION]).toBeGreaterThan(1000);
    expect(stats.codes[WireErrorCode.BAD_TYPE]).toBeGreaterThan(1000);
    expect(stats.codes[WireErrorCode.BAD_LENGTH]).toBeGreaterThan(10);
  });
});
