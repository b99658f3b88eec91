// Raw N-API argument helpers shared by the hot crypto entry points (crypto.cc, header.cc): no allocation, no throw.
#pragma once

#include <napi.h>
#include <string.h>

#include <cstdint>
#include <string>

namespace tsn2n {

// Offsets and lengths come from JS numbers; anything above this is certainly out of range.
constexpr double kMaxRawIndex = 4294967295.0;

// Throws a TypeError "Usage: …" and returns nullptr (the value an entry point returns after a throw).
inline napi_value ThrowType(napi_env env, const char* usage) {
  napi_throw_type_error(env, nullptr, (std::string("Usage: ") + usage).c_str());
  return nullptr;
}

inline napi_value ThrowRange(napi_env env, const char* what) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", what);
  return nullptr;
}

// A typed array of the given element type: its data and element count. A zero-length view may have no backing
// store; it is never dereferenced then.
template <typename T>
inline bool GetTyped(napi_env env, napi_value v, napi_typedarray_type want, T** data, size_t* len) {
  napi_typedarray_type type;
  size_t length;
  void* ptr;
  napi_value ab;
  size_t byteOffset;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &byteOffset) != napi_ok || type != want) {
    return false;
  }
  *data = static_cast<T*>(ptr);
  *len = length;
  return true;
}

inline bool GetBytes(napi_env env, napi_value v, uint8_t** data, size_t* len) {
  return GetTyped(env, v, napi_uint8_array, data, len);
}

inline bool GetU32s(napi_env env, napi_value v, uint32_t** data, size_t* len) {
  return GetTyped(env, v, napi_uint32_array, data, len);
}

// A whole number in [0, 2^32) (offsets, lengths).
inline bool GetIndex(napi_env env, napi_value v, size_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= kMaxRawIndex) ||
      d != static_cast<double>(static_cast<uint64_t>(d))) {
    return false;
  }
  *out = static_cast<size_t>(d);
  return true;
}

// Registers a raw napi_callback as exports[name].
inline void SetRaw(Napi::Env env, Napi::Object exports, const char* name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn) != napi_ok) {
    throw Napi::Error::New(env, std::string("cannot create ") + name);
  }
  exports.Set(name, Napi::Value(env, fn));
}

inline uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

inline void StoreLe64(uint8_t* p, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  memcpy(p, &v, sizeof(v));
}

}  // namespace tsn2n
