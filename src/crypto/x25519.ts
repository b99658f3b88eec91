// X25519 scalar multiplication with an arbitrary u-coordinate, on top of node:crypto (RFC 7748).
//
// node:crypto has no raw "scalar × point" call, but Diffie-Hellman between a private key holding
// the scalar and a "public key" holding any u-coordinate is exactly X25519(scalar, u). Scalar
// clamping and masking of the top bit of u are the standard RFC 7748 ones, as in n2n's
// curve25519.c. OpenSSL refuses an all-zero result (u of small order); that is reported as an error.
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';

/** Scalar, u-coordinate and result size in bytes. */
export const X25519_BYTES = 32;

// DER wrappers for raw X25519 keys (RFC 8410): PKCS#8 private key and SPKI public key, OID 1.3.101.110.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** Thrown when X25519 cannot produce a result (all-zero shared secret, key import refused). */
export class X25519Error extends Error {
  readonly code = 'ERR_X25519';
  constructor(message: string) {
    super(message);
    this.name = 'X25519Error';
  }
}

function check(v: Uint8Array, what: string): void {
  if (v.length !== X25519_BYTES) throw new RangeError(`x25519: ${what} must be 32 bytes, got ${v.length}`);
}

function privateKey(scalar: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, scalar]), format: 'der', type: 'pkcs8' });
}

function publicKey(u: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, u]), format: 'der', type: 'spki' });
}

/**
 * X25519(scalar, u): 32-byte little-endian scalar (clamped here) times the 32-byte little-endian
 * u-coordinate. Writes the 32-byte result into out[outOff..] and returns `out`.
 * Throws X25519Error if the result would be all zero (u of small order).
 */
export function x25519(
  scalar: Uint8Array,
  u: Uint8Array,
  out: Uint8Array = new Uint8Array(X25519_BYTES),
  outOff = 0,
): Uint8Array {
  check(scalar, 'scalar');
  check(u, 'u-coordinate');
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: privateKey(scalar), publicKey: publicKey(u) });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new X25519Error(`x25519: no result for this u-coordinate (small-order point?): ${why}`);
  }
  if (shared.length !== X25519_BYTES) {
    throw new X25519Error(`x25519: unexpected result length ${shared.length}`);
  }
  out.set(shared, outOff);
  return out;
}
