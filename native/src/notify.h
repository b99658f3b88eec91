// systemd readiness notification (sd_notify(3)'s protocol) without libsystemd: one datagram to $NOTIFY_SOCKET.
#pragma once

#include <napi.h>

namespace tsn2n {

void InitNotify(Napi::Env env, Napi::Object exports);

}  // namespace tsn2n
