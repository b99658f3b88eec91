// Error helpers: errno errors carry `code`, `errno` and `syscall` like Node's own system errors.
#include "errors.h"

#include <uv.h>

namespace tsn2n {

const char* ErrnoName(int err) {
  // libuv's error codes on Unix are the negated errno values.
  return uv_err_name(-err);
}

void ThrowErrno(Napi::Env env, int err, const std::string& message, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  throw e;
}

void ThrowUsage(Napi::Env env, const char* usage) {
  throw Napi::TypeError::New(env, std::string("Usage: ") + usage);
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowUsage(info.Env(), usage);
  return info[i].As<Napi::Number>().DoubleValue();
}

int32_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  double d = ArgNumber(info, i, usage);
  if (d != static_cast<double>(static_cast<int32_t>(d))) ThrowUsage(info.Env(), usage);
  return static_cast<int32_t>(d);
}

uint32_t ArgUint(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  double d = ArgNumber(info, i, usage);
  if (d < 0 || d != static_cast<double>(static_cast<uint32_t>(d))) ThrowUsage(info.Env(), usage);
  return static_cast<uint32_t>(d);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (info.Length() <= i || !info[i].IsString()) ThrowUsage(info.Env(), usage);
  return info[i].As<Napi::String>().Utf8Value();
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (info.Length() <= i || !info[i].IsTypedArray()) ThrowUsage(info.Env(), usage);
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) ThrowUsage(info.Env(), usage);
  Napi::Uint8Array u8 = ta.As<Napi::Uint8Array>();
  return Bytes{u8.Data(), u8.ByteLength()};
}

U32s ArgU32s(const Napi::CallbackInfo& info, size_t i, const char* usage) {
  if (info.Length() <= i || !info[i].IsTypedArray()) ThrowUsage(info.Env(), usage);
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint32_array) ThrowUsage(info.Env(), usage);
  Napi::Uint32Array u32 = ta.As<Napi::Uint32Array>();
  return U32s{u32.Data(), u32.ElementLength()};
}

}  // namespace tsn2n
