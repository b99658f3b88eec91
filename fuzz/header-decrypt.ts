// Fuzz target: header decryption with key trying (dynamic, then static), pure TS against the native core.
import { nativeCipherBackend } from '../src/io/crypto-native.js';
import {
  decryptHeader,
  decryptHeaderTryKeys,
  dynamicHeaderKeys,
  encryptHeader,
  HE_MIN_BYTES,
  HeaderInfo,
  HeaderKeyUsed,
  staticHeaderKeys,
} from '../src/transform/header.js';
import { equalBytes } from '../src/util/bytes.js';
import { communityBytes } from '../src/wire/common.js';
import { captures, check, distinct } from './common.js';

// The captures' community (test/vectors/CAPTURES.md), and a fixed dynamic key as a user/password community has.
const COMMUNITY = communityBytes('goldencomm');
const DYNAMIC_KEY = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i);
const TRAILER_HASH_BYTES = 16;
const native = nativeCipherBackend();
if (native === undefined)
  throw new Error('header-decrypt: the native addon is not built (node-gyp rebuild --directory=native)');

const pure = { dyn: dynamicHeaderKeys(DYNAMIC_KEY), stat: staticHeaderKeys(COMMUNITY) };
const fast = { dyn: dynamicHeaderKeys(DYNAMIC_KEY, native), stat: staticHeaderKeys(COMMUNITY, native) };
check(fast.stat.core !== undefined, 'native header core missing');

/** Every header-encrypted datagram captured (-H scenarios). */
export function seeds(): Uint8Array[] {
  return distinct(
    captures()
      .filter((c) => c.headerEncryption)
      .flatMap((c) => c.datagrams.map((d) => d.wire)),
  );
}

const infoTs = new HeaderInfo();
const infoNative = new HeaderInfo();
const hashTs = new Uint8Array(TRAILER_HASH_BYTES);
const hashNative = new Uint8Array(TRAILER_HASH_BYTES);

const COMMUNITY_OFF = 4;
const sealedTs = new Uint8Array(4096);
const sealedNative = new Uint8Array(4096);

/**
 * The same bytes as a plaintext datagram of the community: sealed by TS and native alike, and both open it back
 * (stamp, hl and every byte) — the success path that mutated ciphertext rarely reaches (a 64-bit checksum).
 */
function roundTrip(data: Buffer): void {
  const len = data.length;
  if (len < HE_MIN_BYTES || len > sealedTs.length) return;
  const hl = HE_MIN_BYTES + (data[1] % (len - HE_MIN_BYTES + 1));
  const stamp = { hi: data.readUInt32BE(len - 4), lo: data.readUInt32BE(len - 8) };
  const a = sealedTs.subarray(0, len);
  a.set(data);
  a.set(COMMUNITY, COMMUNITY_OFF);
  const plain = Uint8Array.from(a);
  const b = sealedNative.subarray(0, len);
  b.set(a);
  encryptHeader(a, 0, len, hl, stamp, data[0], pure.stat);
  encryptHeader(b, 0, len, hl, stamp, data[0], fast.stat);
  check(equalBytes(a, b), 'TS and native seal differently');
  check(decryptHeader(a, 0, len, pure.stat, COMMUNITY, infoTs), 'TS cannot open what it sealed');
  check(decryptHeader(b, 0, len, fast.stat, COMMUNITY, infoNative), 'native cannot open what it sealed');
  check(equalBytes(a, plain) && equalBytes(b, plain), 'opening did not restore the plaintext');
  check(infoTs.hi === stamp.hi && infoTs.lo === stamp.lo && infoTs.hl === hl, 'TS: stamp or hl changed');
  check(
    infoNative.hi === stamp.hi && infoNative.lo === stamp.lo && infoNative.hl === hl,
    'native: stamp or hl',
  );
}

/** Never throws; TS and native agree byte for byte; a failed attempt leaves the buffer as it was. */
export function fuzz(data: Buffer): void {
  roundTrip(data);
  const a = Uint8Array.from(data);
  const b = Uint8Array.from(data);
  const usedTs = decryptHeaderTryKeys(a, 0, a.length, pure.dyn, pure.stat, COMMUNITY, infoTs, hashTs);
  const usedNative = decryptHeaderTryKeys(
    b,
    0,
    b.length,
    fast.dyn,
    fast.stat,
    COMMUNITY,
    infoNative,
    hashNative,
  );
  check(usedTs === usedNative, `key used: TS ${usedTs}, native ${usedNative}`);
  check(equalBytes(a, b), 'TS and native plaintexts differ');
  if (a.length >= TRAILER_HASH_BYTES + 4) check(equalBytes(hashTs, hashNative), 'trailer hashes differ');
  if (usedTs === HeaderKeyUsed.NONE) {
    check(equalBytes(a, data), 'a failed decryption changed the buffer');
    return;
  }
  check(infoTs.hi === infoNative.hi && infoTs.lo === infoNative.lo, 'stamps differ');
  check(infoTs.hl === infoNative.hl, 'hl differs');
  check(infoTs.hl <= a.length, 'hl beyond the datagram');
}
