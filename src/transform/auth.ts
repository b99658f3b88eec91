// User/password authentication (scheme 2) key material and tokens, spec §8.2–§8.4.
//
// auth.c (bin_to_ascii, ascii_to_bin, generate_private_key, generate_public_key,
// generate_shared_secret, bind_private_key_to_username, calculate_dynamic_key),
// edge_utils.c: get_local_auth / handle_remote_auth, sn_utils.c: auth_edge, tools/n2n-keygen.c.
// All 32-byte keys are raw little-endian X25519 values; E_SS / D_SS are single Speck128/128 blocks
// under the first 16 bytes of the shared secret SS.
import { pearsonHash128, pearsonHash128Range, pearsonHash256 } from '../crypto/pearson.js';
import { type SpeckKey, speckDecryptBlock, speckEncryptBlock, speckExpandKey } from '../crypto/speck.js';
import { X25519Error, x25519 } from '../crypto/x25519.js';
import { ConfigError } from '../util/errors.js';
import { COMMUNITY_BYTES } from '../wire/types.js';
import { AUTH_TRAILER_BYTES, DYNAMIC_KEY_BYTES } from './header.js';

/** N2N_PRIVATE_PUBLIC_KEY_SIZE. */
export const AUTH_KEY_BYTES = 32;
/** N2N_AUTH_CHALLENGE_SIZE (also the size of the dynamic key and of one Speck block). */
export const AUTH_CHALLENGE_BYTES = 16;
/** N2N_AUTH_PW_TOKEN_SIZE: public key (32) + encrypted challenge (16). */
export const AUTH_PW_TOKEN_BYTES = AUTH_KEY_BYTES + AUTH_CHALLENGE_BYTES;
/** The 64-character alphabet of ASCII keys (auth.c: b2a), index = 6-bit value. */
export const AUTH_KEY_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+-';
/** Length of a 32-byte key in ASCII: ceil(256 / 6). */
export const AUTH_KEY_ASCII_CHARS = 43;
/** FEDERATION_NAME default of the supernode (`-F`); the leading '*' marks federation communities. */
export const DEFAULT_FEDERATION_NAME = '*Federation';
export const FEDERATION_PREFIX = '*';

const BITS_PER_CHAR = 6;
const BITS_PER_BYTE = 8;
const LOW6 = 0x3f;

/**
 * n2n's X25519 base point G' (auth.c: generate_public_key): 31 zero bytes then 9, i.e. u = 9·2^248
 * mod p. It is NOT the RFC 7748 base point (byte 0 = 9).
 */
export const N2N_BASE_POINT: Uint8Array = (() => {
  const g = new Uint8Array(AUTH_KEY_BYTES);
  g[AUTH_KEY_BYTES - 1] = 9;
  return g;
})();

const textEncoder = new TextEncoder();
const DECODE: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < AUTH_KEY_ALPHABET.length; i++) t[AUTH_KEY_ALPHABET.charCodeAt(i)] = i;
  return t;
})();

function bytesOf(s: string | Uint8Array): Uint8Array {
  return typeof s === 'string' ? textEncoder.encode(s) : s;
}

/** Binary to n2n's 6-bit ASCII: MSB first, the last group zero-padded (auth.c: bin_to_ascii). */
export function binToAscii(bin: Uint8Array): string {
  const totalBits = bin.length * BITS_PER_BYTE;
  let out = '';
  for (let bit = 0; bit < totalBits; bit += BITS_PER_CHAR) {
    const i = bit >>> 3;
    // Two bytes in a 16-bit window, then the 6 bits starting at `bit`.
    const window = (bin[i] << 8) | (i + 1 < bin.length ? bin[i + 1] : 0);
    out += AUTH_KEY_ALPHABET[(window >>> (16 - BITS_PER_CHAR - (bit & 7))) & LOW6];
  }
  return out;
}

/**
 * n2n's 6-bit ASCII back to binary (auth.c: ascii_to_bin): floor(6·n / 8) bytes; surplus bits at
 * the end are ignored. The result is zero-filled up to `outLen` bytes (C decodes into a 32-byte
 * key buffer). Characters outside the alphabet are rejected with ConfigError (C would silently
 * decode garbage for them).
 */
export function asciiToBin(
  text: string,
  outLen = Math.floor((text.length * BITS_PER_CHAR) / BITS_PER_BYTE),
): Uint8Array {
  const decodedLen = Math.floor((text.length * BITS_PER_CHAR) / BITS_PER_BYTE);
  if (decodedLen > outLen) {
    throw new ConfigError(`key text of ${text.length} characters does not fit ${outLen} bytes`);
  }
  const out = new Uint8Array(outLen);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < DECODE.length ? DECODE[c] : -1;
    if (v < 0) throw new ConfigError(`invalid character ${JSON.stringify(text[i])} in key text`);
    acc = ((acc << BITS_PER_CHAR) | v) & 0xfff;
    bits += BITS_PER_CHAR;
    if (bits >= BITS_PER_BYTE) {
      bits -= BITS_PER_BYTE;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

/** A 43-character ASCII public key (`-P`, community-file user lines) as 32 bytes. */
export function publicKeyFromAscii(text: string): Uint8Array {
  if (text.length !== AUTH_KEY_ASCII_CHARS) {
    throw new ConfigError(`public key must be ${AUTH_KEY_ASCII_CHARS} characters, got ${text.length}`);
  }
  return asciiToBin(text, AUTH_KEY_BYTES);
}

/** H256(H256(secret)) (auth.c: generate_private_key); the string's UTF-8 bytes, no terminator. */
export function generatePrivateKey(secret: string | Uint8Array): Uint8Array {
  const k = pearsonHash256(bytesOf(secret));
  return pearsonHash256(k, k);
}

/** priv ^= H256(username), in place; returns priv (auth.c: bind_private_key_to_username). */
export function bindPrivateKeyToUsername(priv: Uint8Array, username: string | Uint8Array): Uint8Array {
  const h = pearsonHash256(bytesOf(username));
  for (let i = 0; i < AUTH_KEY_BYTES; i++) priv[i] ^= h[i];
  return priv;
}

/**
 * priv_user = H256(H256(password)) XOR H256(username). The C edge binds to its device
 * description, so pass the user name as it ends up in the 16-byte desc field (≤ 15 bytes).
 */
export function userPrivateKey(username: string | Uint8Array, password: string | Uint8Array): Uint8Array {
  return bindPrivateKeyToUsername(generatePrivateKey(password), username);
}

/** pub = X25519(priv, G') (auth.c: generate_public_key). */
export function generatePublicKey(priv: Uint8Array): Uint8Array {
  return x25519(priv, N2N_BASE_POINT);
}

/** The federation name without its leading '*' (what the key is made from). */
function bareFederationName(name: string | Uint8Array): Uint8Array {
  const b = bytesOf(name);
  return b.length > 0 && b[0] === FEDERATION_PREFIX.charCodeAt(0) ? b.subarray(1) : b;
}

/** priv_fed = H256(H256(name without '*')) (sn_utils.c: calculate_shared_secrets; n2n-keygen -F). */
export function federationPrivateKey(federationName: string | Uint8Array): Uint8Array {
  return generatePrivateKey(bareFederationName(federationName));
}

/** pub_fed, the edge's `-P` value in binary. */
export function federationPublicKey(federationName: string | Uint8Array): Uint8Array {
  return generatePublicKey(federationPrivateKey(federationName));
}

/**
 * SS = H256(X25519(priv, pub)) (auth.c: generate_shared_secret). A public key of small order
 * (X25519 result all zero) is refused with ConfigError: such keys only come from configuration.
 */
export function generateSharedSecret(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  let dh: Uint8Array;
  try {
    dh = x25519(priv, pub);
  } catch (e) {
    if (e instanceof X25519Error)
      throw new ConfigError(`public key ${binToAscii(pub)} is not usable: ${e.message}`);
    throw e;
  }
  return pearsonHash256(dh, dh);
}

/** The shared secret SS with E_SS / D_SS: single Speck128/128 blocks keyed by SS[0..16). */
export class AuthSecret {
  /** SS, 32 bytes. */
  readonly ss: Uint8Array;
  readonly key: SpeckKey;

  constructor(ss: Uint8Array) {
    if (ss.length !== AUTH_KEY_BYTES) throw new RangeError(`shared secret must be ${AUTH_KEY_BYTES} bytes`);
    this.ss = ss;
    this.key = speckExpandKey(ss, 0, AUTH_CHALLENGE_BYTES);
  }

  /** E_SS on buf[off, off+16) in place. */
  encrypt(buf: Uint8Array, off = 0): void {
    speckEncryptBlock(this.key, buf, off);
  }

  /** D_SS on buf[off, off+16) in place. */
  decrypt(buf: Uint8Array, off = 0): void {
    speckDecryptBlock(this.key, buf, off);
  }
}

function check(v: Uint8Array, off: number, n: number, what: string): void {
  if (!(off >= 0 && off + n <= v.length))
    throw new RangeError(`${what}: need ${n} bytes at ${off}, have ${v.length}`);
}

function checkField(v: Uint8Array, n: number, what: string): void {
  if (v.length !== n) throw new RangeError(`${what} must be ${n} bytes, got ${v.length}`);
}

/**
 * Dynamic key DK = E_K(H128³(LE32(keyTime))) with K = H128³(C20_comm) XOR H128³(C20_fed)
 * (auth.c: calculate_dynamic_key). Both names are the 20-byte zero-padded fields; the federation
 * name keeps its '*'. key_time is hashed as its 4 little-endian bytes (C hashes the variable).
 */
export function dynamicKey(keyTime: number, community20: Uint8Array, federation20: Uint8Array): Uint8Array {
  checkField(community20, COMMUNITY_BYTES, 'community field');
  checkField(federation20, COMMUNITY_BYTES, 'federation field');
  const k = pearsonHash128(community20);
  pearsonHash128(k, k);
  pearsonHash128(k, k);
  const f = pearsonHash128(federation20);
  pearsonHash128(f, f);
  pearsonHash128(f, f);
  for (let i = 0; i < AUTH_CHALLENGE_BYTES; i++) k[i] ^= f[i];
  const t = new Uint8Array(4);
  new DataView(t.buffer).setUint32(0, keyTime >>> 0, true);
  const dk = pearsonHash128(t);
  pearsonHash128(dk, dk);
  pearsonHash128(dk, dk);
  speckEncryptBlock(speckExpandKey(k), dk, 0);
  return dk;
}

/**
 * REGISTER_SUPER / UNREGISTER_SUPER token of an edge (edge_utils.c: get_local_auth):
 * pub_user (32) || E_SS(challenge) (16). Writes 48 bytes to out[outOff..] and returns `out`.
 * The caller keeps `challenge` to check the answer.
 */
export function buildRegisterSuperToken(
  pubUser: Uint8Array,
  challenge: Uint8Array,
  secret: AuthSecret,
  out: Uint8Array = new Uint8Array(AUTH_PW_TOKEN_BYTES),
  outOff = 0,
): Uint8Array {
  checkField(pubUser, AUTH_KEY_BYTES, 'public key');
  checkField(challenge, AUTH_CHALLENGE_BYTES, 'challenge');
  check(out, outOff, AUTH_PW_TOKEN_BYTES, 'token output');
  out.set(pubUser, outOff);
  out.set(challenge, outOff + AUTH_KEY_BYTES);
  secret.encrypt(out, outOff + AUTH_KEY_BYTES);
  return out;
}

/**
 * The public key inside a received scheme-2 token (token[off, off+32)) in ASCII form: the
 * supernode finds the user by it (sn_utils.c: auth_edge looks users up by public key only).
 */
export function tokenPublicKeyAscii(token: Uint8Array, off = 0): string {
  check(token, off, AUTH_KEY_BYTES, 'token');
  return binToAscii(token.subarray(off, off + AUTH_KEY_BYTES));
}

/**
 * The supernode's answer token for REGISTER_SUPER_ACK (sn_utils.c: auth_edge), from the received
 * 48-byte token at received[recvOff..]: E_SS(token[32..48)) || token[16..32) ||
 * E_SS(D_SS(token[32..48)) XOR DK XOR SS[0..16)). `secret` is the user's (found by token[0..32)).
 */
export function buildAckToken(
  received: Uint8Array,
  recvOff: number,
  dk: Uint8Array,
  secret: AuthSecret,
  out: Uint8Array = new Uint8Array(AUTH_PW_TOKEN_BYTES),
  outOff = 0,
): Uint8Array {
  check(received, recvOff, AUTH_PW_TOKEN_BYTES, 'received token');
  checkField(dk, DYNAMIC_KEY_BYTES, 'dynamic key');
  check(out, outOff, AUTH_PW_TOKEN_BYTES, 'token output');
  const enc = received.slice(recvOff + AUTH_KEY_BYTES, recvOff + AUTH_PW_TOKEN_BYTES);
  const wrapped = enc.slice();
  out.set(
    received.subarray(recvOff + AUTH_CHALLENGE_BYTES, recvOff + AUTH_KEY_BYTES),
    outOff + AUTH_CHALLENGE_BYTES,
  );
  secret.encrypt(enc, 0);
  out.set(enc, outOff);
  secret.decrypt(wrapped, 0);
  for (let i = 0; i < AUTH_CHALLENGE_BYTES; i++) wrapped[i] ^= dk[i] ^ secret.ss[i];
  secret.encrypt(wrapped, 0);
  out.set(wrapped, outOff + AUTH_KEY_BYTES);
  return out;
}

/**
 * The edge's check of the answer token (edge_utils.c: handle_remote_auth): D_SS(D_SS(token[0..16)))
 * must equal the challenge sent; then DK = D_SS(token[32..48)) XOR challenge XOR SS[0..16) is
 * written to outDk. Returns false (outDk untouched) if the challenge does not match.
 */
export function openAckToken(
  token: Uint8Array,
  tokenOff: number,
  challenge: Uint8Array,
  secret: AuthSecret,
  outDk: Uint8Array,
): boolean {
  check(token, tokenOff, AUTH_PW_TOKEN_BYTES, 'answer token');
  checkField(challenge, AUTH_CHALLENGE_BYTES, 'challenge');
  checkField(outDk, DYNAMIC_KEY_BYTES, 'dynamic key output');
  const echo = token.slice(tokenOff, tokenOff + AUTH_CHALLENGE_BYTES);
  secret.decrypt(echo, 0);
  secret.decrypt(echo, 0);
  let diff = 0;
  for (let i = 0; i < AUTH_CHALLENGE_BYTES; i++) diff |= echo[i] ^ challenge[i];
  if (diff !== 0) return false;
  const wrapped = token.slice(tokenOff + AUTH_KEY_BYTES, tokenOff + AUTH_PW_TOKEN_BYTES);
  secret.decrypt(wrapped, 0);
  for (let i = 0; i < AUTH_CHALLENGE_BYTES; i++) outDk[i] = wrapped[i] ^ challenge[i] ^ secret.ss[i];
  return true;
}

/**
 * The 16-byte user/password trailer E_SS(H128(buf[off, off+len))) over the *encrypted* datagram,
 * written to out[outOff..] (normally right after the datagram: outOff = off + len).
 */
export function computeTrailer(
  buf: Uint8Array,
  off: number,
  len: number,
  secret: AuthSecret,
  out: Uint8Array = new Uint8Array(AUTH_TRAILER_BYTES),
  outOff = 0,
): Uint8Array {
  check(out, outOff, AUTH_TRAILER_BYTES, 'trailer output');
  pearsonHash128Range(buf, off, len, out, outOff);
  secret.encrypt(out, outOff);
  return out;
}

/**
 * Checks a received trailer at trailer[trailerOff..] against H128 of the first n − 16 received
 * bytes, as computed before decryption (decryptHeaderTryKeys' `trailerHash`).
 */
export function checkTrailer(
  hash128: Uint8Array,
  trailer: Uint8Array,
  trailerOff: number,
  secret: AuthSecret,
): boolean {
  checkField(hash128, AUTH_TRAILER_BYTES, 'trailer hash');
  check(trailer, trailerOff, AUTH_TRAILER_BYTES, 'trailer');
  const expected = hash128.slice();
  secret.encrypt(expected, 0);
  let diff = 0;
  for (let i = 0; i < AUTH_TRAILER_BYTES; i++) diff |= expected[i] ^ trailer[trailerOff + i];
  return diff === 0;
}
