// Bridges Jazzer.js's fuzzer addon (written for its patched libFuzzer) to the stock libFuzzer from Debian's libclang-rt-14-dev.
//
// Jazzer.js 4.0.0 links a fork of compiler-rt (CodeIntelligenceTesting/llvm-project-jazzer) whose prebuilt addon needs
// glibc 2.38 and GCC 13's libstdc++; the fork's source is only on GitHub. The fork adds three entry points the addon
// calls; stock libFuzzer has equivalents without an explicit PC argument, so each is mapped here.
#include <array>
#include <cstdint>
#include <utility>

extern "C" {
void __sanitizer_cov_trace_const_cmp8(uint64_t arg1, uint64_t arg2);
void __sanitizer_cov_trace_pc_indir(uintptr_t callee);
void __jazzer_set_death_callback(void (*callback)());
}

namespace {
// Stock libFuzzer takes the comparison's site from the caller's return address. The JavaScript site id is spread over
// this many distinct call sites so value profiling still tells (some) comparison sites apart.
constexpr std::size_t kCallSites = 256;

template <std::size_t N> __attribute__((noinline)) void CmpAt(uint64_t arg1, uint64_t arg2) {
  __sanitizer_cov_trace_const_cmp8(arg1, arg2);
  asm volatile("" ::: "memory"); // keep each instance a distinct call site
}
template <std::size_t N> __attribute__((noinline)) void IndirAt(uintptr_t callee) {
  __sanitizer_cov_trace_pc_indir(callee);
  asm volatile("" ::: "memory");
}

template <std::size_t... I>
constexpr std::array<void (*)(uint64_t, uint64_t), kCallSites> CmpTable(std::index_sequence<I...>) {
  return {&CmpAt<I>...};
}
template <std::size_t... I>
constexpr std::array<void (*)(uintptr_t), kCallSites> IndirTable(std::index_sequence<I...>) {
  return {&IndirAt<I>...};
}
const auto kCmp = CmpTable(std::make_index_sequence<kCallSites>{});
const auto kIndir = IndirTable(std::make_index_sequence<kCallSites>{});
} // namespace

extern "C" {
void __sanitizer_cov_trace_const_cmp8_with_pc(uintptr_t called_pc, uint64_t arg1, uint64_t arg2) {
  kCmp[called_pc % kCallSites](arg1, arg2);
}

void __sanitizer_cov_trace_pc_indir_with_pc(void *caller_pc, uintptr_t callee) {
  kIndir[reinterpret_cast<uintptr_t>(caller_pc) % kCallSites](callee);
}

// Stock libFuzzer registers its crash-input dumper through this sanitizer hook (FuzzerLoop.cpp: Fuzzer::Fuzzer);
// the fork renamed it. Without it a JavaScript exception would end the run without writing crash-<sha1>.
void __sanitizer_set_death_callback(void (*callback)()) { __jazzer_set_death_callback(callback); }
}
