// The two declarations Jazzer.js's addon needs from compiler-rt's private libFuzzer header, matching the stock library.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzzer {
// libFuzzer's per-input callback (FuzzerDefs.h: UserCallback).
typedef int (*UserCallback)(const uint8_t *Data, size_t Size);
// libFuzzer's command-line entry point (FuzzerDriver.cpp), exported by libclang_rt.fuzzer_no_main.
int FuzzerDriver(int *argc, char ***argv, UserCallback Callback);
} // namespace fuzzer
