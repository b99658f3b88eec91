// Scheme-2 auth key material and tokens against upstream tests-auth/-elliptic and spec §15.5.
import { diffieHellman, generateKeyPairSync } from 'node:crypto';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pearsonHash64Bytes, pearsonHash128 } from '../../src/crypto/pearson.js';
import { X25519Error, x25519 } from '../../src/crypto/x25519.js';
import {
  AuthSecret,
  asciiToBin,
  binToAscii,
  buildAckToken,
  buildRegisterSuperToken,
  checkTrailer,
  computeTrailer,
  dynamicKey,
  federationPrivateKey,
  federationPublicKey,
  generatePrivateKey,
  generatePublicKey,
  generateSharedSecret,
  N2N_BASE_POINT,
  openAckToken,
  publicKeyFromAscii,
  tokenPublicKeyAscii,
  userPrivateKey,
} from '../../src/transform/auth.js';
import { dynamicHeaderKeys, staticHeaderKeys } from '../../src/transform/header.js';
import { ConfigError } from '../../src/util/errors.js';
import { SeededRandom } from '../../src/util/random.js';
import { readExpectedSections } from './helpers/expected.js';

import { VECTORS } from './helpers/vectors.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const field20 = (s: string): Uint8Array => {
  const f = new Uint8Array(20);
  f.set(new TextEncoder().encode(s));
  return f;
};

// RFC 7748 X25519 with BigInt, the reference for node:crypto with arbitrary u-coordinates.
const P = 2n ** 255n - 19n;
const A24 = 121665n;
const modp = (a: bigint): bigint => ((a % P) + P) % P;
function powmod(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = modp(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}
function leToBig(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}
function bigToLe(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}
function x25519Ref(scalar: Uint8Array, u: Uint8Array): Uint8Array {
  const k = scalar.slice();
  k[0] &= 248;
  k[31] &= 127;
  k[31] |= 64;
  const kk = leToBig(k);
  const uu = u.slice();
  uu[31] &= 127;
  const x1 = modp(leToBig(uu));
  let x2 = 1n;
  let z2 = 0n;
  let x3 = x1;
  let z3 = 1n;
  let swap = 0n;
  for (let t = 254n; t >= 0n; t--) {
    const kt = (kk >> t) & 1n;
    swap ^= kt;
    if (swap) [x2, x3, z2, z3] = [x3, x2, z3, z2];
    swap = kt;
    const a = modp(x2 + z2);
    const aa = (a * a) % P;
    const b = modp(x2 - z2);
    const bb = (b * b) % P;
    const e = modp(aa - bb);
    const c = modp(x3 + z3);
    const d = modp(x3 - z3);
    const da = (d * a) % P;
    const cb = (c * b) % P;
    x3 = modp((da + cb) * (da + cb));
    z3 = modp(x1 * modp((da - cb) * (da - cb)));
    x2 = (aa * bb) % P;
    z2 = modp(e * (aa + A24 * e));
  }
  if (swap) [x2, x3, z2, z3] = [x3, x2, z3, z2];
  return bigToLe(modp(x2 * powmod(z2, P - 2n)));
}

describe('x25519 (node:crypto with arbitrary u)', () => {
  it('RFC 7748 §5.2 vector', () => {
    const k = unhex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4');
    const u = unhex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c');
    const want = 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552';
    expect(hex(x25519(k, u))).toBe(want);
    expect(hex(x25519Ref(k, u))).toBe(want);
  });

  it("upstream tests-elliptic.expected: key 0x55.., input G'", () => {
    const s = readExpectedSections(resolve(VECTORS, 'upstream-tests/tests-elliptic.expected'));
    const input = s.get('environment: input')!;
    expect(hex(input)).toBe(hex(N2N_BASE_POINT));
    const key = s.get('environment: key')!;
    const out = s.get('curve25519: output')!;
    expect(hex(x25519(key, input))).toBe(hex(out));
    expect(hex(x25519Ref(key, input))).toBe(hex(out));
  });

  it('agrees with the BigInt ladder for random scalars and u-coordinates (incl. top bit set)', () => {
    const rnd = new SeededRandom(99);
    for (let i = 0; i < 12; i++) {
      const k = new Uint8Array(32);
      const u = new Uint8Array(32);
      rnd.fill(k);
      rnd.fill(u);
      expect(hex(x25519(k, u))).toBe(hex(x25519Ref(k, u)));
    }
  });

  it('writes at an offset and agrees with node key pairs', () => {
    const a = generateKeyPairSync('x25519');
    const b = generateKeyPairSync('x25519');
    const aPriv = new Uint8Array(Buffer.from(a.privateKey.export({ format: 'jwk' }).d!, 'base64url'));
    const bPub = new Uint8Array(Buffer.from(b.publicKey.export({ format: 'jwk' }).x!, 'base64url'));
    const out = new Uint8Array(40);
    x25519(aPriv, bPub, out, 5);
    expect(hex(out.subarray(5, 37))).toBe(
      hex(diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey })),
    );
  });

  it('refuses a small-order point with X25519Error and bad sizes with RangeError', () => {
    const zero = new Uint8Array(32);
    expect(() => x25519(new Uint8Array(32).fill(1), zero)).toThrow(X25519Error);
    expect(() => x25519(new Uint8Array(31), zero)).toThrow(RangeError);
  });
});

describe('ASCII keys', () => {
  it('upstream tests-auth.expected: bin_to_ascii / ascii_to_bin of 00..0f', () => {
    const file = resolve(VECTORS, 'upstream-tests/tests-auth.expected');
    const s = readExpectedSections(file);
    const input = s.get('bin_to_ascii: input size = 0x10')!;
    expect(binToAscii(input)).toBe('00420mG51WS82GeB30qE3m');
    const back = s.get('ascii_to_bin: output')!;
    expect(back.length).toBe(32);
    expect(hex(asciiToBin('00420mG51WS82GeB30qE3m', 32))).toBe(hex(back));
    expect(hex(asciiToBin('00420mG51WS82GeB30qE3m'))).toBe(hex(input));
  });

  it('upstream tests-auth.expected: private, public key and shared secret', () => {
    const s = readExpectedSections(resolve(VECTORS, 'upstream-tests/tests-auth.expected'));
    const prv = generatePrivateKey('00420mG51WS82GeB30qE3m');
    expect(hex(prv)).toBe(hex(s.get('generate_private_key: output')!));
    const pub = generatePublicKey(prv);
    expect(hex(pub)).toBe(hex(s.get('generate_public_key: output')!));
    expect(hex(generateSharedSecret(prv, pub))).toBe(hex(s.get('generate_shared_secret: output')!));
  });

  it('round-trips random 32-byte keys through 43 characters', () => {
    const rnd = new SeededRandom(5);
    for (let i = 0; i < 50; i++) {
      const k = new Uint8Array(32);
      rnd.fill(k);
      const a = binToAscii(k);
      expect(a).toHaveLength(43);
      expect(a).toMatch(/^[0-9A-Za-z+-]{43}$/);
      expect(hex(publicKeyFromAscii(a))).toBe(hex(k));
    }
  });

  it('rejects characters outside the alphabet and wrong lengths with ConfigError', () => {
    expect(() => asciiToBin('abc!')).toThrow(ConfigError);
    expect(() => asciiToBin('abc=')).toThrow(ConfigError);
    expect(() => asciiToBin('ab\u00e9d')).toThrow(ConfigError);
    expect(() => publicKeyFromAscii('nHWum+r42k1qDXdIeH-WFKeylK5UyLStRzxofRNAgp')).toThrow(ConfigError);
    expect(() => asciiToBin('0'.repeat(44), 32)).toThrow(ConfigError);
  });
});

describe('spec §15.5', () => {
  const priv = userPrivateKey('logan', '007');
  const pubUser = generatePublicKey(priv);
  const privFed = federationPrivateKey('secretFed');
  const pubFed = generatePublicKey(privFed);
  const ss = generateSharedSecret(priv, pubFed);
  const secret = new AuthSecret(ss);
  const dk = dynamicKey(1650000000, field20('netleo'), field20('*secretFed'));
  const challenge = unhex('303132333435363738393a3b3c3d3e3f');

  it('user key pair logan/007', () => {
    expect(hex(generatePrivateKey('007'))).toBe(
      '477457e5c08244f3234a252295b667e59abbbf6a04fc5aeafd5711a46b4aca65',
    );
    expect(hex(priv)).toBe('43d321c4c9dc4dff29b3f311e13ecb30fe397463cad2daf17ffc11442d4f9b74');
    expect(hex(pubUser)).toBe('c51838c3ed440ae0743619d2a11fe03d4a3cbd415ef157376fdef2a5b5caab34');
    expect(binToAscii(pubUser)).toBe('nHWum+r42k1qDXdIeH-WFKeylK5UyLStRzxofRNAgpG');
    expect(hex(publicKeyFromAscii('nHWum+r42k1qDXdIeH-WFKeylK5UyLStRzxofRNAgpG'))).toBe(hex(pubUser));
  });

  it('federation keys', () => {
    expect(hex(privFed)).toBe('35d7b32d00364aae91b72e771cf7c7e9f91435d094cf04f6096bba36159596bd');
    expect(hex(federationPrivateKey('*secretFed'))).toBe(hex(privFed));
    expect(hex(pubFed)).toBe('cb34bc920ae0b545537176115f3531430a2fad181bd2ec221732bb1ef94d4731');
    expect(binToAscii(pubFed)).toBe('opIyaWhWjKLJSNOHNpKnGmelhHWRqkmY5pAx7lbDHp4');
    expect(binToAscii(federationPublicKey('*Federation'))).toBe(
      'i0IuBFO0RC22m2Ya32uUUFUA2yfQSwsxVZ3-S5F2k7O',
    );
    expect(binToAscii(federationPublicKey('Federation'))).toBe('i0IuBFO0RC22m2Ya32uUUFUA2yfQSwsxVZ3-S5F2k7O');
  });

  it('shared secret is the same on both sides', () => {
    expect(hex(ss)).toBe('afb77be45c0a34a0aa216cef3936644eebabd8dc44301147fe89b9fd7fb8c6b0');
    expect(hex(generateSharedSecret(privFed, pubUser))).toBe(hex(ss));
  });

  it('dynamic key and the dynamic header keys (§8.4)', () => {
    expect(hex(dk)).toBe('3517e3bbb26859d129cd685f382a2fb5');
    const keys = dynamicHeaderKeys(dk);
    expect(hex(keys.kh)).toBe('11c980c927afd2acc5c7b270d85259fa');
    expect(hex(keys.kiv)).toBe('9b6468ad70c39f68093f835bdcf63efe');
    // key_time is hashed as LE32: the byte-swapped time (= hashing BE32 of 1650000000) gives another key.
    expect(hex(dynamicKey(0x80005962, field20('netleo'), field20('*secretFed')))).not.toBe(hex(dk));
    expect(() => dynamicKey(1, new Uint8Array(19), field20('*x'))).toThrow(RangeError);
  });

  it('REGISTER_SUPER token, ACK answer token, and the edge unwrapping DK', () => {
    const token = buildRegisterSuperToken(pubUser, challenge, secret);
    expect(hex(token)).toBe(
      'c51838c3ed440ae0743619d2a11fe03d4a3cbd415ef157376fdef2a5b5caab34' + '0f7411d12aaa39f996d34e2ef4d0a55d',
    );
    // The supernode side, from the received token at an offset in a datagram buffer.
    const datagram = new Uint8Array(60);
    datagram.set(token, 7);
    expect(tokenPublicKeyAscii(datagram, 7)).toBe('nHWum+r42k1qDXdIeH-WFKeylK5UyLStRzxofRNAgpG');
    const serverSecret = new AuthSecret(generateSharedSecret(privFed, pubUser));
    const answer = new Uint8Array(50);
    buildAckToken(datagram, 7, dk, serverSecret, answer, 2);
    expect(hex(answer.subarray(2, 50))).toBe(
      '6888cdd5b7ccd44526eb24ce8eec7b94' +
        '4a3cbd415ef157376fdef2a5b5caab34' +
        '72825cf4e1ad5256b19f1ae746ee80cc',
    );
    const got = new Uint8Array(16);
    expect(openAckToken(answer, 2, challenge, secret, got)).toBe(true);
    expect(hex(got)).toBe(hex(dk));
    // A different challenge (e.g. an older one) is refused and leaves the output alone.
    const other = challenge.slice();
    other[0] ^= 1;
    const untouched = new Uint8Array(16).fill(0xcc);
    expect(openAckToken(answer, 2, other, secret, untouched)).toBe(false);
    expect(untouched.every((b) => b === 0xcc)).toBe(true);
  });

  it('trailer E_SS(H128(bytes)) computed by the sender verifies at the receiver', () => {
    const rnd = new SeededRandom(3);
    const buf = new Uint8Array(111 + 16 + 4);
    rnd.fill(buf);
    computeTrailer(buf, 2, 111, secret, buf, 113);
    const expected = pearsonHash128(buf.slice(2, 113));
    secret.encrypt(expected);
    expect(hex(buf.subarray(113, 129))).toBe(hex(expected));
    const h = pearsonHash128(buf.slice(2, 113));
    expect(checkTrailer(h, buf, 113, secret)).toBe(true);
    buf[120] ^= 0x40;
    expect(checkTrailer(h, buf, 113, secret)).toBe(false);
  });

  it('management password hash H64("n2n")', () => {
    expect(hex(pearsonHash64Bytes(new TextEncoder().encode('n2n')))).toBe('0c3cc37678291925');
  });

  it('static header keys of "netleo" (§15.4)', () => {
    const k = staticHeaderKeys(field20('netleo'));
    expect(hex(k.kh)).toBe('232fa95ad415b73f375b1eb45eb10bcc');
    expect(hex(k.kiv)).toBe('c87c8376ba81fed584b2c3b431dee779');
  });
});
