// Entry point of tsn2n_io.node: registers the TAP, frame, poller, UDP, cipher-core, header-encryption and notify functions. No protocol.
#include <napi.h>

#include "crypto.h"
#include "fastpath.h"
#include "frames.h"
#include "header.h"
#include "netif.h"
#include "notify.h"
#include "poller.h"
#include "snrelay.h"
#include "udp.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tsn2n::InitNetif(env, exports);
  tsn2n::InitFrames(env, exports);
  tsn2n::InitUdp(env, exports);
  tsn2n::FdPoller::Init(env, exports);
  tsn2n::InitCrypto(env, exports);
  tsn2n::InitHeader(env, exports);
  tsn2n::FastPath::Init(env, exports);
  tsn2n::SnRelay::Init(env, exports);
  tsn2n::InitNotify(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tsn2n_io, Init)
