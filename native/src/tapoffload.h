// TAP offloads (virtio-net header): TSO frames from the kernel cut into MTU frames, TCP runs merged into one write.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "frames.h"

namespace tsn2n {

// Bytes of the virtio_net_hdr in front of every frame on a TAP opened with IFF_VNET_HDR (linux/virtio_net.h).
constexpr uint32_t kVnetHdrBytes = 10;

// Whether the TAP fd was opened with a virtio-net header (tapOpen sets it; a reused fd starts afresh).
bool TapVnet(int fd);
void SetTapVnet(int fd, bool on);

// Read state of one offload TAP: the frame being cut into MTU-sized frames when the slab filled up.
struct TapScratch {
  std::vector<uint8_t> stage;
  // The TSO frame in `stage` and where cutting stopped; valid while `pending`.
  bool pending = false;
  uint32_t frameLen = 0;
  uint32_t l3 = 0;
  uint32_t l4 = 0;
  uint32_t hdrLen = 0;
  uint32_t mss = 0;
  uint32_t next = 0;
  uint32_t segment = 0;
  bool v6 = false;
  bool HasPending() const { return pending; }
};

// Reads frames from a TAP with a virtio-net header until EAGAIN or the slab is full. Checksums the kernel left
// to the device are completed; a TSO frame is cut into the frames the kernel would have sent (what does not fit
// stays pending in `scratch` for the next call). Same contract as ReadFrames.
uint32_t ReadFramesVnet(int fd, const Slab& slab, TapScratch* scratch, int* err);

// Writes one frame with an empty virtio-net header; bytes of the frame written, or -1 with errno set.
ssize_t WriteFrameVnet(int fd, const uint8_t* frame, uint32_t len);

// Writes frames i < count (buf + offsets[i], lengths[i]) in order. Runs of consecutive segments of one TCP
// stream (checksums verified) go to the kernel as one GSO frame, as NIC receive offload would hand them over;
// every other frame goes alone. Returns the frames accepted; stops at EAGAIN, skips frames refused otherwise.
uint32_t WriteFramesVnet(int fd, const uint8_t* buf, const uint32_t* offsets, const uint32_t* lengths,
                         uint32_t count);

}  // namespace tsn2n
