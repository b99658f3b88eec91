// FdPoller: owns a non-blocking fd, waits for readability with uv_poll and hands each batch to JS in one call.
#pragma once

#include <napi.h>
#include <uv.h>

#include "batchtaker.h"
#include "frames.h"
#include "tapoffload.h"

namespace tsn2n {

class FdPoller : public Napi::ObjectWrap<FdPoller> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // FdPoller objects alive (constructed, not yet finalized), for leak checks.
  static int64_t Live();
  explicit FdPoller(const Napi::CallbackInfo& info);
  ~FdPoller() override;
  FdPoller(const FdPoller&) = delete;
  FdPoller& operator=(const FdPoller&) = delete;

 private:
  // What a readable fd holds: TAP frames (one per read) or UDP datagrams (recvmmsg).
  enum Kind { kTap = 0, kUdp = 1 };

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // setFastPath(taker | null): the poller first offers each batch to the edge's native fast path (fastpath.h) or
  // the supernode's native relay (snrelay.h).
  Napi::Value SetFastPath(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  void Drain(int status);
  void Shutdown();

  int fd_ = -1;
  Kind kind_ = kTap;
  Slab slab_;
  MsgScratch scratch_;
  TapScratch tapScratch_;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  bool closed_ = false;
  Napi::Reference<Napi::Uint8Array> slabRef_;
  Napi::Reference<Napi::Uint32Array> lengthsRef_;
  Napi::Reference<Napi::Uint8Array> addrsRef_;
  Napi::FunctionReference callback_;
  BatchTaker* fast_ = nullptr;
  Napi::ObjectReference fastRef_;
  Napi::AsyncContext* async_ = nullptr;
};

}  // namespace tsn2n
