// Payload key derivation from the -k string (spec §5.4): D = H256(P); AES takes D's last 16/24/32 bytes by key length.
//
// P is the exact bytes of the key string, without terminator (edge.c takes argv / N2N_KEY as raw
// bytes; we encode JS strings as UTF-8, which is what a UTF-8 terminal passes to C). Twofish,
// ChaCha20 and Speck use all 32 bytes of D (transform_tf.c, transform_cc20.c, transform_speck.c).
// AES (transform_aes.c: setup_aes_key) picks the key size from strlen(P): >= 33 → 256 bits,
// >= 23 → 192 bits, otherwise 128 bits, and uses the *last* key-size bytes of D.
import { PEARSON_H256_BYTES, pearsonHash256 } from '../crypto/pearson.js';
import { TransformId } from '../wire/types.js';

/** transform_aes.c: key-string lengths (bytes) from which AES-256 / AES-192 are chosen. */
export const AES256_MIN_KEY_STRING_BYTES = 33;
export const AES192_MIN_KEY_STRING_BYTES = 23;

const AES128_KEY_BYTES = 16;
const AES192_KEY_BYTES = 24;
const AES256_KEY_BYTES = 32;

const utf8 = new TextEncoder();

/** The bytes P of a key given as a string (UTF-8) or as bytes (copied). */
export function keyStringBytes(key: string | Uint8Array): Uint8Array {
  return typeof key === 'string' ? utf8.encode(key) : key.slice();
}

/** D = H256(P), the 32-byte key material every cipher starts from. */
export function deriveKeyMaterial(key: string | Uint8Array): Uint8Array {
  return pearsonHash256(keyStringBytes(key), new Uint8Array(PEARSON_H256_BYTES));
}

/** AES key size in bytes (16, 24 or 32) chosen by the length of P. */
export function aesKeyBytesFor(keyStringLength: number): number {
  if (keyStringLength >= AES256_MIN_KEY_STRING_BYTES) return AES256_KEY_BYTES;
  if (keyStringLength >= AES192_MIN_KEY_STRING_BYTES) return AES192_KEY_BYTES;
  return AES128_KEY_BYTES;
}

/** The AES key: the last aesKeyBytesFor(|P|) bytes of H256(P). */
export function deriveAesKey(key: string | Uint8Array): Uint8Array {
  const p = keyStringBytes(key);
  const d = pearsonHash256(p, new Uint8Array(PEARSON_H256_BYTES));
  return d.slice(PEARSON_H256_BYTES - aesKeyBytesFor(p.length));
}

/**
 * The cipher key of a transform: AES as deriveAesKey, Twofish / ChaCha20 / Speck the full H256(P),
 * the null transform none (empty). Throws RangeError for an id without a cipher.
 */
export function deriveTransformKey(id: TransformId, key: string | Uint8Array): Uint8Array {
  switch (id) {
    case TransformId.NULL:
      return new Uint8Array(0);
    case TransformId.AES:
      return deriveAesKey(key);
    case TransformId.TWOFISH:
    case TransformId.CHACHA20:
    case TransformId.SPECK:
      return deriveKeyMaterial(key);
    default:
      throw new RangeError(`no key derivation for transform id ${id}`);
  }
}
