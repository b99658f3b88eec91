// -H time stamps for the native paths (the edge's fast path, the supernode's relay): src/transform/stamp.ts in C++.
#include "stamps.h"

namespace tsn2n {

namespace {
// Stamps (spec §6): hi = Unix seconds, lo = µs << 12 | counter << 4 | flag.
constexpr uint32_t kStampUsecShift = 12;
constexpr uint32_t kStampCounterStep = 0x10;
constexpr uint32_t kStampCounterOnly = 0x1;
constexpr int64_t kStampFrame = 1ll << 36;       // TIME_STAMP_FRAME (±16 s)
constexpr uint64_t kStampJitter = 0x27100000ull;  // TIME_STAMP_JITTER (160 ms)
constexpr uint32_t kJitterCounterOnlyShift = 8;
constexpr uint64_t kNanosPerMicro = 1000;
}  // namespace

uint64_t NowStamp() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t usec = static_cast<uint64_t>(ts.tv_nsec) / kNanosPerMicro;
  return StampU64(static_cast<uint32_t>(ts.tv_sec), static_cast<uint32_t>(usec << kStampUsecShift));
}

bool StampFresh(const uint32_t* rec, uint32_t hi, uint32_t lo) {
  const uint64_t s = StampU64(hi, lo);
  const int64_t fromNow = static_cast<int64_t>(s - NowStamp());
  if (fromNow <= -kStampFrame || fromNow >= kStampFrame) return false;
  const uint64_t prev = StampU64(rec[kRecHi], rec[kRecLo]);
  const uint64_t jitter = (lo & kStampCounterOnly) != 0 ? kStampJitter << kJitterCounterOnlyShift : kStampJitter;
  if (static_cast<int64_t>(s - prev + jitter) <= 0) return false;
  if (s > prev) return true;
  // Not above the newest: only a stamp not seen before and not older than every remembered one.
  const uint32_t count = rec[kRecCount] < kStampRecent ? rec[kRecCount] : kStampRecent;
  bool older = count == kStampRecent;
  for (uint32_t i = 0; i < count; i++) {
    const uint64_t r = StampU64(rec[kRecRing + 2 * i], rec[kRecRing + 2 * i + 1]);
    if (r == s) return false;
    if (r <= s) older = false;
  }
  return !older;
}

void StampAccept(uint32_t* rec, uint32_t hi, uint32_t lo) {
  if (StampU64(hi, lo) > StampU64(rec[kRecHi], rec[kRecLo])) {
    rec[kRecHi] = hi;
    rec[kRecLo] = lo;
  }
  const uint32_t pos = rec[kRecPos] % kStampRecent;
  rec[kRecRing + 2 * pos] = hi;
  rec[kRecRing + 2 * pos + 1] = lo;
  rec[kRecPos] = (pos + 1) % kStampRecent;
  if (rec[kRecCount] < kStampRecent) rec[kRecCount]++;
}

void NextStamp(uint32_t* state, uint32_t* hi, uint32_t* lo) {
  uint64_t s = NowStamp();
  const uint64_t last = StampU64(state[0], state[1]);
  if (s <= last) s = last + kStampCounterStep;
  state[0] = *hi = static_cast<uint32_t>(s >> 32);
  state[1] = *lo = static_cast<uint32_t>(s);
}

}  // namespace tsn2n
