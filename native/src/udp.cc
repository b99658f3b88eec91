// Batched UDP on a non-blocking socket: bind, sendmmsg of many datagrams in one call (UDP GSO for runs of
// equal-size datagrams to one destination), single sendto.
#include "udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <vector>

#include "errors.h"
#include "frames.h"

namespace tsn2n {
namespace {

constexpr uint32_t kMaxPort = 65535;
// Datagrams handed to one sendmmsg() call; the kernel caps a call at UIO_MAXIOV (1024) anyway.
constexpr uint32_t kSendChunk = 256;

// UDP generic segmentation offload (Linux 4.18+, udp(7) UDP_SEGMENT): a run of datagrams of one size to one
// destination (the last may be shorter) is handed to the kernel as one message, which cuts it into exactly
// those datagrams on the way out; the routing, bridge and netfilter work is done once per run, not per
// datagram. Each datagram on the wire is the same as if sent alone.
// Segments per message: the kernel's UDP_MAX_SEGMENTS has been 64 (4.18) and 128 (later); 64 fits both.
constexpr uint32_t kGsoMaxSegments = 64;
// Payload bytes per message: the UDP length field (16 bits) covers the 8-byte header, IPv4 also its
// 20-byte header; kept below both with margin.
constexpr uint32_t kGsoMaxBytes = 65000;
// GsoLimit (frames.h) of a socket with GSO on: any datagram size may start a run.
constexpr uint16_t kGsoUnlimited = 65535;

// True when the kernel knows UDP_SEGMENT on this socket (reading it back works since 4.18).
bool GsoSupported(int fd) {
  int size = 0;
  socklen_t len = sizeof(size);
  return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
}

// udpOpen(family, address, port, rcvbufBytes, sndbufBytes) → { fd, address, port }. A buffer size of 0
// keeps the kernel default. IPv6 sockets are dual-stack (IPV6_V6ONLY off), like node:dgram's udp6.
Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "udpOpen(family: 4 | 6, address: string, port: number, rcvbufBytes: number, sndbufBytes: number)";
  uint32_t family = ArgUint(info, 0, usage);
  std::string address = ArgString(info, 1, usage);
  uint32_t port = ArgUint(info, 2, usage);
  uint32_t rcvbuf = ArgUint(info, 3, usage);
  uint32_t sndbuf = ArgUint(info, 4, usage);
  if ((family != 4 && family != 6) || port > kMaxPort) ThrowUsage(env, usage);

  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t sslen;
  if (family == 4) {
    auto* sin = reinterpret_cast<struct sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &sin->sin_addr) != 1) ThrowUsage(env, usage);
    sslen = sizeof(*sin);
  } else {
    auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &sin6->sin6_addr) != 1) ThrowUsage(env, usage);
    sslen = sizeof(*sin6);
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    ThrowErrno(env, err, std::string("creating a UDP socket failed: ") + strerror(err), "socket");
  }
  if (family == 6) {
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  }
  // Larger socket buffers absorb bursts (and a flood while the process waits for a CPU). With CAP_NET_ADMIN
  // (edges run as root for the TAP) SO_RCVBUFFORCE may exceed net.core.rmem_max, as wireguard-go does; else
  // SO_RCVBUF, which the kernel clamps to rmem_max. Failure is not fatal.
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&ss), sslen) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "bind " + std::string(ErrnoName(err)) + " " + address + ":" + std::to_string(port),
               "bind");
  }
  SetGsoLimit(fd, GsoSupported(fd) ? kGsoUnlimited : 0);
  SetGroEnabled(fd, false);
  struct sockaddr_storage local;
  socklen_t llen = sizeof(local);
  getsockname(fd, reinterpret_cast<struct sockaddr*>(&local), &llen);
  char text[INET6_ADDRSTRLEN] = {0};
  uint16_t localPort;
  if (local.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<struct sockaddr_in*>(&local);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    localPort = ntohs(sin->sin_port);
  } else {
    auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&local);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    localPort = ntohs(sin6->sin6_port);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("address", Napi::String::New(env, text));
  out.Set("port", Napi::Number::New(env, localPort));
  return out;
}

// udpSend(fd, buf, offset, length, addrs, addrIndex) → bytes sent or -errno.
Napi::Value UdpSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "udpSend(fd: number, buf: Uint8Array, offset: number, length: number, addrs: Uint8Array, index: number)";
  int fd = ArgInt(info, 0, usage);
  Bytes buf = ArgBytes(info, 1, usage);
  uint32_t off = ArgUint(info, 2, usage);
  uint32_t len = ArgUint(info, 3, usage);
  Bytes addrs = ArgBytes(info, 4, usage);
  uint32_t index = ArgUint(info, 5, usage);
  if (static_cast<size_t>(off) + len > buf.length) ThrowUsage(env, usage);
  if ((static_cast<size_t>(index) + 1) * kAddrStride > addrs.length) ThrowUsage(env, usage);
  struct sockaddr_storage ss;
  socklen_t sslen = DecodeAddr(addrs.data + static_cast<size_t>(index) * kAddrStride, &ss);
  if (sslen == 0) return Napi::Number::New(env, -EAFNOSUPPORT);
  ssize_t n;
  do {
    n = sendto(fd, buf.data + off, len, 0, reinterpret_cast<struct sockaddr*>(&ss), sslen);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
}

// Sends each datagram of one message on its own (after the kernel refused the message as a GSO run).
// Returns how many were accepted; *stop is set at EAGAIN (the send buffer is full: the rest would fail too).
uint32_t SendEach(int fd, const struct msghdr& h, bool* stop) {
  uint32_t accepted = 0;
  for (size_t k = 0; k < h.msg_iovlen; k++) {
    ssize_t n;
    do {
      n = sendto(fd, h.msg_iov[k].iov_base, h.msg_iov[k].iov_len, 0, static_cast<struct sockaddr*>(h.msg_name),
                 h.msg_namelen);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
      accepted++;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      *stop = true;
      break;
    }
  }
  return accepted;
}

// udpSendBatch(fd, buf, offsets, lengths, addrs, count) → datagrams the kernel accepted. Datagram i is
// buf[offsets[i], +lengths[i]) to the address entry i of `addrs`. Stops at EAGAIN; a datagram refused for
// another reason (unreachable network, bad address) is skipped. Consecutive datagrams to one address whose
// lengths are equal (the last of a run may be shorter) go as one GSO message where the socket allows it.
Napi::Value UdpSendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "udpSendBatch(fd: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, addrs: Uint8Array, "
      "count: number)";
  int fd = ArgInt(info, 0, usage);
  Bytes buf = ArgBytes(info, 1, usage);
  U32s offsets = ArgU32s(info, 2, usage);
  U32s lengths = ArgU32s(info, 3, usage);
  Bytes addrs = ArgBytes(info, 4, usage);
  uint32_t count = ArgUint(info, 5, usage);
  if (count > offsets.length || count > lengths.length || static_cast<size_t>(count) * kAddrStride > addrs.length) {
    ThrowUsage(env, usage);
  }
  for (uint32_t i = 0; i < count; i++) {
    if (static_cast<size_t>(offsets.data[i]) + lengths.data[i] > buf.length) ThrowUsage(env, usage);
  }
  // Per-call scratch on the stack: sendmmsg needs an array of headers, names and iovecs. One iovec per
  // datagram; a message covers one datagram or a GSO run of consecutive ones.
  struct mmsghdr msgs[kSendChunk];
  struct iovec iovs[kSendChunk];
  struct sockaddr_storage names[kSendChunk];
  alignas(struct cmsghdr) uint8_t controls[kSendChunk][CMSG_SPACE(sizeof(uint16_t))];
  uint32_t accepted = 0;
  uint32_t next = 0;
  while (next < count) {
    const uint16_t gsoLimit = GsoLimit(fd);
    uint32_t n = count - next < kSendChunk ? count - next : kSendChunk;
    uint32_t m = 0;  // messages built
    uint32_t segSize = 0;  // of the open run (message m - 1); 0: no run open
    uint32_t runBytes = 0;
    const uint8_t* runAddr = nullptr;
    for (uint32_t j = 0; j < n; j++) {
      uint32_t i = next + j;
      const uint8_t* entry = addrs.data + static_cast<size_t>(i) * kAddrStride;
      uint32_t len = lengths.data[i];
      struct iovec& iov = iovs[j];
      iov.iov_base = buf.data + offsets.data[i];
      iov.iov_len = len;
      if (segSize != 0 && len > 0 && len <= segSize && msgs[m - 1].msg_hdr.msg_iovlen < kGsoMaxSegments &&
          runBytes + len <= kGsoMaxBytes && memcmp(entry, runAddr, kAddrStride) == 0) {
        // Joins the run; a shorter datagram ends it (only the last segment may be short).
        struct msghdr& h = msgs[m - 1].msg_hdr;
        h.msg_iovlen++;
        runBytes += len;
        if (len < segSize) segSize = 0;
        continue;
      }
      socklen_t sslen = DecodeAddr(entry, &names[m]);
      if (sslen == 0) {
        segSize = 0;
        continue;
      }
      memset(&msgs[m], 0, sizeof(msgs[m]));
      struct msghdr& h = msgs[m].msg_hdr;
      h.msg_name = &names[m];
      h.msg_namelen = sslen;
      h.msg_iov = &iov;
      h.msg_iovlen = 1;
      segSize = len > 0 && len <= gsoLimit ? len : 0;
      runBytes = len;
      runAddr = entry;
      m++;
    }
    next += n;
    // Runs of two or more datagrams carry their segment size; the kernel cuts them there.
    for (uint32_t k = 0; k < m; k++) {
      struct msghdr& h = msgs[k].msg_hdr;
      if (h.msg_iovlen < 2) continue;
      h.msg_control = controls[k];
      h.msg_controllen = sizeof(controls[k]);
      struct cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t size = static_cast<uint16_t>(h.msg_iov[0].iov_len);
      memcpy(CMSG_DATA(c), &size, sizeof(size));
    }
    uint32_t done = 0;
    while (done < m) {
      int sent = sendmmsg(fd, msgs + done, m - done, 0);
      if (sent < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) return Napi::Number::New(env, accepted);
        const struct msghdr& h = msgs[done].msg_hdr;
        if (h.msg_iovlen > 1) {
          // The run was refused as a whole: a segment size over the path's limit (EINVAL, EMSGSIZE) is not
          // tried again on this socket; a device or kernel without UDP GSO (EIO, EOPNOTSUPP, ENOPROTOOPT)
          // ends GSO on it. Either way its datagrams go one by one now.
          if (err == EINVAL || err == EMSGSIZE) {
            uint16_t limit = static_cast<uint16_t>(h.msg_iov[0].iov_len - 1);
            if (limit < GsoLimit(fd)) SetGsoLimit(fd, limit);
          } else {
            SetGsoLimit(fd, 0);
          }
          bool stop = false;
          accepted += SendEach(fd, h, &stop);
          if (stop) return Napi::Number::New(env, accepted);
        }
        // A single datagram refused (unreachable network, bad address): skipped.
        done++;
        continue;
      }
      for (int k = 0; k < sent; k++) accepted += static_cast<uint32_t>(msgs[done + k].msg_hdr.msg_iovlen);
      done += static_cast<uint32_t>(sent);
    }
  }
  return Napi::Number::New(env, accepted);
}

// udpSetOption(fd, family, name, value): 'ttl' (1..255), 'tos' (0..255), 'pmtud' (1 = set DF and discover
// the path MTU, 0 = never set DF), 'gso' (0 = send every datagram of a batch on its own, 1 = GSO runs where
// the kernel supports them, the default) or 'gro' (1 = let the kernel coalesce received datagrams, which the
// poller splits again; default 0). On a dual-stack IPv6 socket the IPv4 option is set as well, for IPv4 peers.
void UdpSetOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "udpSetOption(fd: number, family: 4 | 6, name: 'ttl' | 'tos' | 'pmtud' | 'gso' | 'gro', value: number) with "
      "ttl 1..255, tos 0..255, pmtud, gso and gro 0 or 1";
  int fd = ArgInt(info, 0, usage);
  uint32_t family = ArgUint(info, 1, usage);
  std::string name = ArgString(info, 2, usage);
  uint32_t value = ArgUint(info, 3, usage);
  if (family != 4 && family != 6) ThrowUsage(env, usage);
  if (name == "gso" && value <= 1) {
    SetGsoLimit(fd, value == 1 && GsoSupported(fd) ? kGsoUnlimited : 0);
    return;
  }
  if (name == "gro" && value <= 1) {
    // Best effort: a kernel without UDP GRO (before 5.0) refuses it and datagrams keep coming one by one.
    int on = static_cast<int>(value);
    bool ok = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
    SetGroEnabled(fd, ok && on == 1);
    return;
  }
  int v4opt;
  int v6opt;
  int v4val = static_cast<int>(value);
  int v6val = static_cast<int>(value);
  constexpr uint32_t kMaxByte = 255;
  if (name == "ttl" && value >= 1 && value <= kMaxByte) {
    v4opt = IP_TTL;
    v6opt = IPV6_UNICAST_HOPS;
  } else if (name == "tos" && value <= kMaxByte) {
    v4opt = IP_TOS;
    v6opt = IPV6_TCLASS;
  } else if (name == "pmtud" && value <= 1) {
    v4opt = IP_MTU_DISCOVER;
    v6opt = IPV6_MTU_DISCOVER;
    v4val = value ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
    v6val = value ? IPV6_PMTUDISC_DO : IPV6_PMTUDISC_DONT;
  } else {
    ThrowUsage(env, usage);
  }
  if (family == 6) {
    if (setsockopt(fd, IPPROTO_IPV6, v6opt, &v6val, sizeof(v6val)) < 0) {
      int err = errno;
      ThrowErrno(env, err, "setting the UDP socket option " + name + " failed: " + strerror(err), "setsockopt");
    }
    // Best effort: the IPv4 twin matters only for IPv4-mapped peers of a dual-stack socket.
    setsockopt(fd, IPPROTO_IP, v4opt, &v4val, sizeof(v4val));
    return;
  }
  if (setsockopt(fd, IPPROTO_IP, v4opt, &v4val, sizeof(v4val)) < 0) {
    int err = errno;
    ThrowErrno(env, err, "setting the UDP socket option " + name + " failed: " + strerror(err), "setsockopt");
  }
}

}  // namespace

void InitUdp(Napi::Env env, Napi::Object exports) {
  exports.Set("udpOpen", Napi::Function::New(env, UdpOpen, "udpOpen"));
  exports.Set("udpSend", Napi::Function::New(env, UdpSend, "udpSend"));
  exports.Set("udpSendBatch", Napi::Function::New(env, UdpSendBatch, "udpSendBatch"));
  exports.Set("udpSetOption", Napi::Function::New(env, UdpSetOption, "udpSetOption"));
}

}  // namespace tsn2n
