// Error helpers shared by the addon: errno errors with a Node-style `code`, and "Usage: …" TypeErrors.
#pragma once

#include <napi.h>

#include <string>

namespace tsn2n {

// Throws an Error whose message is `message` and whose `code` is the errno name (EPERM, ENOENT, …).
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const std::string& message, const char* syscall);

// Throws a TypeError "Usage: <usage>" for a wrongly called function.
[[noreturn]] void ThrowUsage(Napi::Env env, const char* usage);

// The errno name, e.g. "EAGAIN".
const char* ErrnoName(int err);

// Argument readers that throw the usage error on a type mismatch.
int32_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* usage);
uint32_t ArgUint(const Napi::CallbackInfo& info, size_t i, const char* usage);
double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* usage);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* usage);

// A byte view of a Uint8Array/Buffer argument.
struct Bytes {
  uint8_t* data;
  size_t length;
};
Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* usage);

// A view of a Uint32Array argument.
struct U32s {
  uint32_t* data;
  size_t length;
};
U32s ArgU32s(const Napi::CallbackInfo& info, size_t i, const char* usage);

}  // namespace tsn2n
