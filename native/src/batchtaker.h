// What a poller offers each batch to before JS: the edge's fast path (fastpath.h) or the supernode's relay (snrelay.h).
#pragma once

#include <napi.h>

#include <cstdint>

#include "errors.h"
#include "frames.h"

namespace tsn2n {

// Takes a leading run of a batch (datagrams from a UDP poller, frames from a TAP poller) and returns how many it
// took; the poller hands the rest to JS in order.
class BatchTaker {
 public:
  virtual ~BatchTaker() = default;
  virtual uint32_t RunRx(const Slab& slab, uint32_t count) = 0;
  virtual uint32_t RunTx(const Slab& slab, uint32_t count) = 0;
};

// The native object behind `v` when it carries `tag` (napi_type_tag_object), else nullptr.
template <typename T>
T* UnwrapTagged(napi_env env, napi_value v, const napi_type_tag* tag) {
  bool tagged = false;
  void* data = nullptr;
  if (napi_check_object_type_tag(env, v, tag, &tagged) != napi_ok || !tagged || napi_unwrap(env, v, &data) != napi_ok) {
    return nullptr;
  }
  return static_cast<T*>(data);
}

// A taker's constructor argument: its counters, a Float64Array of at least `min` elements (else a usage error),
// kept alive by `ref`; the object is tagged with `tag` so that the poller can tell takers apart.
inline double* TakerStats(const Napi::CallbackInfo& info, size_t min, const napi_type_tag* tag, const char* usage,
                          Napi::Reference<Napi::Float64Array>* ref, size_t* length) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowUsage(env, usage);
  }
  auto stats = info[0].As<Napi::Float64Array>();
  if (stats.ElementLength() < min) ThrowUsage(env, usage);
  *ref = Napi::Reference<Napi::Float64Array>::New(stats, 1);
  if (napi_type_tag_object(env, info.This(), tag) != napi_ok) ThrowUsage(env, usage);
  *length = stats.ElementLength();
  return stats.Data();
}

}  // namespace tsn2n
