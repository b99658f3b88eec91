// FdPoller: uv_poll readiness → read every ready frame/datagram into the JS slab → one JS call per batch.
#include "poller.h"

#include <string.h>
#include <unistd.h>

#include <atomic>

#include "errors.h"
#include "fastpath.h"
#include "snrelay.h"

namespace tsn2n {

namespace {
// Touched only on the JS thread of the environment(s) that load the addon; atomics for worker threads.
std::atomic<int64_t> gLive{0};

Napi::Value LivePollers(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(FdPoller::Live()));
}

// Batches read per readiness event at most (each one JS call) when the slab keeps coming back full.
constexpr int kMaxRoundsPerEvent = 8;

constexpr const char* kUsage =
    "new FdPoller(fd: number, kind: 0 (TAP) | 1 (UDP), slab: Uint8Array, stride: number, headroom: number, "
    "lengths: Uint32Array, addrs: Uint8Array | null, onBatch: (count: number, err: number) => void)";
}

void FdPoller::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "FdPoller",
                                    {
                                        InstanceMethod<&FdPoller::Start>("start"),
                                        InstanceMethod<&FdPoller::Stop>("stop"),
                                        InstanceMethod<&FdPoller::Close>("close"),
                                        InstanceMethod<&FdPoller::SetFastPath>("setFastPath"),
                                        InstanceAccessor<&FdPoller::GetFd>("fd"),
                                        InstanceAccessor<&FdPoller::GetClosed>("closed"),
                                    });
  exports.Set("FdPoller", ctor);
  exports.Set("livePollers", Napi::Function::New(env, LivePollers, "livePollers"));
}

int64_t FdPoller::Live() { return gLive.load(); }

FdPoller::FdPoller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdPoller>(info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, kUsage);
  uint32_t kind = ArgUint(info, 1, kUsage);
  if (fd < 0 || kind > kUdp) ThrowUsage(env, kUsage);
  Slab slab = ArgSlab(info, 2, kUsage);
  if (slab.capacity == 0) ThrowUsage(env, kUsage);
  if (kind == kUdp) {
    Bytes addrs = ArgBytes(info, 6, kUsage);
    if (addrs.length < static_cast<size_t>(slab.capacity) * kAddrStride) ThrowUsage(env, kUsage);
    slab.addrs = addrs.data;
    addrsRef_ = Napi::Reference<Napi::Uint8Array>::New(info[6].As<Napi::Uint8Array>(), 1);
    scratch_.Resize(slab.capacity);
  } else if (info.Length() <= 6 || !info[6].IsNull()) {
    ThrowUsage(env, kUsage);
  }
  if (info.Length() <= 7 || !info[7].IsFunction()) ThrowUsage(env, kUsage);

  // The references keep the slab's memory alive for as long as the poller may write into it.
  slabRef_ = Napi::Reference<Napi::Uint8Array>::New(info[2].As<Napi::Uint8Array>(), 1);
  lengthsRef_ = Napi::Reference<Napi::Uint32Array>::New(info[5].As<Napi::Uint32Array>(), 1);
  callback_ = Napi::Persistent(info[7].As<Napi::Function>());
  async_ = new Napi::AsyncContext(env, "tsn2n:FdPoller");
  slab_ = slab;
  kind_ = static_cast<Kind>(kind);

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, fd);
  if (rc < 0) {
    delete poll_;
    poll_ = nullptr;
    ThrowErrno(env, -rc, std::string("cannot poll fd: ") + uv_strerror(rc), "uv_poll_init");
  }
  poll_->data = this;
  // The poller owns the fd from here on and closes it in Close().
  fd_ = fd;
  // Counted only once fully constructed: a constructor that throws never runs the destructor.
  gLive++;
}

FdPoller::~FdPoller() {
  // Reached only when JS dropped the object without close(): never while polling (Start holds a reference).
  Shutdown();
  delete async_;
  gLive--;
}

Napi::Value FdPoller::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) ThrowErrno(env, EBADF, "the poller is closed", "uv_poll_start");
  if (!polling_) {
    int rc = uv_poll_start(poll_, UV_READABLE, OnPoll);
    if (rc < 0) ThrowErrno(env, -rc, std::string("cannot poll fd: ") + uv_strerror(rc), "uv_poll_start");
    polling_ = true;
    // While polling, the JS object must stay alive even if nothing else refers to it.
    Ref();
  }
  return env.Undefined();
}

Napi::Value FdPoller::Stop(const Napi::CallbackInfo& info) {
  if (polling_) {
    uv_poll_stop(poll_);
    polling_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value FdPoller::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    bool wasPolling = polling_;
    Shutdown();
    if (wasPolling) Unref();
    slabRef_.Reset();
    lengthsRef_.Reset();
    addrsRef_.Reset();
    callback_.Reset();
  }
  return info.Env().Undefined();
}

void FdPoller::Shutdown() {
  if (closed_) return;
  closed_ = true;
  polling_ = false;
  if (poll_ != nullptr) {
    // uv_close stops the watcher at once (and forgets pending events for the fd), so the fd can be closed now;
    // the handle memory is freed in the close callback, after libuv is done with it.
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    ForgetOffloads(fd_);
    close(fd_);
    fd_ = -1;
  }
}

Napi::Value FdPoller::SetFastPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "setFastPath(taker: FastPath | SnRelay | null)";
  if (info.Length() < 1) ThrowUsage(env, usage);
  if (info[0].IsNull() || info[0].IsUndefined()) {
    fast_ = nullptr;
    fastRef_.Reset();
    return env.Undefined();
  }
  BatchTaker* fast = FastPath::From(env, info[0]);
  if (fast == nullptr) fast = SnRelay::From(env, info[0]);
  if (fast == nullptr) ThrowUsage(env, usage);
  fast_ = fast;
  fastRef_ = Napi::Persistent(info[0].As<Napi::Object>());
  return env.Undefined();
}

Napi::Value FdPoller::GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

Napi::Value FdPoller::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), closed_);
}

void FdPoller::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<FdPoller*>(handle->data);
  if (self == nullptr || self->closed_) return;
  self->Drain(status);
}

void FdPoller::Drain(int status) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  // A full slab means more may be waiting: read again now instead of going back to epoll, up to a bound so
  // one busy fd cannot starve the rest of the event loop. Datagrams already taken from the kernel (a GRO
  // buffer or TSO frame that did not fit the slab) are always handed over before returning: no readiness event
  // would announce them.
  for (int round = 0; (round < kMaxRoundsPerEvent || scratch_.HasPending() || tapScratch_.HasPending()) && !closed_;
       round++) {
    int err = status < 0 ? status : 0;
    uint32_t count = 0;
    if (err == 0) {
      count = kind_ == kTap ? ReadFrames(fd_, slab_, &tapScratch_, &err) : RecvDatagrams(fd_, slab_, &scratch_, &err);
    }
    if (count == 0 && err == 0) return;
    const uint32_t received = count;
    if (fast_ != nullptr && count > 0) {
      // The fast path takes a leading run; the rest moves to the front of the slab for JS, in order.
      const uint32_t taken = kind_ == kUdp ? fast_->RunRx(slab_, count) : fast_->RunTx(slab_, count);
      if (taken > 0 && taken < count) {
        for (uint32_t j = taken; j < count; j++) {
          const size_t from = static_cast<size_t>(j) * slab_.stride;
          const size_t to = static_cast<size_t>(j - taken) * slab_.stride;
          memmove(slab_.base + to + slab_.headroom, slab_.base + from + slab_.headroom, slab_.lengths[j]);
          slab_.lengths[j - taken] = slab_.lengths[j];
          if (slab_.addrs != nullptr) {
            memmove(slab_.addrs + (j - taken) * kAddrStride, slab_.addrs + j * kAddrStride, kAddrStride);
          }
        }
      }
      count -= taken;
    }
    if (count == 0 && err == 0) {
      if (received < slab_.capacity) return;
      continue;
    }
    try {
      callback_.MakeCallback(Value(), {Napi::Number::New(env, count), Napi::Number::New(env, err)}, *async_);
    } catch (const Napi::Error& e) {
      // The handler threw: report it like any uncaught exception instead of losing it in libuv.
      napi_fatal_exception(env, e.Value());
      return;
    }
    if (err != 0 || received < slab_.capacity) return;
  }
}

}  // namespace tsn2n
