// Batched UDP on a non-blocking socket: bind, sendmmsg of many datagrams in one call, single sendto.
#include "udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
  // Larger socket buffers absorb bursts; failure (over rmem_max) is not fatal, the kernel clamps.
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&ss), sslen) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "bind " + std::string(ErrnoName(err)) + " " + address + ":" + std::to_string(port),
               "bind");
  }
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

// udpSendBatch(fd, buf, offsets, lengths, addrs, count) → datagrams the kernel accepted. Datagram i is
// buf[offsets[i], +lengths[i]) to the address entry i of `addrs`. Stops at EAGAIN; a datagram refused for
// another reason (unreachable network, bad address) is skipped.
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
  // Per-call scratch on the stack: sendmmsg needs an array of headers, names and iovecs.
  struct mmsghdr msgs[kSendChunk];
  struct iovec iovs[kSendChunk];
  struct sockaddr_storage names[kSendChunk];
  uint32_t accepted = 0;
  uint32_t next = 0;
  while (next < count) {
    uint32_t n = count - next < kSendChunk ? count - next : kSendChunk;
    uint32_t valid = 0;
    for (uint32_t j = 0; j < n; j++) {
      uint32_t i = next + j;
      socklen_t sslen = DecodeAddr(addrs.data + static_cast<size_t>(i) * kAddrStride, &names[valid]);
      if (sslen == 0) continue;
      iovs[valid].iov_base = buf.data + offsets.data[i];
      iovs[valid].iov_len = lengths.data[i];
      memset(&msgs[valid], 0, sizeof(msgs[valid]));
      msgs[valid].msg_hdr.msg_name = &names[valid];
      msgs[valid].msg_hdr.msg_namelen = sslen;
      msgs[valid].msg_hdr.msg_iov = &iovs[valid];
      msgs[valid].msg_hdr.msg_iovlen = 1;
      valid++;
    }
    next += n;
    uint32_t done = 0;
    while (done < valid) {
      int sent = sendmmsg(fd, msgs + done, valid - done, 0);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, accepted);
        // This datagram was refused: skip it and go on with the rest.
        done++;
        continue;
      }
      accepted += static_cast<uint32_t>(sent);
      done += static_cast<uint32_t>(sent);
    }
  }
  return Napi::Number::New(env, accepted);
}

// udpSetOption(fd, family, name, value): 'ttl' (1..255), 'tos' (0..255) or 'pmtud' (1 = set DF and discover
// the path MTU, 0 = never set DF). On a dual-stack IPv6 socket the IPv4 option is set as well, for IPv4 peers.
void UdpSetOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage =
      "udpSetOption(fd: number, family: 4 | 6, name: 'ttl' | 'tos' | 'pmtud', value: number) with ttl 1..255, "
      "tos 0..255, pmtud 0 or 1";
  int fd = ArgInt(info, 0, usage);
  uint32_t family = ArgUint(info, 1, usage);
  std::string name = ArgString(info, 2, usage);
  uint32_t value = ArgUint(info, 3, usage);
  if (family != 4 && family != 6) ThrowUsage(env, usage);
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
