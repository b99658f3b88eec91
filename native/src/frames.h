// The slab layout shared with JS, and the batch read/receive loops that fill it.
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <cstdint>
#include <vector>

namespace tsn2n {

// Bytes per source/destination address entry: [0] family 4|6, [2..3] port big-endian,
// [4..7] IPv4 or [4..19] IPv6 in network order, [20..23] IPv6 scope id little-endian.
constexpr uint32_t kAddrStride = 24;

// A JS-owned slab: frame i lives at base + i*stride + headroom and is at most stride - headroom bytes.
struct Slab {
  uint8_t* base = nullptr;
  uint32_t stride = 0;
  uint32_t headroom = 0;
  uint32_t* lengths = nullptr;
  uint32_t capacity = 0;
  // Only for UDP: capacity * kAddrStride bytes of source addresses.
  uint8_t* addrs = nullptr;
};

// Offload state of the UDP sockets udpOpen made, by fd (fds at or above kMaxOffloadFd never use offloads).
// udpOpen resets the entry of the fd it opens, so a reused fd starts afresh. Atomic: worker threads may own
// sockets of their own.
constexpr int kMaxOffloadFd = 65536;
// Largest datagram size sent as part of a GSO run on this socket; 0: no GSO.
uint16_t GsoLimit(int fd);
void SetGsoLimit(int fd, uint16_t limit);
// Whether UDP_GRO is on for this socket: the kernel may then hand over several datagrams in one buffer.
bool GroEnabled(int fd);
void SetGroEnabled(int fd, bool on);
// Clears every offload entry of an fd that is being closed (UDP GSO/GRO, TAP virtio-net header).
void ForgetOffloads(int fd);

// A UDP GRO receive buffer holds up to 64 KiB: this many are filled per recvmmsg().
constexpr uint32_t kGroMessages = 8;
constexpr uint32_t kGroBufferBytes = 65536;

// Scratch arrays for recvmmsg/sendmmsg, sized once per socket.
struct MsgScratch {
  std::vector<struct mmsghdr> msgs;
  std::vector<struct iovec> iovs;
  std::vector<struct sockaddr_storage> names;
  void Resize(uint32_t n);

  // GRO receive: kGroMessages buffers of kGroBufferBytes, allocated on first use. A buffer holds datagrams of
  // `segment` bytes back to back (the last may be shorter); `next` is the first not yet handed to the slab.
  struct Staged {
    uint32_t next;
    uint32_t end;
    uint32_t segment;
    // A zero-length datagram still to hand over (it has no bytes to step over).
    bool empty;
    uint8_t addr[kAddrStride];
  };
  std::vector<uint8_t> stage;
  std::vector<struct mmsghdr> groMsgs;
  std::vector<struct iovec> groIovs;
  std::vector<struct sockaddr_storage> groNames;
  std::vector<uint8_t> groControl;
  Staged staged[kGroMessages];
  uint32_t stagedCount = 0;
  uint32_t stagedNext = 0;
  // Datagrams received but not yet in the slab (the slab filled up): the next read hands them over first.
  bool HasPending() const { return stagedNext < stagedCount; }
};

struct TapScratch;

// Reads frames with read() until EAGAIN or the slab is full; returns the count, sets *err to -errno on a
// real error (0 otherwise). On a TAP with a virtio-net header (tapoffload.h) `tap` keeps a TSO frame that did
// not fit the slab for the next call; without one (nullptr) the rest of such a frame is dropped.
uint32_t ReadFrames(int fd, const Slab& slab, TapScratch* tap, int* err);

// Receives datagrams with recvmmsg() until EAGAIN or the slab is full, writing each source address. On a GRO
// socket, datagrams the kernel coalesced are split back into slab slots; what does not fit stays pending.
uint32_t RecvDatagrams(int fd, const Slab& slab, MsgScratch* scratch, int* err);

// Encodes/decodes the address entry format above. Decode returns the sockaddr length or 0 if invalid.
void EncodeAddr(const struct sockaddr_storage& ss, uint8_t* out);
socklen_t DecodeAddr(const uint8_t* in, struct sockaddr_storage* ss);

// Reads a slab description from JS arguments starting at `first`: (slab, stride, headroom, lengths).
Slab ArgSlab(const Napi::CallbackInfo& info, size_t first, const char* usage);

void InitFrames(Napi::Env env, Napi::Object exports);

}  // namespace tsn2n
