// FastPath: steady-state P2P PACKETs decrypted to the TAP, and TAP frames encrypted to their peer, in C++.
//
// Receive: the checks of src/edge/receive.ts (edge_utils.c: process_udp / handle_PACKET) for the one case it takes:
// version 3, type PACKET without FROM_SUPERNODE or SOCKET flags, our community, a source MAC whose known socket
// is the sender's, compression none, our transform, a payload that decrypts, a unicast frame of at least an
// Ethernet header addressed to us (unless routing is allowed). Send: those of src/edge/send.ts (edge_utils.c:
// edge_send_packet2net / send_packet) for a unicast frame of at most 2048 bytes from us (unless routing is
// allowed) to a known peer that may still be sent to directly: the same PACKET header, a fresh random preamble
// (the ChaCha20 counter rule of spec §5.6), the payload encrypted. TS enables either direction only in a state
// where the JS path would do exactly this (no -H, filter, MSS clamping or compression) and turns the counters
// into its bookkeeping (src/edge/fastpath.ts). Anything else is left to JS unchanged.
//
// Relayed (setRelay): a PACKET the current supernode relays (FROM_SUPERNODE and SOCKET, an IPv4 sock, not -H)
// from a pending peer whose socket it carries, for a unicast MAC, neither the MAC nor the socket known as a direct
// peer; and a frame to such a pending peer while its next QUERY_PEER is not due, sent to the supernode.
//
// With -H in a community without users (one header key pair that never changes; configureHeader), a received
// datagram is opened in place (its first header bytes kept, and put back if it is left to JS), must be a PACKET
// header (hl = 38, or 46 relayed) and must pass the replay check of src/transform/stamp.ts (StampGenerator.verify
// with the jitter rule, against the peer's record, which is only updated when the packet is taken); a sent one is
// sealed with the next stamp of the process's generator, whose state JS shares, and four random bytes.
#include "fastpath.h"

#include <errno.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "errors.h"
#include "header.h"
#include "sendruns.h"
#include "stamps.h"
#include "tapoffload.h"

namespace tsn2n {

namespace {

constexpr uint32_t kVersion = 3;
constexpr uint32_t kTtl = 2;  // N2N_DEFAULT_TTL
constexpr uint32_t kTypePacket = 3;
constexpr uint32_t kTypeMask = 0x001f;
constexpr uint32_t kFromSupernode = 0x0020;
constexpr uint32_t kSocketFlag = 0x0040;
constexpr uint32_t kCompressionNone = 1;
constexpr uint32_t kCommunityOff = 4;
constexpr uint32_t kCommunityBytes = 20;
constexpr uint32_t kMacBytes = 6;
constexpr uint32_t kSrcMacOff = 24;
constexpr uint32_t kDstMacOff = 30;
constexpr uint32_t kCompressionOff = 36;
constexpr uint32_t kTransformOff = 37;
constexpr uint32_t kPacketHeaderBytes = 38;
// Relayed by a supernode: the sender's IPv4 sock (flags word, port, address) after the MACs.
constexpr uint32_t kSockOff = 36;
constexpr uint32_t kSockBytes = 8;
constexpr uint32_t kSockIpv6Bit = 0x80;
constexpr uint32_t kRelayedHeaderBytes = kPacketHeaderBytes + kSockBytes;
constexpr uint32_t kLocalhost = 0x7f000001;
// Relay stats (Float64Array): rx packets, rx bytes, tx packets, tx bytes in total, then the same per slot.
constexpr uint32_t kRelayStatsPerSlot = 4;
constexpr uint32_t kPreambleBytes = 16;
constexpr uint32_t kMaxPlaintext = 2048;
// A decrypted frame's slot, and a datagram's: header, preamble, the largest plaintext.
constexpr uint32_t kFrameSlot = kMaxPlaintext;
constexpr uint32_t kOutSlot = kPacketHeaderBytes + kPreambleBytes + kMaxPlaintext;
// Peer table entries.
constexpr uint32_t kPeerBytes = 20;
constexpr uint32_t kPeerIpOff = 6;
constexpr uint32_t kPeerPortOff = 10;
constexpr uint32_t kPeerSendOff = 12;
constexpr uint32_t kPeerUntilOff = 16;
constexpr uint32_t kEthHeaderBytes = 14;
constexpr uint32_t kEtherTypeOff = 12;
constexpr uint32_t kEtherTypeIpv4 = 0x0800;
constexpr uint32_t kIpv4MinHeader = 20;
constexpr uint32_t kIpv4SrcOff = kEthHeaderBytes + 12;
constexpr uint32_t kIpv4DstOff = kEthHeaderBytes + 16;
// ChaCha20 (spec §5.6): an IV whose 32-bit block counter would wrap inside the payload is drawn again.
constexpr uint64_t kChaChaCounterSpace = 1ull << 32;
constexpr uint32_t kChaChaBlockBytes = 64;
constexpr int kIvRedraws = 8;
// Stats (Float64Array): totals first, then per peer slot rx packets, rx bytes, tx packets, tx bytes.
constexpr uint32_t kStatRxPackets = 0;
constexpr uint32_t kStatRxBytes = 1;
constexpr uint32_t kStatTapDrops = 2;
constexpr uint32_t kStatTxPackets = 3;
constexpr uint32_t kStatTxBytes = 4;
constexpr uint32_t kStatSocketDrops = 5;
constexpr uint32_t kStatPeersOff = 8;
constexpr uint32_t kStatsPerPeer = 4;

constexpr uint32_t kHeaderRandomBytes = 4;
// headerOpenBatch's words per datagram, how many a -H receive opens at a time (header.cc's group), and the bytes
// of each it keeps to put back (a relayed PACKET's header, rounded up).
constexpr uint32_t kOpenWords = 4;
constexpr uint32_t kOpenAhead = 32;
constexpr uint32_t kSavedHeaderBytes = 64;
static_assert(kSavedHeaderBytes >= kRelayedHeaderBytes, "a relayed PACKET's header must fit its saved copy");

// The bytes of a received datagram that RunRx keeps before opening it in place.
inline uint32_t SavedBytes(uint32_t len) { return len < kSavedHeaderBytes ? len : kSavedHeaderBytes; }
// Random bytes drawn per sent frame: the payload preamble, then the header seal's (-H).
constexpr uint32_t kRandomSlot = kPreambleBytes + kHeaderRandomBytes;

// Marks FastPath objects, so that setFastPath refuses any other wrapped object.
const napi_type_tag kFastPathTag = {0x7473'6e32'6e2d'6661ull, 0x7374'7061'7468'2d31ull};

inline uint32_t Be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

constexpr const char* kUsage = "new FastPath(stats: Float64Array(8 + 4 maxPeers))";
constexpr const char* kConfigureUsage =
    "configure(tapFd, udpFd, community: Uint8Array(20), ownMac: Uint8Array(6), transform, key: cipherKey handle, "
    "devAddr, allowRouting)";
constexpr const char* kPeersUsage = "setPeers(table: Uint8Array(20 per peer), count)";
constexpr const char* kRelayUsage =
    "setRelay(table: Uint8Array(20 per peer), count, supernode: Uint8Array(6) IPv4 and port | null, "
    "stats: Float64Array(4 + 4 slots), snRecord?: Uint32Array(36))";
constexpr const char* kHeaderUsage =
    "configureHeader(key: headerKey handle | null, stampState: Uint32Array(2), records: Uint32Array(36 maxPeers))";
}  // namespace

void FastPath::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "FastPath",
                                    {
                                        InstanceMethod<&FastPath::Configure>("configure"),
                                        InstanceMethod<&FastPath::SetPeers>("setPeers"),
                                        InstanceMethod<&FastPath::SetEnabled>("setEnabled"),
                                        InstanceMethod<&FastPath::ConfigureHeader>("configureHeader"),
                                        InstanceMethod<&FastPath::SetRelay>("setRelay"),
                                    });
  exports.Set("FastPath", ctor);
}

FastPath::FastPath(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FastPath>(info) {
  size_t length = 0;
  stats_ = TakerStats(info, kStatPeersOff, &kFastPathTag, kUsage, &statsRef_, &length);
  peerCapacity_ = static_cast<uint32_t>((length - kStatPeersOff) / kStatsPerPeer);
}

FastPath::~FastPath() = default;

FastPath* FastPath::From(napi_env env, napi_value v) { return UnwrapTagged<FastPath>(env, v, &kFastPathTag); }

Napi::Value FastPath::Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8) ThrowUsage(env, kConfigureUsage);
  int tapFd = ArgInt(info, 0, kConfigureUsage);
  int udpFd = ArgInt(info, 1, kConfigureUsage);
  Bytes community = ArgBytes(info, 2, kConfigureUsage);
  Bytes ownMac = ArgBytes(info, 3, kConfigureUsage);
  uint32_t transform = ArgUint(info, 4, kConfigureUsage);
  void* key = PayloadKeyFrom(env, info[5]);
  uint32_t devAddr = ArgUint(info, 6, kConfigureUsage);
  if (tapFd < 0 || udpFd < 0 || community.length != kCommunityBytes || ownMac.length != kMacBytes ||
      key == nullptr || transform > 0xff) {
    ThrowUsage(env, kConfigureUsage);
  }
  rxEnabled_ = txEnabled_ = false;
  tapFd_ = tapFd;
  udpFd_ = udpFd;
  vnet_ = TapVnet(tapFd);
  memcpy(community_, community.data, kCommunityBytes);
  memcpy(ownMac_, ownMac.data, kMacBytes);
  transform_ = static_cast<uint8_t>(transform);
  chacha_ = transform == 4;
  key_ = key;
  lanes_ = PayloadLanesKey(key);
  keyRef_ = Napi::Reference<Napi::Value>::New(info[5], 1);
  devAddr_ = devAddr;
  allowRouting_ = info[7].ToBoolean().Value();
  return env.Undefined();
}

Napi::Value FastPath::SetPeers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes table = ArgBytes(info, 0, kPeersUsage);
  uint32_t count = ArgUint(info, 1, kPeersUsage);
  if (count > peerCapacity_ || static_cast<size_t>(count) * kPeerBytes > table.length) ThrowUsage(env, kPeersUsage);
  peersRef_ = Napi::Reference<Napi::Uint8Array>::New(info[0].As<Napi::Uint8Array>(), 1);
  peers_ = table.data;
  peerCount_ = count;
  return env.Undefined();
}

// setRelay(table, count, supernode, stats): the relayed peers and the supernode (null: relaying off).
Napi::Value FastPath::SetRelay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[3].IsTypedArray() ||
      info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowUsage(env, kRelayUsage);
  }
  Bytes table = ArgBytes(info, 0, kRelayUsage);
  uint32_t count = ArgUint(info, 1, kRelayUsage);
  auto stats = info[3].As<Napi::Float64Array>();
  if (stats.ElementLength() < kRelayStatsPerSlot) ThrowUsage(env, kRelayUsage);
  const uint32_t capacity = static_cast<uint32_t>((stats.ElementLength() - kRelayStatsPerSlot) / kRelayStatsPerSlot);
  if (count > capacity || static_cast<size_t>(count) * kPeerBytes > table.length) ThrowUsage(env, kRelayUsage);
  snSet_ = false;
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    Bytes sn = ArgBytes(info, 2, kRelayUsage);
    if (sn.length != 6) ThrowUsage(env, kRelayUsage);
    memcpy(snIp_, sn.data, 4);
    memcpy(snPort_, sn.data + 4, 2);
    snSet_ = true;
  }
  relayRef_ = Napi::Reference<Napi::Uint8Array>::New(info[0].As<Napi::Uint8Array>(), 1);
  relay_ = table.data;
  relayCount_ = snSet_ ? count : 0;
  relayCapacity_ = capacity;
  relayStats_ = stats.Data();
  relayStatsRef_ = Napi::Reference<Napi::Float64Array>::New(stats, 1);
  snRecord_ = nullptr;
  snRecordRef_.Reset();
  if (info.Length() > 4 && info[4].IsTypedArray()) {
    auto rec = info[4].As<Napi::TypedArray>();
    if (rec.TypedArrayType() != napi_uint32_array || rec.ElementLength() < kRecordWords) ThrowUsage(env, kRelayUsage);
    snRecord_ = info[4].As<Napi::Uint32Array>().Data();
    snRecordRef_ = Napi::Reference<Napi::Uint32Array>::New(info[4].As<Napi::Uint32Array>(), 1);
  }
  return env.Undefined();
}

int32_t FastPath::FindRelay(const uint8_t* mac) const {
  for (uint32_t i = 0; i < relayCount_; i++) {
    if (memcmp(relay_ + i * kPeerBytes, mac, kMacBytes) == 0) return static_cast<int32_t>(i);
  }
  return -1;
}

// Whether a known (direct) peer has this IPv4 socket: a relayed PACKET from it is the JS path's MAC-change case.
bool FastPath::KnownSocket(const uint8_t* ip, const uint8_t* port) const {
  for (uint32_t i = 0; i < peerCount_; i++) {
    const uint8_t* p = peers_ + i * kPeerBytes;
    if (memcmp(p + kPeerIpOff, ip, 4) == 0 && memcmp(p + kPeerPortOff, port, 2) == 0) return true;
  }
  return false;
}

// configureHeader(key, stampState, records): -H on with that key pair (null: off). Both arrays are shared with JS.
Napi::Value FastPath::ConfigureHeader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rxEnabled_ = txEnabled_ = false;
  if (info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined()) {
    heKey_ = nullptr;
    heKeyRef_.Reset();
    return env.Undefined();
  }
  if (info.Length() < 3 || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    ThrowUsage(env, kHeaderUsage);
  }
  const void* key = HeaderKeyFrom(env, info[0]);
  auto state = info[1].As<Napi::Uint32Array>();
  auto records = info[2].As<Napi::Uint32Array>();
  if (key == nullptr || state.ElementLength() < 2 ||
      records.ElementLength() < static_cast<size_t>(peerCapacity_) * kRecordWords) {
    ThrowUsage(env, kHeaderUsage);
  }
  heKey_ = key;
  heKeyRef_ = Napi::Reference<Napi::Value>::New(info[0], 1);
  stampState_ = state.Data();
  stampRef_ = Napi::Reference<Napi::Uint32Array>::New(state, 1);
  records_ = records.Data();
  recordsRef_ = Napi::Reference<Napi::Uint32Array>::New(records, 1);
  return env.Undefined();
}

// The replay record of peer slot `slot`, or the supernode's for -1.
uint32_t* FastPath::Record(int32_t slot) const {
  return slot < 0 ? snRecord_ : records_ + static_cast<size_t>(slot) * kRecordWords;
}

// The -H replay checks on the record of `slot` (stamps.h).
bool FastPath::StampFresh(int32_t slot, uint32_t hi, uint32_t lo) const { return tsn2n::StampFresh(Record(slot), hi, lo); }

void FastPath::StampAccept(int32_t slot, uint32_t hi, uint32_t lo) { tsn2n::StampAccept(Record(slot), hi, lo); }

void FastPath::NextStamp(uint32_t* hi, uint32_t* lo) { tsn2n::NextStamp(stampState_, hi, lo); }

// setEnabled(rx, tx).
Napi::Value FastPath::SetEnabled(const Napi::CallbackInfo& info) {
  const bool ready = key_ != nullptr && tapFd_ >= 0 && udpFd_ >= 0;
  rxEnabled_ = ready && info.Length() > 0 && info[0].ToBoolean().Value();
  txEnabled_ = ready && info.Length() > 1 && info[1].ToBoolean().Value();
  return info.Env().Undefined();
}

int32_t FastPath::FindPeer(const uint8_t* mac) const {
  for (uint32_t i = 0; i < peerCount_; i++) {
    if (memcmp(peers_ + i * kPeerBytes, mac, kMacBytes) == 0) return static_cast<int32_t>(i);
  }
  return -1;
}

// ---------------------------------------------------------------------------- UDP → TAP

bool FastPath::TakeRx(const uint8_t* d, uint32_t len, const uint8_t* addr, const uint32_t* opened) {
  // -H: d is opened in place; opened = {1, stamp hi, lo, hl} when it opened.
  if (opened != nullptr && opened[0] != 1) return false;
  if (len < kPacketHeaderBytes || d[0] != kVersion) return false;
  const uint32_t word = (static_cast<uint32_t>(d[2]) << 8) | d[3];
  if ((word & kTypeMask) != kTypePacket) return false;
  const uint32_t via = word & (kFromSupernode | kSocketFlag);
  const bool relayed = via == (kFromSupernode | kSocketFlag);
  if (via != 0 && !relayed) return false;
  if (memcmp(d + kCommunityOff, community_, kCommunityBytes) != 0) return false;
  if (addr[0] != 4) return false;
  const uint32_t hdr = relayed ? kRelayedHeaderBytes : kPacketHeaderBytes;
  if (len < hdr || d[hdr - 2] != kCompressionNone || d[hdr - 1] != transform_) return false;
  if (opened != nullptr && opened[3] != hdr) return false;
  int32_t slot;
  if (relayed) {
    // receive.ts: from the current supernode, an IPv4 sock that is not 127.0.0.1, a unicast MAC; rxPacket's
    // checkPeerRegistration then only marks the pending peer seen when the sock is the one it has.
    if (!snSet_ || (opened != nullptr && snRecord_ == nullptr)) return false;
    if (memcmp(addr + 4, snIp_, 4) != 0 || memcmp(addr + 2, snPort_, 2) != 0) return false;
    const uint8_t* sock = d + kSockOff;
    if ((sock[0] & kSockIpv6Bit) != 0 || Be32(sock + 4) == kLocalhost || (d[kDstMacOff] & 1) != 0) return false;
    if (FindPeer(d + kSrcMacOff) >= 0 || KnownSocket(sock + 4, sock + 2)) return false;
    slot = FindRelay(d + kSrcMacOff);
    if (slot < 0) return false;
    const uint8_t* p = relay_ + slot * kPeerBytes;
    if (memcmp(p + kPeerIpOff, sock + 4, 4) != 0 || memcmp(p + kPeerPortOff, sock + 2, 2) != 0) return false;
    // receive.ts: stampOk against the supernode's record.
    if (opened != nullptr && !StampFresh(-1, opened[1], opened[2])) return false;
  } else {
    // The sender must be the known socket of the source MAC.
    slot = FindPeer(d + kSrcMacOff);
    if (slot < 0) return false;
    const uint8_t* p = peers_ + slot * kPeerBytes;
    if (memcmp(p + kPeerIpOff, addr + 4, 4) != 0 || memcmp(p + kPeerPortOff, addr + 2, 2) != 0) return false;
    if (opened != nullptr && !StampFresh(slot, opened[1], opened[2])) return false;
  }
  uint8_t* plain = frames_.data() + static_cast<size_t>(frameCount_) * kFrameSlot;
  size_t n = 0;
  if (!PayloadDecryptOne(key_, d + hdr, len - hdr, plain, &n)) return false;
  // handle_PACKET's checks on the frame: JS counts the refusals.
  if (n < kEthHeaderBytes || (plain[0] & 1) != 0) return false;
  if (!allowRouting_ && ((plain[kEtherTypeOff] << 8) | plain[kEtherTypeOff + 1]) == kEtherTypeIpv4 &&
      n >= kEthHeaderBytes + kIpv4MinHeader && Be32(plain + kIpv4DstOff) != devAddr_) {
    return false;
  }
  if (opened != nullptr) StampAccept(relayed ? -1 : slot, opened[1], opened[2]);
  frameOffs_[frameCount_] = frameCount_ * kFrameSlot;
  frameLens_[frameCount_] = static_cast<uint32_t>(n);
  frameCount_++;
  if (relayed) {
    relayStats_[0]++;
    relayStats_[1] += len;
    relayStats_[kRelayStatsPerSlot * (slot + 1)]++;
    relayStats_[kRelayStatsPerSlot * (slot + 1) + 1] += len;
    return true;
  }
  stats_[kStatRxPackets]++;
  stats_[kStatRxBytes] += len;
  stats_[kStatPeersOff + kStatsPerPeer * slot]++;
  stats_[kStatPeersOff + kStatsPerPeer * slot + 1] += len;
  return true;
}

// The frames of one run in one go, as the JS path writes a batch's: runs of one TCP stream merged into a GSO
// frame on an offload TAP, one write() each otherwise.
void FastPath::FlushRx() {
  uint32_t written = 0;
  if (vnet_) {
    written = WriteFramesVnet(tapFd_, frames_.data(), frameOffs_.data(), frameLens_.data(), frameCount_);
  } else {
    for (uint32_t i = 0; i < frameCount_; i++) {
      ssize_t w;
      do {
        w = write(tapFd_, frames_.data() + frameOffs_[i], frameLens_[i]);
      } while (w < 0 && errno == EINTR);
      if (w >= 0) written++;
    }
  }
  stats_[kStatTapDrops] += frameCount_ - written;
  frameCount_ = 0;
}

uint32_t FastPath::RunRx(const Slab& slab, uint32_t count) {
  if (!rxEnabled_) return 0;
  if (frameLens_.size() < slab.capacity) {
    frames_.resize(static_cast<size_t>(slab.capacity) * kFrameSlot);
    frameOffs_.resize(slab.capacity);
    frameLens_.resize(slab.capacity);
  }
  const bool he = heKey_ != nullptr;
  if (he && saved_.size() < static_cast<size_t>(slab.capacity) * kSavedHeaderBytes) {
    saved_.resize(static_cast<size_t>(slab.capacity) * kSavedHeaderBytes);
    openOffs_.resize(slab.capacity);
    openOut_.resize(static_cast<size_t>(slab.capacity) * kOpenWords);
  }
  frameCount_ = 0;
  uint32_t opened = 0;  // datagrams opened in place so far (-H)
  uint32_t i = 0;
  for (; i < count; i++) {
    uint8_t* d = slab.base + static_cast<size_t>(i) * slab.stride + slab.headroom;
    const uint32_t len = slab.lengths[i];
    const uint32_t* result = nullptr;
    if (he) {
      if (i == opened) {
        // The next group, opened in place with their checksums side by side. Only the header changes (at most
        // kSavedHeaderBytes: a longer one is not opened), so a copy of it puts back those that JS is left.
        const uint32_t n = count - i < kOpenAhead ? count - i : kOpenAhead;
        for (uint32_t j = i; j < i + n; j++) {
          openOffs_[j] = j * slab.stride + slab.headroom;
          memcpy(saved_.data() + static_cast<size_t>(j) * kSavedHeaderBytes, slab.base + openOffs_[j],
                 SavedBytes(slab.lengths[j]));
        }
        HeaderOpenMany(heKey_, slab.base, openOffs_.data() + i, slab.lengths + i, n, community_,
                       openOut_.data() + static_cast<size_t>(i) * kOpenWords, kRelayedHeaderBytes);
        opened = i + n;
      }
      result = openOut_.data() + static_cast<size_t>(i) * kOpenWords;
    }
    if (!TakeRx(d, len, slab.addrs + static_cast<size_t>(i) * kAddrStride, result)) break;
  }
  // JS reads the datagrams from i on as they came.
  for (uint32_t j = i; j < opened; j++) {
    if (openOut_[static_cast<size_t>(j) * kOpenWords] != 1) continue;
    memcpy(slab.base + openOffs_[j], saved_.data() + static_cast<size_t>(j) * kSavedHeaderBytes,
           SavedBytes(slab.lengths[j]));
  }
  if (frameCount_ > 0) FlushRx();
  return i;
}

// ---------------------------------------------------------------------------- TAP → UDP

bool FastPath::TakeTx(const uint8_t* frame, uint32_t len, uint32_t now) {
  if (len < kEthHeaderBytes || len > kMaxPlaintext || (frame[0] & 1) != 0) return false;
  if (!allowRouting_ && ((frame[kEtherTypeOff] << 8) | frame[kEtherTypeOff + 1]) == kEtherTypeIpv4 &&
      (len < kEthHeaderBytes + kIpv4MinHeader || Be32(frame + kIpv4SrcOff) != devAddr_)) {
    return false;
  }
  int32_t slot = FindPeer(frame);
  if (slot >= 0) {
    const uint8_t* p = peers_ + slot * kPeerBytes;
    // send_packet goes direct while the peer answered within half its timeout: TS gives the last second.
    if (p[kPeerSendOff] == 0 || now > Be32(p + kPeerUntilOff)) return false;
  } else {
    // Not known: through the supernode, for a pending peer whose next QUERY_PEER is not due (TS gives the last
    // second); slot -1 - i stands for relay entry i.
    const int32_t r = FindRelay(frame);
    if (r < 0) return false;
    const uint8_t* p = relay_ + r * kPeerBytes;
    if (p[kPeerSendOff] == 0 || now > Be32(p + kPeerUntilOff)) return false;
    slot = -1 - r;
  }
  uint8_t* out = out_.data() + static_cast<size_t>(outCount_) * kOutSlot;
  uint8_t* r = random_.data() + static_cast<size_t>(outCount_) * kRandomSlot;
  if (chacha_) {
    const uint64_t blocks = (len + kChaChaBlockBytes - 1) / kChaChaBlockBytes;
    for (int attempt = 0; attempt < kIvRedraws; attempt++) {
      const uint64_t counter = static_cast<uint64_t>(r[0]) | (static_cast<uint64_t>(r[1]) << 8) |
                               (static_cast<uint64_t>(r[2]) << 16) | (static_cast<uint64_t>(r[3]) << 24);
      if (counter + blocks <= kChaChaCounterSpace) break;
      if (RAND_bytes(r, kPreambleBytes) != 1) return false;
    }
  }
  if (lanes_) {
    // Encrypted with the run's others (RunTx): the frame stays in the slab until then.
    encR_[outCount_] = r;
    encIn_[outCount_] = frame;
    encLen_[outCount_] = len;
    encOut_[outCount_] = out + kPacketHeaderBytes;
  } else if (!PayloadEncryptOne(key_, r, frame, len, out + kPacketHeaderBytes)) {
    return false;
  }
  // wire.c: encode_PACKET with flags 0, no socket (src/wire/packet.ts writePacketHeader).
  out[0] = kVersion;
  out[1] = kTtl;
  out[2] = 0;
  out[3] = kTypePacket;
  memcpy(out + kCommunityOff, community_, kCommunityBytes);
  memcpy(out + kSrcMacOff, ownMac_, kMacBytes);
  memcpy(out + kDstMacOff, frame, kMacBytes);
  out[kCompressionOff] = kCompressionNone;
  out[kTransformOff] = transform_;
  const uint32_t total = kPacketHeaderBytes + kPreambleBytes + len;
  if (heKey_ != nullptr) {
    // Sealed with the run's others before the send (RunTx); the stamp is drawn now, in order.
    NextStamp(&sealStamps_[2 * outCount_], &sealStamps_[2 * outCount_ + 1]);
    memcpy(&sealRands_[outCount_], r + kPreambleBytes, kHeaderRandomBytes);
    sealPtrs_[outCount_] = out;
  }
  outLens_[outCount_] = total;
  outPeer_[outCount_] = slot;
  outCount_++;
  if (slot < 0) {
    const uint32_t r = static_cast<uint32_t>(-1 - slot);
    relayStats_[2]++;
    relayStats_[3] += total;
    relayStats_[kRelayStatsPerSlot * (r + 1) + 2]++;
    relayStats_[kRelayStatsPerSlot * (r + 1) + 3] += total;
    return true;
  }
  stats_[kStatTxPackets]++;
  stats_[kStatTxBytes] += total;
  stats_[kStatPeersOff + kStatsPerPeer * slot + 2]++;
  stats_[kStatPeersOff + kStatsPerPeer * slot + 3] += total;
  return true;
}

// The datagrams of one run in one sendmmsg, in GSO runs where the socket allows it (sendruns.h).
void FastPath::FlushTx() {
  const uint32_t count = outCount_;
  outCount_ = 0;
  for (uint32_t i = 0; i < count; i++) {
    Ipv4Out& o = outList_[i];
    o.data = out_.data() + static_cast<size_t>(i) * kOutSlot;
    o.len = outLens_[i];
    const uint8_t* ip = snIp_;
    const uint8_t* port = snPort_;
    if (outPeer_[i] >= 0) {
      const uint8_t* p = peers_ + outPeer_[i] * kPeerBytes;
      ip = p + kPeerIpOff;
      port = p + kPeerPortOff;
    }
    memcpy(o.ip, ip, sizeof(o.ip));
    memcpy(o.port, port, sizeof(o.port));
  }
  stats_[kStatSocketDrops] += count - SendIpv4Runs(udpFd_, outList_.data(), count, &sendScratch_);
}

uint32_t FastPath::RunTx(const Slab& slab, uint32_t count) {
  if (!txEnabled_ || count == 0) return 0;
  if (outLens_.size() < slab.capacity) {
    out_.resize(static_cast<size_t>(slab.capacity) * kOutSlot);
    outLens_.resize(slab.capacity);
    outPeer_.resize(slab.capacity);
    outList_.resize(slab.capacity);
    random_.resize(static_cast<size_t>(slab.capacity) * kRandomSlot);
    sealStamps_.resize(2 * static_cast<size_t>(slab.capacity));
    sealRands_.resize(slab.capacity);
    sealPtrs_.resize(slab.capacity);
    encR_.resize(slab.capacity);
    encIn_.resize(slab.capacity);
    encLen_.resize(slab.capacity);
    encOut_.resize(slab.capacity);
  }
  if (RAND_bytes(random_.data(), static_cast<int>(count * kRandomSlot)) != 1) return 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint32_t now = static_cast<uint32_t>(ts.tv_sec);
  outCount_ = 0;
  uint32_t i = 0;
  for (; i < count; i++) {
    const uint8_t* f = slab.base + static_cast<size_t>(i) * slab.stride + slab.headroom;
    if (!TakeTx(f, slab.lengths[i], now)) break;
  }
  if (outCount_ > 0 && lanes_) {
    PayloadEncryptMany(key_, encR_.data(), encIn_.data(), encLen_.data(), encOut_.data(), outCount_);
  }
  if (outCount_ > 0 && heKey_ != nullptr) {
    HeaderSealMany(heKey_, sealPtrs_.data(), outLens_.data(), kPacketHeaderBytes, sealStamps_.data(),
                   sealRands_.data(), outCount_);
  }
  if (outCount_ > 0) FlushTx();
  return i;
}

}  // namespace tsn2n
