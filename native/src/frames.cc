// Batch frame I/O on a non-blocking fd: read every ready frame into the slab; write one frame or a batch.
#include "frames.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "errors.h"
#include "tapoffload.h"

namespace tsn2n {

namespace {
std::atomic<uint16_t> gGsoLimit[kMaxOffloadFd];
std::atomic<bool> gGro[kMaxOffloadFd];

bool OffloadFd(int fd) { return fd >= 0 && fd < kMaxOffloadFd; }
}  // namespace

uint16_t GsoLimit(int fd) { return OffloadFd(fd) ? gGsoLimit[fd].load(std::memory_order_relaxed) : 0; }

void SetGsoLimit(int fd, uint16_t limit) {
  if (OffloadFd(fd)) gGsoLimit[fd].store(limit, std::memory_order_relaxed);
}

bool GroEnabled(int fd) { return OffloadFd(fd) && gGro[fd].load(std::memory_order_relaxed); }

void SetGroEnabled(int fd, bool on) {
  if (OffloadFd(fd)) gGro[fd].store(on, std::memory_order_relaxed);
}

void ForgetOffloads(int fd) {
  SetGsoLimit(fd, 0);
  SetGroEnabled(fd, false);
  SetTapVnet(fd, false);
}

void MsgScratch::Resize(uint32_t n) {
  msgs.resize(n);
  iovs.resize(n);
  names.resize(n);
}

uint32_t ReadFrames(int fd, const Slab& slab, TapScratch* tap, int* err) {
  if (TapVnet(fd)) {
    if (tap != nullptr) return ReadFramesVnet(fd, slab, tap, err);
    TapScratch once;
    return ReadFramesVnet(fd, slab, &once, err);
  }
  *err = 0;
  uint32_t count = 0;
  const size_t room = slab.stride - slab.headroom;
  while (count < slab.capacity) {
    ssize_t n = read(fd, slab.base + static_cast<size_t>(count) * slab.stride + slab.headroom, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) *err = -errno;
      break;
    }
    // tun reports a frame's full length even when it did not fit the buffer: such a frame is cut, drop it.
    if (static_cast<size_t>(n) > room) continue;
    slab.lengths[count++] = static_cast<uint32_t>(n);
  }
  return count;
}

void EncodeAddr(const struct sockaddr_storage& ss, uint8_t* out) {
  memset(out, 0, kAddrStride);
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const struct sockaddr_in*>(&ss);
    out[0] = 4;
    memcpy(out + 2, &sin->sin_port, 2);
    memcpy(out + 4, &sin->sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const struct sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      // An IPv4 peer of a dual-stack socket (::ffff:a.b.c.d): handed over as the IPv4 entry it is, so JS
      // keys and answers IPv4 peers the same whichever socket family received them. Sends to an IPv4 entry
      // on an AF_INET6 socket pass a sockaddr_in, which Linux accepts on a dual-stack socket (udpv6_sendmsg).
      out[0] = 4;
      memcpy(out + 2, &sin6->sin6_port, 2);
      memcpy(out + 4, reinterpret_cast<const uint8_t*>(&sin6->sin6_addr) + 12, 4);
      return;
    }
    out[0] = 6;
    memcpy(out + 2, &sin6->sin6_port, 2);
    memcpy(out + 4, &sin6->sin6_addr, 16);
    uint32_t scope = sin6->sin6_scope_id;
    out[20] = scope & 0xff;
    out[21] = (scope >> 8) & 0xff;
    out[22] = (scope >> 16) & 0xff;
    out[23] = (scope >> 24) & 0xff;
  }
}

socklen_t DecodeAddr(const uint8_t* in, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof(*ss));
  if (in[0] == 4) {
    auto* sin = reinterpret_cast<struct sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_port, in + 2, 2);
    memcpy(&sin->sin_addr, in + 4, 4);
    return sizeof(struct sockaddr_in);
  }
  if (in[0] == 6) {
    auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(ss);
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_port, in + 2, 2);
    memcpy(&sin6->sin6_addr, in + 4, 16);
    sin6->sin6_scope_id = static_cast<uint32_t>(in[20]) | (static_cast<uint32_t>(in[21]) << 8) |
                          (static_cast<uint32_t>(in[22]) << 16) | (static_cast<uint32_t>(in[23]) << 24);
    return sizeof(struct sockaddr_in6);
  }
  return 0;
}

namespace {

// Moves pending GRO datagrams into the slab from slot `count` on; returns the new count. A datagram longer
// than a slot is dropped (as a truncated one would be).
uint32_t DeliverStaged(const Slab& slab, MsgScratch* scratch, uint32_t count) {
  const uint32_t room = slab.stride - slab.headroom;
  while (scratch->stagedNext < scratch->stagedCount && count < slab.capacity) {
    MsgScratch::Staged& m = scratch->staged[scratch->stagedNext];
    const uint8_t* base = scratch->stage.data() + static_cast<size_t>(scratch->stagedNext) * kGroBufferBytes;
    if (m.empty && count < slab.capacity) {
      slab.lengths[count] = 0;
      memcpy(slab.addrs + static_cast<size_t>(count) * kAddrStride, m.addr, kAddrStride);
      count++;
      m.empty = false;
    }
    while (m.next < m.end && count < slab.capacity) {
      uint32_t len = m.end - m.next < m.segment ? m.end - m.next : m.segment;
      if (len <= room) {
        memcpy(slab.base + static_cast<size_t>(count) * slab.stride + slab.headroom, base + m.next, len);
        slab.lengths[count] = len;
        memcpy(slab.addrs + static_cast<size_t>(count) * kAddrStride, m.addr, kAddrStride);
        count++;
      }
      m.next += len;
    }
    if (m.next >= m.end && !m.empty) scratch->stagedNext++;
  }
  return count;
}

// recvmmsg() into the GRO buffers; each message holds one datagram or a run of `segment`-byte ones.
uint32_t RecvGro(int fd, const Slab& slab, MsgScratch* scratch, int* err) {
  constexpr size_t kControlBytes = CMSG_SPACE(sizeof(int));
  if (scratch->stage.empty()) {
    scratch->stage.resize(static_cast<size_t>(kGroMessages) * kGroBufferBytes);
    scratch->groMsgs.resize(kGroMessages);
    scratch->groIovs.resize(kGroMessages);
    scratch->groNames.resize(kGroMessages);
    scratch->groControl.resize(kGroMessages * kControlBytes);
  }
  uint32_t count = DeliverStaged(slab, scratch, 0);
  if (scratch->HasPending() || count == slab.capacity) return count;
  scratch->stagedCount = 0;
  scratch->stagedNext = 0;
  for (uint32_t i = 0; i < kGroMessages; i++) {
    struct iovec& iov = scratch->groIovs[i];
    iov.iov_base = scratch->stage.data() + static_cast<size_t>(i) * kGroBufferBytes;
    iov.iov_len = kGroBufferBytes;
    struct msghdr& h = scratch->groMsgs[i].msg_hdr;
    memset(&h, 0, sizeof(h));
    h.msg_name = &scratch->groNames[i];
    h.msg_namelen = sizeof(struct sockaddr_storage);
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = scratch->groControl.data() + i * kControlBytes;
    h.msg_controllen = kControlBytes;
  }
  int got;
  do {
    got = recvmmsg(fd, scratch->groMsgs.data(), kGroMessages, MSG_DONTWAIT, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) *err = -errno;
    return count;
  }
  for (int i = 0; i < got; i++) {
    struct msghdr& h = scratch->groMsgs[i].msg_hdr;
    MsgScratch::Staged& m = scratch->staged[i];
    m.next = 0;
    m.end = scratch->groMsgs[i].msg_len;
    m.segment = m.end;
    m.empty = m.end == 0;
    // Cut short (cannot happen below 64 KiB): nothing of it is handed over.
    if (h.msg_flags & MSG_TRUNC) m.end = 0;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int segment;
        memcpy(&segment, CMSG_DATA(c), sizeof(segment));
        if (segment > 0) m.segment = static_cast<uint32_t>(segment);
      }
    }
    if (m.segment == 0) m.segment = 1;
    EncodeAddr(scratch->groNames[i], m.addr);
  }
  scratch->stagedCount = static_cast<uint32_t>(got);
  return DeliverStaged(slab, scratch, count);
}

}  // namespace

uint32_t RecvDatagrams(int fd, const Slab& slab, MsgScratch* scratch, int* err) {
  *err = 0;
  if (scratch->HasPending() || GroEnabled(fd)) return RecvGro(fd, slab, scratch, err);
  const uint32_t n = slab.capacity;
  for (uint32_t i = 0; i < n; i++) {
    struct iovec& iov = scratch->iovs[i];
    iov.iov_base = slab.base + static_cast<size_t>(i) * slab.stride + slab.headroom;
    iov.iov_len = slab.stride - slab.headroom;
    struct msghdr& h = scratch->msgs[i].msg_hdr;
    memset(&h, 0, sizeof(h));
    h.msg_name = &scratch->names[i];
    h.msg_namelen = sizeof(struct sockaddr_storage);
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
  }
  int got;
  do {
    got = recvmmsg(fd, scratch->msgs.data(), n, MSG_DONTWAIT, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) *err = -errno;
    return 0;
  }
  uint32_t kept = 0;
  for (int i = 0; i < got; i++) {
    // A datagram longer than the slot arrives truncated (MSG_TRUNC): drop it rather than pass a fragment.
    if (scratch->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
    uint32_t len = scratch->msgs[i].msg_len;
    if (kept != static_cast<uint32_t>(i)) {
      memmove(slab.base + static_cast<size_t>(kept) * slab.stride + slab.headroom,
              slab.base + static_cast<size_t>(i) * slab.stride + slab.headroom, len);
    }
    slab.lengths[kept] = len;
    EncodeAddr(scratch->names[i], slab.addrs + static_cast<size_t>(kept) * kAddrStride);
    kept++;
  }
  return kept;
}

Slab ArgSlab(const Napi::CallbackInfo& info, size_t first, const char* usage) {
  Bytes slab = ArgBytes(info, first, usage);
  uint32_t stride = ArgUint(info, first + 1, usage);
  uint32_t headroom = ArgUint(info, first + 2, usage);
  U32s lengths = ArgU32s(info, first + 3, usage);
  if (stride == 0 || headroom >= stride) ThrowUsage(info.Env(), usage);
  Slab s;
  s.base = slab.data;
  s.stride = stride;
  s.headroom = headroom;
  s.lengths = lengths.data;
  size_t fit = slab.length / stride;
  s.capacity = static_cast<uint32_t>(fit < lengths.length ? fit : lengths.length);
  return s;
}

namespace {

// writeFrame(fd, buf, offset, length) → bytes written, or -errno (-EAGAIN when the queue is full).
Napi::Value WriteFrame(const Napi::CallbackInfo& info) {
  const char* usage = "writeFrame(fd: number, buf: Uint8Array, offset: number, length: number)";
  int fd = ArgInt(info, 0, usage);
  Bytes buf = ArgBytes(info, 1, usage);
  uint32_t off = ArgUint(info, 2, usage);
  uint32_t len = ArgUint(info, 3, usage);
  if (static_cast<size_t>(off) + len > buf.length) ThrowUsage(info.Env(), usage);
  ssize_t n;
  if (TapVnet(fd)) {
    n = WriteFrameVnet(fd, buf.data + off, len);
  } else {
    do {
      n = write(fd, buf.data + off, len);
    } while (n < 0 && errno == EINTR);
  }
  return Napi::Number::New(info.Env(), n < 0 ? -errno : static_cast<double>(n));
}

// writeFrames(fd, buf, offsets, lengths, count) → frames the kernel accepted. Stops at EAGAIN; a frame the
// kernel rejects for another reason (e.g. EINVAL) is skipped.
Napi::Value WriteFrames(const Napi::CallbackInfo& info) {
  const char* usage =
      "writeFrames(fd: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number)";
  int fd = ArgInt(info, 0, usage);
  Bytes buf = ArgBytes(info, 1, usage);
  U32s offsets = ArgU32s(info, 2, usage);
  U32s lengths = ArgU32s(info, 3, usage);
  uint32_t count = ArgUint(info, 4, usage);
  if (count > offsets.length || count > lengths.length) ThrowUsage(info.Env(), usage);
  for (uint32_t i = 0; i < count; i++) {
    if (static_cast<size_t>(offsets.data[i]) + lengths.data[i] > buf.length) ThrowUsage(info.Env(), usage);
  }
  if (TapVnet(fd)) {
    return Napi::Number::New(info.Env(), WriteFramesVnet(fd, buf.data, offsets.data, lengths.data, count));
  }
  uint32_t accepted = 0;
  for (uint32_t i = 0; i < count; i++) {
    ssize_t n;
    do {
      n = write(fd, buf.data + offsets.data[i], lengths.data[i]);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
      accepted++;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    }
  }
  return Napi::Number::New(info.Env(), accepted);
}

// readFrames(fd, slab, stride, headroom, lengths) → frames read (≥ 0) or -errno. Synchronous.
Napi::Value ReadFramesJs(const Napi::CallbackInfo& info) {
  const char* usage =
      "readFrames(fd: number, slab: Uint8Array, stride: number, headroom: number, lengths: Uint32Array)";
  int fd = ArgInt(info, 0, usage);
  Slab slab = ArgSlab(info, 1, usage);
  int err = 0;
  uint32_t n = ReadFrames(fd, slab, nullptr, &err);
  return Napi::Number::New(info.Env(), n == 0 && err != 0 ? err : static_cast<double>(n));
}

}  // namespace

void InitFrames(Napi::Env env, Napi::Object exports) {
  exports.Set("writeFrame", Napi::Function::New(env, WriteFrame, "writeFrame"));
  exports.Set("writeFrames", Napi::Function::New(env, WriteFrames, "writeFrames"));
  exports.Set("readFrames", Napi::Function::New(env, ReadFramesJs, "readFrames"));
  exports.Set("ADDR_STRIDE", Napi::Number::New(env, kAddrStride));
  // EncodeAddr hands IPv4-mapped sources of a dual-stack socket over as IPv4 entries (JS opens one only then).
  exports.Set("ADDR_V4_MAPPED_AS_V4", Napi::Boolean::New(env, true));
}

}  // namespace tsn2n
