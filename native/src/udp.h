// Batched UDP on a non-blocking socket: open/bind, sendmmsg of a slab of datagrams, single sendto.
#pragma once

#include <napi.h>

namespace tsn2n {

void InitUdp(Napi::Env env, Napi::Object exports);

}  // namespace tsn2n
