// Payload cipher cores for the JS transforms: Speck-CTR and Twofish-CBC in our own C, AES-CBC and ChaCha20 via OpenSSL.
#pragma once

#include <napi.h>

namespace tsn2n {

// For the native fast path (fastpath.cc): the key behind a cipherKey handle (nullptr if `v` is not one), and
// one payload decrypted with the transforms' framing (in[0, len) → plain[0, len − 16)); false when invalid.
// `plain` must hold 2048 bytes and not overlap `in`.
void* PayloadKeyFrom(napi_env env, napi_value v);
bool PayloadDecryptOne(void* key, const uint8_t* in, size_t len, uint8_t* plain, size_t* plainLen);
// One payload encrypted with the transforms' framing: the 16 bytes `r` (IV or random block) then plain[0, len)
// encrypted, 16 + len bytes at `out` (len <= 2048, no overlap); false when OpenSSL fails.
bool PayloadEncryptOne(void* key, const uint8_t* r, const uint8_t* plain, size_t len, uint8_t* out);

// Whether the key's payloads are encrypted several side by side (PayloadEncryptMany): Twofish, and AES with AES-NI
// (CBC chains are sequential: one payload's blocks wait on each other, several payloads' do not).
bool PayloadLanesKey(void* key);
// Payload i: r[i] (16 bytes) then plain[i][0, len[i]) encrypted, 16 + len[i] bytes at out[i] (len[i] <= 2048;
// out[i] == plain[i] - 16 or apart from every input), for a PayloadLanesKey key; cannot fail.
void PayloadEncryptMany(void* key, const uint8_t* const* r, const uint8_t* const* plain, const size_t* len,
                        uint8_t* const* out, size_t count);

// Registers cipherKey, cbcEncrypt, cbcDecrypt, streamXor, payloadEncrypt, payloadDecrypt and cryptoInfo on
// `exports`.
void InitCrypto(Napi::Env env, Napi::Object exports);

}  // namespace tsn2n
