// Payload cipher cores for the JS transforms: Speck-CTR and Twofish-CBC in our own C, AES-CBC and ChaCha20 via OpenSSL.
#pragma once

#include <napi.h>

namespace tsn2n {

// Registers cipherKey, cbcEncrypt, cbcDecrypt, streamXor, payloadEncrypt, payloadDecrypt and cryptoInfo on
// `exports`.
void InitCrypto(Napi::Env env, Napi::Object exports);

}  // namespace tsn2n
