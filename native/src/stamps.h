// -H time stamps (spec §6) for the native paths: the replay records and the stamp generator state JS shares.
#pragma once

#include <time.h>

#include <cstdint>

namespace tsn2n {

// A replay record (src/transform/stamp.ts RECORD_WORDS, StampRecord): the newest stamp (hi, lo), ring entries in
// use, the ring's next position, then kStampRecent (hi, lo) pairs.
constexpr uint32_t kRecHi = 0;
constexpr uint32_t kRecLo = 1;
constexpr uint32_t kRecCount = 2;
constexpr uint32_t kRecPos = 3;
constexpr uint32_t kRecRing = 4;
constexpr uint32_t kStampRecent = 16;
constexpr uint32_t kRecordWords = kRecRing + 2 * kStampRecent;

inline uint64_t StampU64(uint32_t hi, uint32_t lo) { return (static_cast<uint64_t>(hi) << 32) | lo; }

// The system clock as a stamp (counter 0): StampGenerator.current over the system clock.
uint64_t NowStamp();
// StampGenerator.verify(stamp, record, allowJitter = true), without changing the record.
bool StampFresh(const uint32_t* rec, uint32_t hi, uint32_t lo);
// The record takes a stamp StampFresh passed: the newest raised, the stamp remembered.
void StampAccept(uint32_t* rec, uint32_t hi, uint32_t lo);
// StampGenerator.next on the shared state {last hi, last lo}: max(now, last + one counter step).
void NextStamp(uint32_t* state, uint32_t* hi, uint32_t* lo);

}  // namespace tsn2n
