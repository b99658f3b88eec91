// Sending a run of datagrams to IPv4 sockets in one sendmmsg, consecutive equal-size ones to one socket as UDP GSO.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <vector>

namespace tsn2n {

// One outgoing datagram: its bytes and its destination (IPv4 address and port, big-endian).
struct Ipv4Out {
  const uint8_t* data;
  uint32_t len;
  uint8_t ip[4];
  uint8_t port[2];
};

// Kept between calls so that a steady flow of batches allocates nothing.
struct Ipv4SendScratch {
  std::vector<struct mmsghdr> msgs;
  std::vector<struct iovec> iovs;
  std::vector<struct sockaddr_in> names;
  std::vector<uint8_t> controls;
};

// Sends out[0, count) on fd (an IPv4 or a dual-stack IPv6 socket: Linux takes an AF_INET name on either):
// consecutive datagrams to one socket whose lengths are equal (the last may be shorter) as one GSO message where
// the socket allows it (frames.h GsoLimit), as udp.cc's batched send does. Stops at EAGAIN. Returns how many
// datagrams the kernel accepted.
uint32_t SendIpv4Runs(int fd, const Ipv4Out* out, uint32_t count, Ipv4SendScratch* scratch);

}  // namespace tsn2n
