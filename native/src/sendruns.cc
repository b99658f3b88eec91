// Sending a run of datagrams to IPv4 sockets in one sendmmsg (the edge's fast path and the supernode's relay).
#include "sendruns.h"

#include <errno.h>
#include <netinet/udp.h>
#include <string.h>

#include "frames.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace tsn2n {

namespace {
// UDP GSO limits, as udp.cc's batched send: segments per message and payload bytes per message.
constexpr uint32_t kGsoMaxSegments = 64;
constexpr uint32_t kGsoMaxBytes = 65000;
constexpr size_t kControlBytes = CMSG_SPACE(sizeof(uint16_t));

bool SameSocket(const Ipv4Out& a, const Ipv4Out& b) {
  return memcmp(a.ip, b.ip, sizeof(a.ip)) == 0 && memcmp(a.port, b.port, sizeof(a.port)) == 0;
}
}  // namespace

uint32_t SendIpv4Runs(int fd, const Ipv4Out* out, uint32_t count, Ipv4SendScratch* s) {
  if (count == 0) return 0;
  if (s->msgs.size() < count) {
    s->msgs.resize(count);
    s->iovs.resize(count);
    s->names.resize(count);
    s->controls.resize(static_cast<size_t>(count) * kControlBytes);
  }
  struct mmsghdr* msgs = s->msgs.data();
  struct iovec* iovs = s->iovs.data();
  const uint16_t gsoLimit = GsoLimit(fd);
  uint32_t m = 0;
  uint32_t segSize = 0;
  uint32_t runBytes = 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t len = out[i].len;
    iovs[i].iov_base = const_cast<uint8_t*>(out[i].data);
    iovs[i].iov_len = len;
    if (segSize != 0 && len <= segSize && SameSocket(out[i], out[i - 1]) &&
        msgs[m - 1].msg_hdr.msg_iovlen < kGsoMaxSegments && runBytes + len <= kGsoMaxBytes) {
      msgs[m - 1].msg_hdr.msg_iovlen++;
      runBytes += len;
      if (len < segSize) segSize = 0;
      continue;
    }
    struct sockaddr_in& sin = s->names[m];
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    memcpy(&sin.sin_addr, out[i].ip, sizeof(out[i].ip));
    memcpy(&sin.sin_port, out[i].port, sizeof(out[i].port));
    memset(&msgs[m], 0, sizeof(msgs[m]));
    struct msghdr& h = msgs[m].msg_hdr;
    h.msg_name = &sin;
    h.msg_namelen = sizeof(sin);
    h.msg_iov = &iovs[i];
    h.msg_iovlen = 1;
    segSize = len <= gsoLimit ? len : 0;
    runBytes = len;
    m++;
  }
  for (uint32_t k = 0; k < m; k++) {
    struct msghdr& h = msgs[k].msg_hdr;
    if (h.msg_iovlen < 2) continue;
    h.msg_control = s->controls.data() + static_cast<size_t>(k) * kControlBytes;
    h.msg_controllen = kControlBytes;
    struct cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t size = static_cast<uint16_t>(h.msg_iov[0].iov_len);
    memcpy(CMSG_DATA(c), &size, sizeof(size));
  }
  uint32_t accepted = 0;
  uint32_t done = 0;
  while (done < m) {
    const int sent = sendmmsg(fd, msgs + done, m - done, 0);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      struct msghdr& h = msgs[done].msg_hdr;
      if (h.msg_iovlen > 1) {
        // A run refused as a whole: no GSO on this socket any more (udp.cc's send learns the same), one by one.
        SetGsoLimit(fd, 0);
        for (size_t j = 0; j < h.msg_iovlen; j++) {
          ssize_t n;
          do {
            n = sendto(fd, h.msg_iov[j].iov_base, h.msg_iov[j].iov_len, 0, static_cast<struct sockaddr*>(h.msg_name),
                       h.msg_namelen);
          } while (n < 0 && errno == EINTR);
          if (n >= 0) accepted++;
        }
      }
      done++;
      continue;
    }
    for (int k = 0; k < sent; k++) accepted += static_cast<uint32_t>(msgs[done + k].msg_hdr.msg_iovlen);
    done += static_cast<uint32_t>(sent);
  }
  return accepted;
}

}  // namespace tsn2n
