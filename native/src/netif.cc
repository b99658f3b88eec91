// TAP creation (/dev/net/tun, IFF_TAP|IFF_NO_PI, non-blocking) and interface configuration through ioctls.
#include "netif.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "errors.h"
#include "frames.h"
#include "tapoffload.h"

namespace tsn2n {
namespace {

constexpr const char* kTunPath = "/dev/net/tun";
constexpr int kMacBytes = 6;
constexpr int kIpv4Bits = 32;
// Largest MTU we accept; matches MAX_FRAME_BYTES (9014) minus the 14-byte Ethernet header on the JS side.
constexpr uint32_t kMaxMtu = 9000;
// Smallest MTU Linux accepts for IPv4 on an Ethernet device (RFC 791 minimum datagram).
constexpr uint32_t kMinMtu = 68;
constexpr double kMaxMac = 281474976710655.0;  // 2^48 - 1

// A socket for SIOC* interface ioctls, closed when it leaves scope.
class IoctlSocket {
 public:
  IoctlSocket() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~IoctlSocket() {
    if (fd_ >= 0) close(fd_);
  }
  IoctlSocket(const IoctlSocket&) = delete;
  IoctlSocket& operator=(const IoctlSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

void CheckName(Napi::Env env, const std::string& name, const char* usage) {
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) ThrowUsage(env, usage);
}

void FillName(struct ifreq* ifr, const std::string& name) {
  memset(ifr, 0, sizeof(*ifr));
  memcpy(ifr->ifr_name, name.data(), name.size());
}

// Throws the clear message for a failed configuration ioctl.
[[noreturn]] void ThrowConfig(Napi::Env env, int err, const std::string& name, const std::string& what,
                              const char* syscall) {
  if (err == EPERM || err == EACCES) {
    ThrowErrno(env, err, "configuring TAP device " + name + " needs root or CAP_NET_ADMIN", syscall);
  }
  if (err == ENODEV) ThrowErrno(env, err, "there is no network interface named " + name, syscall);
  ThrowErrno(env, err, what + " of " + name + " failed: " + strerror(err), syscall);
}

void Ioctl(Napi::Env env, const IoctlSocket& s, unsigned long req, struct ifreq* ifr, const std::string& name,
           const char* what, const char* syscall) {
  if (s.fd() < 0) ThrowErrno(env, errno, std::string("socket() for ") + what + " failed", "socket");
  if (ioctl(s.fd(), req, ifr) < 0) ThrowConfig(env, errno, name, what, syscall);
}

// tapOpen(name, offload?) → { fd, name, offload }: name may be "" (kernel picks tapN) or contain %d. With
// offload (default false) every frame carries a virtio-net header and the device takes checksum offload and TSO
// (tapoffload.h does what the "hardware" would); `offload` in the result says whether the kernel accepted it.
Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "tapOpen(name: string, offload?: boolean) with a name shorter than 16 bytes";
  std::string name = ArgString(info, 0, usage);
  bool offload = false;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsBoolean()) ThrowUsage(env, usage);
    offload = info[1].As<Napi::Boolean>().Value();
  }
  if (name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) ThrowUsage(env, usage);
  std::string shown = name.empty() ? "(kernel-assigned name)" : name;
  int fd = open(kTunPath, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == EPERM || err == EACCES) {
      ThrowErrno(env, err, "creating TAP device " + shown + " needs root or CAP_NET_ADMIN", "open");
    }
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      ThrowErrno(env, err,
                 "creating TAP device " + shown + " needs /dev/net/tun, which is missing (load the tun module)",
                 "open");
    }
    ThrowErrno(env, err, "creating TAP device " + shown + " failed: cannot open /dev/net/tun: " + strerror(err),
               "open");
  }
  struct ifreq ifr;
  FillName(&ifr, name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    if (err == EPERM || err == EACCES) {
      ThrowErrno(env, err, "creating TAP device " + shown + " needs root or CAP_NET_ADMIN", "ioctl");
    }
    if (err == EBUSY || err == EINVAL) {
      ThrowErrno(env, err,
                 "creating TAP device " + shown + " failed: the name is taken by another interface or process",
                 "ioctl");
    }
    ThrowErrno(env, err, "creating TAP device " + shown + " failed: " + strerror(err), "ioctl");
  }
  bool offloaded = false;
  if (offload) {
    int hdrBytes = static_cast<int>(kVnetHdrBytes);
    const unsigned int features = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    // Without the offloads (old kernel) the header stays, all zero: frames go through whole either way.
    offloaded = ioctl(fd, TUNSETVNETHDRSZ, &hdrBytes) == 0 && ioctl(fd, TUNSETOFFLOAD, features) == 0;
  }
  SetTapVnet(fd, offload);
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  out.Set("offload", Napi::Boolean::New(env, offloaded));
  return out;
}

// ifSetMac(name, mac) with the MAC as a 48-bit number.
void IfSetMac(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "ifSetMac(name: string, mac: number) with a 48-bit MAC";
  std::string name = ArgString(info, 0, usage);
  CheckName(env, name, usage);
  double mac = ArgNumber(info, 1, usage);
  if (!(mac >= 0 && mac <= kMaxMac) || mac != static_cast<double>(static_cast<uint64_t>(mac))) {
    ThrowUsage(env, usage);
  }
  uint64_t m = static_cast<uint64_t>(mac);
  struct ifreq ifr;
  FillName(&ifr, name);
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  for (int i = 0; i < kMacBytes; i++) {
    ifr.ifr_hwaddr.sa_data[i] = static_cast<char>((m >> (8 * (kMacBytes - 1 - i))) & 0xff);
  }
  IoctlSocket s;
  Ioctl(env, s, SIOCSIFHWADDR, &ifr, name, "setting the MAC address", "ioctl(SIOCSIFHWADDR)");
}

void IfSetMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "ifSetMtu(name: string, mtu: number) with 68 <= mtu <= 9000";
  std::string name = ArgString(info, 0, usage);
  CheckName(env, name, usage);
  uint32_t mtu = ArgUint(info, 1, usage);
  if (mtu < kMinMtu || mtu > kMaxMtu) ThrowUsage(env, usage);
  struct ifreq ifr;
  FillName(&ifr, name);
  ifr.ifr_mtu = static_cast<int>(mtu);
  IoctlSocket s;
  Ioctl(env, s, SIOCSIFMTU, &ifr, name, "setting the MTU", "ioctl(SIOCSIFMTU)");
}

void IfSetTxQueueLen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "ifSetTxQueueLen(name: string, frames: number)";
  std::string name = ArgString(info, 0, usage);
  CheckName(env, name, usage);
  uint32_t qlen = ArgUint(info, 1, usage);
  struct ifreq ifr;
  FillName(&ifr, name);
  ifr.ifr_qlen = static_cast<int>(qlen);
  IoctlSocket s;
  Ioctl(env, s, SIOCSIFTXQLEN, &ifr, name, "setting the transmit queue length", "ioctl(SIOCSIFTXQLEN)");
}

void SetSockaddrIn(struct sockaddr* sa, uint32_t addr) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(addr);
  memcpy(sa, &sin, sizeof(sin));
}

uint32_t GetSockaddrIn(const struct sockaddr* sa) {
  struct sockaddr_in sin;
  memcpy(&sin, sa, sizeof(sin));
  return ntohl(sin.sin_addr.s_addr);
}

// ifSetIpv4(name, addr, bitlen): addr as u32; 0/0 removes the address.
void IfSetIpv4(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "ifSetIpv4(name: string, addr: u32, bitlen: 0..32)";
  std::string name = ArgString(info, 0, usage);
  CheckName(env, name, usage);
  uint32_t addr = ArgUint(info, 1, usage);
  uint32_t bitlen = ArgUint(info, 2, usage);
  if (bitlen > kIpv4Bits) ThrowUsage(env, usage);
  IoctlSocket s;
  struct ifreq ifr;
  FillName(&ifr, name);
  // SIOCSIFADDR with 0.0.0.0 deletes the interface's primary address (devinet_ioctl).
  SetSockaddrIn(&ifr.ifr_addr, addr);
  Ioctl(env, s, SIOCSIFADDR, &ifr, name, "setting the IPv4 address", "ioctl(SIOCSIFADDR)");
  if (addr == 0) return;
  uint32_t mask = bitlen == 0 ? 0 : (0xffffffffu << (kIpv4Bits - bitlen));
  FillName(&ifr, name);
  SetSockaddrIn(&ifr.ifr_netmask, mask);
  Ioctl(env, s, SIOCSIFNETMASK, &ifr, name, "setting the netmask", "ioctl(SIOCSIFNETMASK)");
  constexpr uint32_t kPointToPointBits = 31;
  if (bitlen < kPointToPointBits) {
    FillName(&ifr, name);
    SetSockaddrIn(&ifr.ifr_broadaddr, addr | ~mask);
    Ioctl(env, s, SIOCSIFBRDADDR, &ifr, name, "setting the broadcast address", "ioctl(SIOCSIFBRDADDR)");
  }
}

void IfSetUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "ifSetUp(name: string, up: boolean)";
  std::string name = ArgString(info, 0, usage);
  CheckName(env, name, usage);
  if (info.Length() < 2 || !info[1].IsBoolean()) ThrowUsage(env, usage);
  bool up = info[1].As<Napi::Boolean>().Value();
  IoctlSocket s;
  struct ifreq ifr;
  FillName(&ifr, name);
  Ioctl(env, s, SIOCGIFFLAGS, &ifr, name, "reading the flags", "ioctl(SIOCGIFFLAGS)");
  if (up) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags & ~IFF_UP);
  }
  Ioctl(env, s, SIOCSIFFLAGS, &ifr, name, up ? "bringing up" : "bringing down", "ioctl(SIOCSIFFLAGS)");
}

// ifGetInfo(name) → { index, mac, mtu, flags, addr, netmask, txQueueLen }.
Napi::Value IfGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "ifGetInfo(name: string)";
  std::string name = ArgString(info, 0, usage);
  CheckName(env, name, usage);
  IoctlSocket s;
  Napi::Object out = Napi::Object::New(env);
  struct ifreq ifr;

  FillName(&ifr, name);
  Ioctl(env, s, SIOCGIFINDEX, &ifr, name, "reading the index", "ioctl(SIOCGIFINDEX)");
  out.Set("index", Napi::Number::New(env, ifr.ifr_ifindex));

  FillName(&ifr, name);
  Ioctl(env, s, SIOCGIFHWADDR, &ifr, name, "reading the MAC address", "ioctl(SIOCGIFHWADDR)");
  uint64_t mac = 0;
  for (int i = 0; i < kMacBytes; i++) mac = (mac << 8) | static_cast<uint8_t>(ifr.ifr_hwaddr.sa_data[i]);
  out.Set("mac", Napi::Number::New(env, static_cast<double>(mac)));

  FillName(&ifr, name);
  Ioctl(env, s, SIOCGIFMTU, &ifr, name, "reading the MTU", "ioctl(SIOCGIFMTU)");
  out.Set("mtu", Napi::Number::New(env, ifr.ifr_mtu));

  FillName(&ifr, name);
  Ioctl(env, s, SIOCGIFFLAGS, &ifr, name, "reading the flags", "ioctl(SIOCGIFFLAGS)");
  out.Set("flags", Napi::Number::New(env, static_cast<uint16_t>(ifr.ifr_flags)));

  FillName(&ifr, name);
  Ioctl(env, s, SIOCGIFTXQLEN, &ifr, name, "reading the transmit queue length", "ioctl(SIOCGIFTXQLEN)");
  out.Set("txQueueLen", Napi::Number::New(env, ifr.ifr_qlen));

  // An interface without an IPv4 address answers EADDRNOTAVAIL: report 0/0.
  uint32_t addr = 0;
  uint32_t mask = 0;
  FillName(&ifr, name);
  if (ioctl(s.fd(), SIOCGIFADDR, &ifr) == 0) {
    addr = GetSockaddrIn(&ifr.ifr_addr);
    FillName(&ifr, name);
    Ioctl(env, s, SIOCGIFNETMASK, &ifr, name, "reading the netmask", "ioctl(SIOCGIFNETMASK)");
    mask = GetSockaddrIn(&ifr.ifr_netmask);
  } else if (errno != EADDRNOTAVAIL) {
    ThrowConfig(env, errno, name, "reading the IPv4 address", "ioctl(SIOCGIFADDR)");
  }
  out.Set("addr", Napi::Number::New(env, addr));
  out.Set("netmask", Napi::Number::New(env, mask));
  return out;
}

// setNetns(fd): moves the calling thread into the network namespace `fd` refers to (used by root tests).
void SetNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "setNetns(fd: number) with an fd of /proc/…/ns/net or /run/netns/<name>");
  if (setns(fd, CLONE_NEWNET) < 0) {
    int err = errno;
    ThrowErrno(env, err, std::string("entering the network namespace failed: ") + strerror(err), "setns");
  }
}

void CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "closeFd(fd: number)");
  if (fd >= 0) {
    ForgetOffloads(fd);
    close(fd);
  }
}

}  // namespace

void InitNetif(Napi::Env env, Napi::Object exports) {
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen, "tapOpen"));
  exports.Set("ifSetMac", Napi::Function::New(env, IfSetMac, "ifSetMac"));
  exports.Set("ifSetMtu", Napi::Function::New(env, IfSetMtu, "ifSetMtu"));
  exports.Set("ifSetTxQueueLen", Napi::Function::New(env, IfSetTxQueueLen, "ifSetTxQueueLen"));
  exports.Set("ifSetIpv4", Napi::Function::New(env, IfSetIpv4, "ifSetIpv4"));
  exports.Set("ifSetUp", Napi::Function::New(env, IfSetUp, "ifSetUp"));
  exports.Set("ifGetInfo", Napi::Function::New(env, IfGetInfo, "ifGetInfo"));
  exports.Set("setNetns", Napi::Function::New(env, SetNetns, "setNetns"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
}

}  // namespace tsn2n
