// Header encryption cores (-H) for src/transform/header.ts: seal and open a datagram's header in one call.
#pragma once

#include <napi.h>

namespace tsn2n {

// Registers headerKey, headerSeal, headerSealBatch, headerOpen and pearson64 on `exports`.
void InitHeader(Napi::Env env, Napi::Object exports);

}  // namespace tsn2n
