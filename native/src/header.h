// Header encryption cores (-H) for src/transform/header.ts: seal and open a datagram's header in one call.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace tsn2n {

// Registers headerKey, headerSeal, headerSealBatch, headerOpen and pearson64 on `exports`.
void InitHeader(Napi::Env env, Napi::Object exports);

// For the fast path (fastpath.cc): the key behind a headerKey handle (nullptr for anything else), and one
// datagram sealed or opened with it, as headerSeal / headerOpen do.
const void* HeaderKeyFrom(napi_env env, napi_value v);
void HeaderSealOne(const void* key, uint8_t* d, size_t len, size_t hl, uint32_t stampHi, uint32_t stampLo,
                   uint32_t rand);
// true with out = {stamp hi, stamp lo, hl} and the plaintext datagram in place; false with d untouched.
bool HeaderOpenOne(const void* key, uint8_t* d, size_t len, const uint8_t* community, uint32_t* out);
// Which Pearson lanes the batches use: "avx512" or "portable" (cryptoInfo).
const char* HeaderPearsonImpl();
// Datagram i = d[i] of len[i] bytes, i < count, with the checksums and header blocks of up to 32 side by side:
// sealed with hl, stamps {hi, lo} at stamps[2i], rands[i]; or opened, out[4i] = 1 and out[4i+1..3] = {stamp hi,
// lo, hl} (else 0, d[i] untouched) as headerOpenBatch does, except that a header longer than maxHl is not opened.
void HeaderSealMany(const void* key, uint8_t* const* d, const uint32_t* len, size_t hl, const uint32_t* stamps,
                    const uint32_t* rands, size_t count);
void HeaderOpenMany(const void* key, uint8_t* buf, const uint32_t* offs, const uint32_t* lens, size_t count,
                    const uint8_t* community, uint32_t* out, size_t maxHl);

}  // namespace tsn2n
