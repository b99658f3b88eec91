// Header encryption against spec §15.4, every captured 3.1.1 -H datagram, and fuzzed input.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pearsonHash128 } from '../../src/crypto/pearson.js';
import { speckDecryptBlock } from '../../src/crypto/speck.js';
import { AuthSecret, checkTrailer, computeTrailer } from '../../src/transform/auth.js';
import {
  AUTH_TRAILER_BYTES,
  decryptHeader,
  decryptHeaderTryKeys,
  dynamicHeaderKeys,
  encryptHeader,
  HeaderInfo,
  HeaderKeyUsed,
  headerLength,
  staticHeaderKeys,
} from '../../src/transform/header.js';
import { type Stamp, stampFromBigInt, stampToHex } from '../../src/transform/stamp.js';
import { SeededRandom } from '../../src/util/random.js';
import { MsgType } from '../../src/wire/types.js';

import { VECTORS } from './helpers/vectors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const field20 = (s: string): Uint8Array => {
  const f = new Uint8Array(20);
  f.set(new TextEncoder().encode(s));
  return f;
};
/** `data` copied into a larger buffer at `off` with junk around it. */
function placed(data: Uint8Array, off: number, extra = 9): Uint8Array {
  const b = new Uint8Array(off + data.length + extra).fill(0xa5);
  b.set(data, off);
  return b;
}

const MYNET = field20('mynetwork');
const mynetKeys = staticHeaderKeys(MYNET);

// Spec §15.4.
const RS_PLAIN =
  '030200056d796e6574776f726b0000000000000000000000112233440211223344550a00000518686f737431000000000000000000000000010010a0a1a2a3a4a5a6a7a8a9aaabacadaeaf00000000';
const RS_CIPHER =
  '6e28bd767d0415d30fe7d04148a56f74a4995d7944bb7685a7aeefb03cc29bff582a01f6e84b3b6b1321e7c17108c097a642c150e86423d9c48556abc82dd61a68d10afe49710138e86a384a3b1e17';
const PK_CIPHER =
  '8bd083934aa5673f25534f95d15c3e0e9be138dc3318aec3193da6ec0f8c719ad94f1f46971e77bc89520588971f2da9a4e9628ccc22' +
  '3558ddf751f745eb1b204bbe2a804752a8a6c5ac363ced063c11d844870c73112ef71d24fdd1d1e2eae0ea9c1e695bc1146ecd55c06797c54d19f074e40a7c59';
const PK_HEADER = '030200036d796e6574776f726b000000000000000000000002112233445502aabbccddee0105';
const PK_IV = '5c29f64e6a16d438bedb758c08ccecb0';
const PK_PLAIN = PK_HEADER + PK_IV + PK_CIPHER.slice(54 * 2);

describe('header keys', () => {
  it('static keys of "mynetwork" (§7.1, §15.4)', () => {
    expect(hex(mynetKeys.kh)).toBe('f8c756a21311eba6238837933bff2494');
    expect(hex(mynetKeys.kiv)).toBe('535d296b367fedacb02007b9e1e40098');
  });

  it('rejects wrong seed sizes', () => {
    expect(() => staticHeaderKeys(new Uint8Array(19))).toThrow(RangeError);
    expect(() => dynamicHeaderKeys(new Uint8Array(20))).toThrow(RangeError);
  });
});

describe('headerLength (§7.2)', () => {
  it('covers whole control messages, the PACKET header, and in user/password mode the payload IV', () => {
    expect(headerLength(MsgType.REGISTER_SUPER, 79, 0, false)).toBe(79);
    expect(headerLength(MsgType.REGISTER_SUPER, 79, 0, true)).toBe(79);
    expect(headerLength(MsgType.REGISTER_SUPER_ACK, 58, 26, true)).toBe(84);
    expect(headerLength(MsgType.PACKET, 38, 80, false)).toBe(38);
    expect(headerLength(MsgType.PACKET, 46, 80, true)).toBe(62);
    expect(headerLength(MsgType.PACKET, 38, 10, true)).toBe(48);
    expect(headerLength(MsgType.PACKET, 38, 0, true)).toBe(38);
  });
});

describe('spec §15.4 vectors', () => {
  it('REGISTER_SUPER: encrypts byte-exactly and decrypts back, at offsets 0 and 13', () => {
    for (const off of [0, 13]) {
      const plain = unhex(RS_PLAIN);
      const buf = placed(plain, off);
      const before = buf.slice();
      encryptHeader(buf, off, plain.length, 79, stampFromBigInt(0x6300000012345670n), 0x55b277a1, mynetKeys);
      expect(hex(buf.subarray(off, off + plain.length))).toBe(RS_CIPHER);
      expect(hex(buf.subarray(0, off))).toBe(hex(before.subarray(0, off)));
      expect(hex(buf.subarray(off + plain.length))).toBe(hex(before.subarray(off + plain.length)));
      const info = new HeaderInfo();
      expect(decryptHeader(buf, off, plain.length, mynetKeys, MYNET, info)).toBe(true);
      expect(hex(buf)).toBe(hex(before));
      expect(stampToHex(info)).toBe('6300000012345670');
      expect(info.hl).toBe(79);
    }
  });

  it('PACKET, user/password style (hl = 38 + 16): both ways, at offset 3', () => {
    const plain = unhex(PK_PLAIN);
    expect(plain.length).toBe(118);
    const hl = headerLength(MsgType.PACKET, 38, 80, true);
    const buf = placed(plain, 3);
    encryptHeader(buf, 3, 118, hl, stampFromBigInt(0x6300000012345671n), 0xa956872b, mynetKeys);
    expect(hex(buf.subarray(3, 121))).toBe(PK_CIPHER);
    const st: Stamp = { hi: 0, lo: 0 };
    expect(decryptHeader(buf, 3, 118, mynetKeys, MYNET, st)).toBe(true);
    expect(hex(buf.subarray(3, 121))).toBe(PK_PLAIN);
    expect(stampToHex(st)).toBe('6300000012345671');
  });

  it('a wrong community name (magic ok, checksum wrong) fails and leaves the buffer identical', () => {
    const buf = placed(unhex(RS_CIPHER), 5);
    const before = buf.slice();
    const st: Stamp = { hi: 7, lo: 7 };
    expect(decryptHeader(buf, 5, 79, mynetKeys, field20('mynetworX'), st)).toBe(false);
    expect(hex(buf)).toBe(hex(before));
    expect(st).toEqual({ hi: 7, lo: 7 });
    // Wrong keys: fails at the magic.
    expect(decryptHeader(buf, 5, 79, staticHeaderKeys(field20('other')), MYNET, st)).toBe(false);
    expect(hex(buf)).toBe(hex(before));
    // A flipped payload byte breaks the checksum even beyond hl.
    const pk = unhex(PK_CIPHER);
    pk[100] ^= 1;
    const pkBefore = pk.slice();
    expect(decryptHeader(pk, 0, pk.length, mynetKeys, MYNET, st)).toBe(false);
    expect(hex(pk)).toBe(hex(pkBefore));
  });
});

interface Datagram {
  i: number;
  hex: string;
  type: string;
  pc: number;
  decoded: { len: number; he_ok?: boolean; he_stamp?: string; plain_hex?: string; consumed?: number };
}

const heFiles = readdirSync(VECTORS).filter((f) => /^A.*-he(-relay)?\.json$/.test(f));

describe('captured 3.1.1 datagrams with -H (community "goldencomm")', () => {
  const community = field20('goldencomm');
  const keys = staticHeaderKeys(community);

  it('finds the -H capture files', () => {
    expect(heFiles.length).toBeGreaterThanOrEqual(7);
  });

  it.each(heFiles)('%s: every he_ok datagram decrypts to plain_hex and re-encrypts byte-exactly', (file) => {
    const udp = (JSON.parse(readFileSync(resolve(VECTORS, file), 'utf8')) as { udp: Datagram[] }).udp;
    const ok = udp.filter((d) => d.decoded.he_ok);
    expect(ok.length).toBeGreaterThan(10);
    const info = new HeaderInfo();
    for (const d of ok) {
      const wire = unhex(d.hex);
      const n = wire.length;
      const buf = placed(wire, 11);
      expect(decryptHeader(buf, 11, n, keys, community, info), `${file}#${d.i}`).toBe(true);
      expect(hex(buf.subarray(11, 11 + n))).toBe(d.decoded.plain_hex);
      expect(stampToHex(info)).toBe(d.decoded.he_stamp);
      // hl follows §7.2 (no user/password here): PACKET header only, otherwise everything.
      const expectedHl =
        d.pc === MsgType.PACKET ? headerLength(d.pc, d.decoded.consumed!, n - d.decoded.consumed!, false) : n;
      expect(info.hl).toBe(expectedHl);
      // The 4 random bytes: decrypt the captured IV block with Kiv.
      const ivBlock = wire.slice(0, 16);
      speckDecryptBlock(keys.iv, ivBlock, 0);
      const rand32 = new DataView(ivBlock.buffer).getUint32(12, false);
      const again = placed(unhex(d.decoded.plain_hex!), 4);
      encryptHeader(again, 4, n, info.hl, info, rand32, keys);
      expect(hex(again.subarray(4, 4 + n)), `${file}#${d.i}`).toBe(d.hex);
    }
  });
});

describe('decryptHeaderTryKeys (§7.6)', () => {
  const community = field20('netleo');
  const staticKeys = staticHeaderKeys(community);
  const dynKeys = dynamicHeaderKeys(unhex('3517e3bbb26859d129cd685f382a2fb5'));
  const secret = new AuthSecret(unhex('afb77be45c0a34a0aa216cef3936644eebabd8dc44301147fe89b9fd7fb8c6b0'));

  it('user/password REGISTER_SUPER_ACK: static keys on n − 16, trailer hash over the encrypted bytes', () => {
    const rnd = new SeededRandom(11);
    const n = 106 + 26;
    const msg = new Uint8Array(n);
    rnd.fill(msg);
    msg.set([3, 2, 0, 0x27], 0);
    msg.set(community, 4);
    const plain = msg.slice();
    const buf = new Uint8Array(2 + n + AUTH_TRAILER_BYTES);
    buf.set(msg, 2);
    encryptHeader(buf, 2, n, n, stampFromBigInt(0x6300000012345672n), 1234, staticKeys);
    computeTrailer(buf, 2, n, secret, buf, 2 + n);
    const encrypted = buf.slice();
    const trailerHash = new Uint8Array(16);
    const st = new HeaderInfo();
    expect(decryptHeaderTryKeys(buf, 2, n + 16, dynKeys, staticKeys, community, st, trailerHash)).toBe(
      HeaderKeyUsed.STATIC,
    );
    expect(hex(trailerHash)).toBe(hex(pearsonHash128(encrypted.slice(2, 2 + n))));
    expect(checkTrailer(trailerHash, buf, 2 + n, secret)).toBe(true);
    expect(hex(buf.subarray(2, 2 + n))).toBe(hex(plain));
    expect(stampToHex(st)).toBe('6300000012345672');
  });

  it('a PACKET under the dynamic keys decrypts on the first attempt', () => {
    const plain = unhex(PK_PLAIN);
    plain.set(community, 4);
    const buf = plain.slice();
    encryptHeader(buf, 0, buf.length, 54, stampFromBigInt(0x6300000012345673n), 99, dynKeys);
    const st: Stamp = { hi: 0, lo: 0 };
    expect(decryptHeaderTryKeys(buf, 0, buf.length, dynKeys, staticKeys, community, st)).toBe(
      HeaderKeyUsed.DYNAMIC,
    );
    expect(hex(buf)).toBe(hex(plain));
    // The same datagram under the static key only does not decrypt with the dynamic one (user/password rule is the caller's).
    encryptHeader(buf, 0, buf.length, 54, stampFromBigInt(0x6300000012345674n), 99, staticKeys);
    const before = buf.slice();
    expect(decryptHeaderTryKeys(buf, 0, buf.length, dynKeys, dynKeys, community, st)).toBe(
      HeaderKeyUsed.NONE,
    );
    expect(hex(buf)).toBe(hex(before));
  });
});

describe('decryptHeader on hostile input', () => {
  it('100k random and mutated datagrams never throw, return false, and leave the buffer intact', () => {
    const rnd = new SeededRandom(0x5eed);
    const community = field20('goldencomm');
    const keys = staticHeaderKeys(community);
    const seeds = heFiles
      .slice(0, 2)
      .flatMap((f) => (JSON.parse(readFileSync(resolve(VECTORS, f), 'utf8')) as { udp: Datagram[] }).udp)
      .map((d) => unhex(d.hex));
    const st = new HeaderInfo();
    const buf = new Uint8Array(2100);
    let falses = 0;
    for (let iter = 0; iter < 100_000; iter++) {
      let len: number;
      const off = iter % 5;
      if (iter % 2 === 0) {
        // Purely random bytes of a random length (including < 24).
        len = rnd.u32() % 200;
        rnd.fill(buf, off, len);
      } else {
        // A real datagram with one or more random bit flips, or truncated / extended.
        const seed = seeds[rnd.u32() % seeds.length];
        buf.set(seed, off);
        len = seed.length;
        const mode = rnd.u32() % 3;
        if (mode === 0) {
          // 1..3 flips at distinct positions, so they cannot cancel out.
          const flips = 1 + (rnd.u32() % 3);
          const start = rnd.u32() % len;
          for (let f = 0; f < flips; f++) buf[off + ((start + f * 7) % len)] ^= 1 << (rnd.u32() % 8);
        } else if (mode === 1) {
          len = rnd.u32() % len;
        } else {
          const extra = 1 + (rnd.u32() % 20);
          rnd.fill(buf, off + len, extra);
          len += extra;
        }
      }
      const before = buf.slice(0, off + len + 4);
      const ok = decryptHeader(buf, off, len, keys, community, st);
      expect(ok).toBe(false);
      for (let i = 0; i < before.length; i++) {
        if (buf[i] !== before[i]) throw new Error(`buffer changed at ${i} (iteration ${iter})`);
      }
      falses++;
    }
    expect(falses).toBe(100_000);
  });
});
