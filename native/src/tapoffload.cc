// TAP offloads over the virtio-net header (linux/virtio_net.h; TUNSETOFFLOAD, see tuntap.rst): no protocol logic.
//
// Read side: the TAP announces checksum offload and TSO, so the kernel hands over TCP super-frames of up to
// 64 KiB and leaves checksums to the "device". We finish each frame as a NIC would: complete the checksum
// (RFC 1071 over csum_start..end, stored at csum_start + csum_offset) and cut a TSO frame at gso_size into the
// frames the kernel itself would have cut (RFC 793 sequence numbers, IPv4 ID + 1 per frame, FIN/PSH only on the
// last, CWR only on the first, fresh IPv4 header and TCP checksums). JS sees plain Ethernet frames of at most
// MTU + 14 bytes, one per slab slot, exactly as without offloads.
// Write side: consecutive frames of one TCP stream (same headers apart from sequence number, IPv4 ID and
// length, contiguous sequence numbers, equal segment sizes, only ACK/PSH set, valid checksums) are written as
// one GSO frame, the way NIC receive offload (GRO) hands them to the stack; the kernel's TCP then processes one
// large segment instead of many. Anything else is written alone with an empty header.
#include "tapoffload.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TSN2N_SUM_AVX2 1
#include <immintrin.h>
#endif

namespace tsn2n {
namespace {

std::atomic<bool> gTapVnet[kMaxOffloadFd];

// struct virtio_net_hdr and its constants (linux/virtio_net.h, which C++ cannot include: a member is named
// `class`). Fields in host byte order (the legacy header on a little-endian host, what tun uses by default).
struct VnetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == kVnetHdrBytes, "virtio_net_hdr is 10 bytes");
constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;
constexpr uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;

constexpr uint16_t kEthTypeIpv4 = 0x0800;
constexpr uint16_t kEthTypeIpv6 = 0x86dd;
constexpr uint16_t kEthTypeVlan = 0x8100;
constexpr uint16_t kEthTypeQinQ = 0x88a8;
constexpr uint32_t kEthTypeOffset = 12;
constexpr uint32_t kVlanTagBytes = 4;
constexpr int kMaxVlanTags = 2;
constexpr uint32_t kIpv4MinHeader = 20;
constexpr uint32_t kIpv6Header = 40;
constexpr uint32_t kTcpMinHeader = 20;
constexpr uint8_t kProtoTcp = 6;
constexpr uint32_t kTcpChecksumOffset = 16;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint8_t kTcpCwr = 0x80;
constexpr uint32_t kMaxIpLength = 65535;
// Largest frame the kernel hands a TAP (its default GSO limit of 64 KiB) plus room for the link headers.
constexpr size_t kStageBytes = 65536 + 4096;
// Frames merged into one GSO write at most (a batch is 64 frames).
constexpr uint32_t kMaxRun = 64;
// Link, network and TCP headers of a merged frame at most: Ethernet, two VLAN tags, IPv6, TCP with options.
constexpr size_t kMaxHeaderBytes = 256;
// IPv4 flags/fragment word: only DF may be set in a segment we merge.
constexpr uint16_t kIpv4FragMask = 0x3fff;

inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

#ifdef TSN2N_SUM_AVX2
// Bytes of one AVX2 step, and the least worth the vector loop.
constexpr size_t kSumStepBytes = 32;
constexpr size_t kSumVectorMinBytes = 64;

// TSN2N_SUM_PORTABLE=1 in the environment keeps the scalar loop, to compare the two (test/root/tap-offload.test.ts
// passes either way; the scalar loop also sums every tail shorter than a step).
bool HaveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2") && getenv("TSN2N_SUM_PORTABLE") == nullptr;
  return have;
}

// The 32-bit native words of p[0, len) in whole 32-byte steps, added into 64-bit lanes without carries (a lane
// gains under 2^33 a step), then into `sum` with end-around carries; p and len are moved past them. The same
// ones' complement sum as the scalar loop, since 2^32 ≡ 1 modulo 2^16 − 1 (RFC 1071 §2(A), any word size). The
// checksum of every frame cut from a TSO frame and of every frame merged for the TAP went through the scalar loop
// at 5–6 % of a P2P run's samples.
__attribute__((target("avx2"))) uint64_t SumAvx2(const uint8_t** p, size_t* len, uint64_t sum) {
  const __m256i low = _mm256_set1_epi64x(0xffffffffll);
  __m256i lo = _mm256_setzero_si256();
  __m256i hi = _mm256_setzero_si256();
  const uint8_t* q = *p;
  size_t left = *len;
  for (; left >= kSumStepBytes; q += kSumStepBytes, left -= kSumStepBytes) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
    lo = _mm256_add_epi64(lo, _mm256_and_si256(v, low));
    hi = _mm256_add_epi64(hi, _mm256_srli_epi64(v, 32));
  }
  alignas(32) uint64_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), lo);
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 4), hi);
  for (const uint64_t w : lanes) {
    sum += w;
    if (sum < w) sum++;
  }
  *p = q;
  *len = left;
  return sum;
}
#endif

// Ones' complement sum of p[0, len) added to `sum`, read in memory order as native words (RFC 1071 §2(B):
// the folded result stored in native order is the network-order checksum, on either endianness).
uint64_t Sum(const uint8_t* p, size_t len, uint64_t sum) {
#ifdef TSN2N_SUM_AVX2
  if (len >= kSumVectorMinBytes && HaveAvx2()) sum = SumAvx2(&p, &len, sum);
#endif
  while (len >= 16) {
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    sum += a;
    if (sum < a) sum++;
    sum += b;
    if (sum < b) sum++;
    p += 16;
    len -= 16;
  }
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    sum += w;
    if (sum < w) sum++;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
    if (sum < w) sum++;
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    // A last odd byte is the high-order byte of a zero-padded 16-bit word.
    const uint8_t pad[2] = {p[0], 0};
    uint16_t w;
    memcpy(&w, pad, 2);
    sum += w;
    if (sum < w) sum++;
  }
  return sum;
}

inline uint16_t Fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// A 16-bit network-order value as the native-order words of Sum see it.
inline uint64_t Word16(uint32_t v) {
  const uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  uint16_t w;
  memcpy(&w, b, 2);
  return w;
}

// Sum of the TCP pseudo header (RFC 793 §3.1 / RFC 8200 §8.1) for a TCP segment of tcpLen bytes.
uint64_t PseudoSum(const uint8_t* f, uint32_t l3, bool v6, uint32_t tcpLen) {
  if (v6) {
    uint64_t s = Sum(f + l3 + 8, 32, 0);
    return s + Word16(tcpLen >> 16) + Word16(tcpLen & 0xffff) + Word16(kProtoTcp);
  }
  return Sum(f + l3 + 12, 8, 0) + Word16(tcpLen) + Word16(kProtoTcp);
}

inline void StoreChecksum(uint8_t* p, uint16_t folded) {
  uint16_t c = static_cast<uint16_t>(~folded);
  memcpy(p, &c, 2);
}

// Offset of the network header behind the Ethernet header and up to two VLAN tags; 0 if the frame is too short.
uint32_t NetworkOffset(const uint8_t* f, uint32_t len, uint16_t* type) {
  uint32_t off = kEthTypeOffset;
  for (int tags = 0;; tags++) {
    if (off + 2 > len) return 0;
    const uint16_t t = Get16(f + off);
    if ((t == kEthTypeVlan || t == kEthTypeQinQ) && tags < kMaxVlanTags) {
      off += kVlanTagBytes;
      continue;
    }
    *type = t;
    return off + 2;
  }
}

// Completes a checksum the kernel left to the device. false: the offsets do not fit the frame.
bool CompleteChecksum(uint8_t* f, uint32_t len, uint32_t start, uint32_t offset) {
  if (start >= len || start + offset + 2 > len) return false;
  uint16_t folded = Fold(Sum(f + start, len - start, 0));
  // As the kernel does (skb_checksum_help): a computed 0 goes out as 0xffff, which UDP requires.
  uint16_t c = static_cast<uint16_t>(~folded);
  if (c == 0) c = 0xffff;
  memcpy(f + start + offset, &c, 2);
  return true;
}

// Parses the TSO frame f[0, len) (in scratch->stage) for cutting. false: not a TCP TSO frame we can cut.
bool StartSegments(TapScratch* s, uint32_t len, const VnetHdr& h, uint32_t room) {
  const uint8_t* f = s->stage.data();
  const uint8_t gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  uint16_t type = 0;
  const uint32_t l3 = NetworkOffset(f, len, &type);
  if (l3 == 0) return false;
  uint32_t l4;
  bool v6;
  if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && type == kEthTypeIpv4) {
    if (l3 + kIpv4MinHeader > len || (f[l3] >> 4) != 4 || f[l3 + 9] != kProtoTcp) return false;
    const uint32_t ihl = (f[l3] & 0x0f) * 4u;
    if (ihl < kIpv4MinHeader) return false;
    l4 = l3 + ihl;
    v6 = false;
  } else if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && type == kEthTypeIpv6) {
    // Extension headers would need their own handling (and the routing header the pseudo header's address).
    if (l3 + kIpv6Header > len || (f[l3] >> 4) != 6 || f[l3 + 6] != kProtoTcp) return false;
    l4 = l3 + kIpv6Header;
    v6 = true;
  } else {
    return false;
  }
  if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h.csum_start != l4) return false;
  if (l4 + kTcpMinHeader > len) return false;
  const uint32_t thlen = (f[l4 + 12] >> 4) * 4u;
  const uint32_t hdrLen = l4 + thlen;
  if (thlen < kTcpMinHeader || hdrLen > len || h.gso_size == 0 || hdrLen + h.gso_size > room) return false;
  s->frameLen = len;
  s->l3 = l3;
  s->l4 = l4;
  s->hdrLen = hdrLen;
  s->mss = h.gso_size;
  s->next = hdrLen;
  s->segment = 0;
  s->v6 = v6;
  s->pending = true;
  return true;
}

// Cuts frames from the pending TSO frame into slots from `count` on; returns the new count.
uint32_t EmitSegments(const Slab& slab, TapScratch* s, uint32_t count) {
  const uint8_t* f = s->stage.data();
  const uint32_t l3 = s->l3;
  const uint32_t l4 = s->l4;
  const uint32_t hdrLen = s->hdrLen;
  const uint32_t seq0 = Get32(f + l4 + 4);
  const uint32_t id0 = Get16(f + l3 + 4);
  while (s->pending && count < slab.capacity) {
    const uint32_t left = s->frameLen - s->next;
    const uint32_t chunk = left < s->mss ? left : s->mss;
    const bool last = s->next + chunk >= s->frameLen;
    uint8_t* o = slab.base + static_cast<size_t>(count) * slab.stride + slab.headroom;
    memcpy(o, f, hdrLen);
    memcpy(o + hdrLen, f + s->next, chunk);
    const uint32_t tcpLen = hdrLen - l4 + chunk;
    if (s->v6) {
      Put16(o + l3 + 4, tcpLen);
    } else {
      const uint32_t ihl = l4 - l3;
      Put16(o + l3 + 2, ihl + tcpLen);
      Put16(o + l3 + 4, (id0 + s->segment) & 0xffff);
      o[l3 + 10] = 0;
      o[l3 + 11] = 0;
      StoreChecksum(o + l3 + 10, Fold(Sum(o + l3, ihl, 0)));
    }
    Put32(o + l4 + 4, seq0 + (s->next - hdrLen));
    if (!last) o[l4 + 13] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    if (s->segment > 0) o[l4 + 13] &= static_cast<uint8_t>(~kTcpCwr);
    o[l4 + kTcpChecksumOffset] = 0;
    o[l4 + kTcpChecksumOffset + 1] = 0;
    StoreChecksum(o + l4 + kTcpChecksumOffset, Fold(Sum(o + l4, tcpLen, PseudoSum(o, l3, s->v6, tcpLen))));
    slab.lengths[count++] = hdrLen + chunk;
    s->next += chunk;
    s->segment++;
    if (last) s->pending = false;
  }
  return count;
}

// A frame that may join a GSO write: TCP over IPv4 (no options, not fragmented) or IPv6 (no extension
// headers), only ACK (and PSH) set, some payload, frame length matching the IP length, checksums valid.
struct TcpSegment {
  uint32_t l3;
  uint32_t l4;
  uint32_t hdrLen;
  uint32_t payload;
  bool v6;
};

bool ParseSegment(const uint8_t* f, uint32_t len, TcpSegment* t) {
  uint16_t type = 0;
  const uint32_t l3 = NetworkOffset(f, len, &type);
  if (l3 == 0) return false;
  uint32_t l4;
  if (type == kEthTypeIpv4) {
    if (l3 + kIpv4MinHeader > len || f[l3] != 0x45 || f[l3 + 9] != kProtoTcp) return false;
    if ((Get16(f + l3 + 6) & kIpv4FragMask) != 0 || l3 + Get16(f + l3 + 2) != len) return false;
    if (Fold(Sum(f + l3, kIpv4MinHeader, 0)) != 0xffff) return false;
    l4 = l3 + kIpv4MinHeader;
    t->v6 = false;
  } else if (type == kEthTypeIpv6) {
    if (l3 + kIpv6Header > len || (f[l3] >> 4) != 6 || f[l3 + 6] != kProtoTcp) return false;
    if (l3 + kIpv6Header + Get16(f + l3 + 4) != len) return false;
    l4 = l3 + kIpv6Header;
    t->v6 = true;
  } else {
    return false;
  }
  if (l4 + kTcpMinHeader > len) return false;
  const uint32_t thlen = (f[l4 + 12] >> 4) * 4u;
  const uint8_t flags = f[l4 + 13];
  if (thlen < kTcpMinHeader || l4 + thlen >= len || (flags & ~kTcpPsh) != kTcpAck || (f[l4 + 12] & 0x0f) != 0) {
    return false;
  }
  const uint32_t tcpLen = len - l4;
  if (Fold(Sum(f + l4, tcpLen, PseudoSum(f, l3, t->v6, tcpLen))) != 0xffff) return false;
  t->l3 = l3;
  t->l4 = l4;
  t->hdrLen = l4 + thlen;
  t->payload = len - t->hdrLen;
  return true;
}

// Whether segment `g` (frame f) continues the run that starts with f0/t0, `k` frames in, `bytes` payload so far.
bool Continues(const uint8_t* f0, const TcpSegment& t0, const uint8_t* f, const TcpSegment& t, uint32_t k,
               uint32_t bytes) {
  if (t.v6 != t0.v6 || t.l3 != t0.l3 || t.hdrLen != t0.hdrLen || t.payload > t0.payload) return false;
  const uint32_t l3 = t0.l3;
  const uint32_t l4 = t0.l4;
  if (memcmp(f, f0, l3) != 0) return false;
  if (t0.v6) {
    if (memcmp(f + l3, f0 + l3, 4) != 0 || memcmp(f + l3 + 6, f0 + l3 + 6, kIpv6Header - 6) != 0) return false;
  } else {
    const uint32_t id = Get16(f + l3 + 4);
    const uint32_t id0 = Get16(f0 + l3 + 4);
    if (f[l3 + 1] != f0[l3 + 1] || memcmp(f + l3 + 6, f0 + l3 + 6, 4) != 0 ||
        memcmp(f + l3 + 12, f0 + l3 + 12, 8) != 0 || (id != ((id0 + k) & 0xffff) && id != id0)) {
      return false;
    }
  }
  // Ports; acknowledgment number, header length, window, urgent pointer and options; sequence number.
  return memcmp(f + l4, f0 + l4, 4) == 0 && memcmp(f + l4 + 8, f0 + l4 + 8, 5) == 0 &&
         memcmp(f + l4 + 14, f0 + l4 + 14, 2) == 0 && memcmp(f + l4 + 18, f0 + l4 + 18, t0.hdrLen - l4 - 18) == 0 &&
         Get32(f + l4 + 4) == Get32(f0 + l4 + 4) + bytes;
}

// writev of the whole iovec list; bytes or -1 with errno.
ssize_t WriteAll(int fd, const struct iovec* iov, int n) {
  ssize_t r;
  do {
    r = writev(fd, iov, n);
  } while (r < 0 && errno == EINTR);
  return r;
}

const uint8_t kEmptyHeader[kVnetHdrBytes] = {};

}  // namespace

bool TapVnet(int fd) { return fd >= 0 && fd < kMaxOffloadFd && gTapVnet[fd].load(std::memory_order_relaxed); }

void SetTapVnet(int fd, bool on) {
  if (fd >= 0 && fd < kMaxOffloadFd) gTapVnet[fd].store(on, std::memory_order_relaxed);
}

uint32_t ReadFramesVnet(int fd, const Slab& slab, TapScratch* s, int* err) {
  *err = 0;
  const uint32_t room = slab.stride - slab.headroom;
  if (s->stage.size() < kStageBytes) s->stage.resize(kStageBytes);
  uint32_t count = 0;
  while (count < slab.capacity) {
    if (s->pending) {
      count = EmitSegments(slab, s, count);
      continue;
    }
    uint8_t* slot = slab.base + static_cast<size_t>(count) * slab.stride + slab.headroom;
    VnetHdr h;
    // A frame that fits lands in its slot; the rest of a longer (TSO) frame in the stage, behind the slot's part.
    struct iovec iov[3] = {{&h, kVnetHdrBytes}, {slot, room}, {s->stage.data() + room, kStageBytes - room}};
    ssize_t n = readv(fd, iov, 3);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) *err = -errno;
      break;
    }
    if (static_cast<size_t>(n) < kVnetHdrBytes) continue;
    const uint32_t len = static_cast<uint32_t>(n) - kVnetHdrBytes;
    // tun reports a frame's full length even when it was cut to the buffer: drop such a frame.
    if (len > kStageBytes) continue;
    if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
      if (len > room) continue;
      if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !CompleteChecksum(slot, len, h.csum_start, h.csum_offset)) {
        continue;
      }
      slab.lengths[count++] = len;
      continue;
    }
    memcpy(s->stage.data(), slot, len < room ? len : room);
    // A TSO frame we cannot cut (never for TCP over IPv4/IPv6 without extension headers) is dropped.
    StartSegments(s, len, h, room);
  }
  return count;
}

ssize_t WriteFrameVnet(int fd, const uint8_t* frame, uint32_t len) {
  struct iovec iov[2] = {{const_cast<uint8_t*>(kEmptyHeader), kVnetHdrBytes},
                         {const_cast<uint8_t*>(frame), len}};
  ssize_t n = WriteAll(fd, iov, 2);
  return n < 0 ? n : n - static_cast<ssize_t>(kVnetHdrBytes);
}

uint32_t WriteFramesVnet(int fd, const uint8_t* buf, const uint32_t* offsets, const uint32_t* lengths,
                         uint32_t count) {
  uint32_t accepted = 0;
  struct iovec iov[2 + kMaxRun];
  uint8_t merged[kMaxHeaderBytes];
  VnetHdr h;
  uint32_t i = 0;
  while (i < count) {
    const uint8_t* f0 = buf + offsets[i];
    TcpSegment t0;
    uint32_t run = 1;
    uint32_t bytes = 0;
    if (ParseSegment(f0, lengths[i], &t0) && t0.hdrLen <= sizeof(merged)) {
      bytes = t0.payload;
      const uint32_t limit = t0.v6 ? kMaxIpLength + kIpv6Header : kMaxIpLength;
      bool open = (f0[t0.l4 + 13] & kTcpPsh) == 0;
      while (open && i + run < count && run < kMaxRun) {
        const uint8_t* f = buf + offsets[i + run];
        TcpSegment t;
        if (!ParseSegment(f, lengths[i + run], &t) || !Continues(f0, t0, f, t, run, bytes) ||
            t0.hdrLen - t0.l3 + bytes + t.payload > limit) {
          break;
        }
        iov[2 + run].iov_base = const_cast<uint8_t*>(f + t.hdrLen);
        iov[2 + run].iov_len = t.payload;
        bytes += t.payload;
        run++;
        // Only the last segment may be short or carry PSH.
        open = t.payload == t0.payload && (f[t.l4 + 13] & kTcpPsh) == 0;
      }
    }
    ssize_t n;
    if (run == 1) {
      n = WriteFrameVnet(fd, f0, lengths[i]);
    } else {
      const uint32_t l3 = t0.l3;
      const uint32_t l4 = t0.l4;
      memcpy(merged, f0, t0.hdrLen);
      const uint32_t tcpLen = t0.hdrLen - l4 + bytes;
      if (t0.v6) {
        Put16(merged + l3 + 4, tcpLen);
      } else {
        Put16(merged + l3 + 2, l4 - l3 + tcpLen);
        merged[l3 + 10] = 0;
        merged[l3 + 11] = 0;
        StoreChecksum(merged + l3 + 10, Fold(Sum(merged + l3, l4 - l3, 0)));
      }
      const uint8_t* lastFrame = buf + offsets[i + run - 1];
      merged[l4 + 13] |= lastFrame[l4 + 13] & kTcpPsh;
      // Checksum left to the "device" (CHECKSUM_PARTIAL): the field holds the pseudo header sum.
      const uint16_t pseudo = Fold(PseudoSum(merged, l3, t0.v6, tcpLen));
      memcpy(merged + l4 + kTcpChecksumOffset, &pseudo, 2);
      memset(&h, 0, sizeof(h));
      h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      h.gso_type = t0.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
      h.hdr_len = static_cast<uint16_t>(t0.hdrLen);
      h.gso_size = static_cast<uint16_t>(t0.payload);
      h.csum_start = static_cast<uint16_t>(l4);
      h.csum_offset = kTcpChecksumOffset;
      iov[0].iov_base = &h;
      iov[0].iov_len = kVnetHdrBytes;
      iov[1].iov_base = merged;
      iov[1].iov_len = t0.hdrLen;
      iov[2].iov_base = const_cast<uint8_t*>(f0 + t0.hdrLen);
      iov[2].iov_len = t0.payload;
      n = WriteAll(fd, iov, static_cast<int>(2 + run));
    }
    if (n >= 0) {
      accepted += run;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    }
    i += run;
  }
  return accepted;
}

}  // namespace tsn2n
