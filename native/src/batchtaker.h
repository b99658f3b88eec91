// What a poller offers each batch to before JS: the edge's fast path (fastpath.h) or the supernode's relay (snrelay.h).
#pragma once

#include <cstdint>

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

}  // namespace tsn2n
