// TAP creation and interface configuration through ioctls (no `ip` subprocess), and network namespace entry.
#pragma once

#include <napi.h>

namespace tsn2n {

void InitNetif(Napi::Env env, Napi::Object exports);

}  // namespace tsn2n
