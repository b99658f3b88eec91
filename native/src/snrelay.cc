// SnRelay: an edge's PACKET to another edge of its community (plain or -H without users), re-encoded and sent on in C++.
//
// The checks of src/supernode/receive.ts and relay.ts (sn_utils.c: process_udp, MSG_TYPE_PACKET, try_forward) for
// the one case it takes: an IPv4 sender, version 3, TTL at least 1, type PACKET without FROM_SUPERNODE, SOCKET or
// any other flag, a community TS taught, a source MAC taught at exactly the sender's socket, a unicast destination
// MAC taught. Out goes what relay.ts buildRelayed writes: the header with TTL − 1, FROM_SUPERNODE | SOCKET and the
// sender's IPv4 sock, then the payload as it came, to the destination's socket.
//
// -H (communities without users: one header key pair that never changes): a datagram that does not look plain is
// opened in a copy with each taught -H community's key in turn, as receive.ts tries the communities' keys; it must
// be a PACKET header (hl 38) whose stamp passes the sender's replay record (StampGenerator.verify with the jitter
// rule, stamps.h), which is raised only when the packet is taken and flagged for JS to copy back. The relayed
// header is sealed with the next stamp of the process's generator (state shared with JS) and four random bytes.
// Anything else is left to JS unchanged.
#include "snrelay.h"

#include <openssl/rand.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "header.h"
#include "stamps.h"

namespace tsn2n {

namespace {

constexpr uint8_t kVersion = 3;
constexpr uint8_t kTypePacket = 3;
constexpr uint8_t kFromSupernodeSocket = 0x60;  // FROM_SUPERNODE (0x20) | SOCKET (0x40), low flags byte
constexpr uint32_t kTtlOff = 1;
constexpr uint32_t kFlagsOff = 2;
constexpr uint32_t kCommunityOff = 4;
constexpr uint32_t kCommunityBytes = 20;
constexpr uint32_t kCommunityLastOff = kCommunityOff + kCommunityBytes - 1;
constexpr uint32_t kSrcMacOff = 24;
constexpr uint32_t kDstMacOff = 30;
constexpr uint32_t kMacBytes = 6;
constexpr uint32_t kGroupBit = 0x01;
// After the MACs: compression and transform (2 bytes), where the relayed header puts the sender's sock first.
constexpr uint32_t kIdsOff = 36;
constexpr uint32_t kPacketHeaderBytes = 38;
constexpr uint32_t kSockBytes = 8;
constexpr uint32_t kRelayedHeaderBytes = kPacketHeaderBytes + kSockBytes;
// The largest datagram the poller hands over (io/udp-native.ts), and its relayed size.
constexpr uint32_t kMaxDatagram = 2048;
constexpr uint32_t kOutSlot = kMaxDatagram + kSockBytes;
// Address entries (frames.h kAddrStride): family, 0, port, IPv4.
constexpr uint32_t kAddrPortOff = 2;
constexpr uint32_t kAddrIpOff = 4;
constexpr uint8_t kFamilyIpv4 = 4;
// Bounds of what TS may teach; past them everything is forgotten and learnt again (a cache, not the registry).
constexpr size_t kMaxCommunities = 4096;
constexpr size_t kMaxEdges = 1 << 16;
// -H communities whose keys a datagram is tried with: each try hashes the whole datagram.
constexpr size_t kMaxHeCommunities = 8;
// HeaderOpenOne's result: stamp hi, lo, header length.
constexpr uint32_t kOpenHi = 0;
constexpr uint32_t kOpenLo = 1;
constexpr uint32_t kOpenHl = 2;
constexpr uint32_t kHeaderRandomBytes = 4;
// HeaderOpenMany's words per datagram: opened (1/0), stamp hi, lo, header length.
constexpr uint32_t kOpenStride = 4;
// Stats (Float64Array): datagrams taken, forwarded, the Unix second of the last forward, refused by the socket,
// then per -H community (in heComms_ order, which is the order TS taught them) the datagrams opened with its key,
// which TS adds to that community's count for the busiest-first order of trial decryption and then zeroes.
constexpr uint32_t kStatRx = 0;
constexpr uint32_t kStatFwd = 1;
constexpr uint32_t kStatLastFwd = 2;
constexpr uint32_t kStatErrors = 3;
constexpr uint32_t kStatHeOpened = 4;
constexpr uint32_t kStatCount = kStatHeOpened + kMaxHeCommunities;
// FNV-1a.
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;
constexpr uint32_t kMacShift = 48;

// Marks SnRelay objects, so that setFastPath refuses any other wrapped object.
const napi_type_tag kSnRelayTag = {0x7473'6e32'6e2d'736eull, 0x7265'6c61'792d'3031ull};

constexpr const char* kUsage = "new SnRelay(stats: Float64Array(12))";
constexpr const char* kConfigureUsage = "configure(udpFd: number)";
constexpr const char* kLearnUsage =
    "learn(community: Uint8Array(20), mac: Uint8Array(6), socket: Uint8Array(6) IPv4 and port big-endian, "
    "headerKey: headerKey handle | null, slot: record slot (-H) | -1) → whether everything taught before was "
    "forgotten first";
constexpr const char* kHeaderUsage =
    "configureHeader(stampState: Uint32Array(2), records: Uint32Array(36 slots), dirty: Uint8Array(slots + 1))";

uint64_t MacKey(uint32_t community, const uint8_t* mac) {
  uint64_t k = static_cast<uint64_t>(community) << kMacShift;
  for (uint32_t i = 0; i < kMacBytes; i++) k |= static_cast<uint64_t>(mac[i]) << (8 * (kMacBytes - 1 - i));
  return k;
}

// receive.ts looksPlain: version 3 and a terminated community field; anything else may be -H.
bool LooksPlain(const uint8_t* d, uint32_t len) {
  return len >= kPacketHeaderBytes && d[0] == kVersion && d[kCommunityLastOff] == 0;
}

// A datagram the -H path may take: not plain, the size of a PACKET the relay handles, from an IPv4 socket.
bool MaySealed(const uint8_t* d, uint32_t len, const uint8_t* addr) {
  return len >= kPacketHeaderBytes && len <= kMaxDatagram && addr[0] == kFamilyIpv4 && !LooksPlain(d, len);
}

}  // namespace

size_t SnRelay::FieldHash::operator()(const Field& f) const {
  uint64_t h = kFnvOffset;
  for (uint8_t b : f.bytes) h = (h ^ b) * kFnvPrime;
  return static_cast<size_t>(h);
}

void SnRelay::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "SnRelay",
                                    {
                                        InstanceMethod<&SnRelay::Configure>("configure"),
                                        InstanceMethod<&SnRelay::SetEnabled>("setEnabled"),
                                        InstanceMethod<&SnRelay::Learn>("learn"),
                                        InstanceMethod<&SnRelay::Forget>("forget"),
                                        InstanceMethod<&SnRelay::ConfigureHeader>("configureHeader"),
                                    });
  exports.Set("SnRelay", ctor);
}

SnRelay::SnRelay(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SnRelay>(info) {
  size_t length = 0;
  stats_ = TakerStats(info, kStatCount, &kSnRelayTag, kUsage, &statsRef_, &length);
}

SnRelay* SnRelay::From(napi_env env, napi_value v) { return UnwrapTagged<SnRelay>(env, v, &kSnRelayTag); }

Napi::Value SnRelay::Configure(const Napi::CallbackInfo& info) {
  udpFd_ = ArgInt(info, 0, kConfigureUsage);
  return info.Env().Undefined();
}

Napi::Value SnRelay::SetEnabled(const Napi::CallbackInfo& info) {
  enabled_ = info.Length() > 0 && info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

Napi::Value SnRelay::ConfigureHeader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
    ThrowUsage(env, kHeaderUsage);
  }
  auto state = info[0].As<Napi::TypedArray>();
  auto records = info[1].As<Napi::TypedArray>();
  auto dirty = info[2].As<Napi::TypedArray>();
  if (state.TypedArrayType() != napi_uint32_array || state.ElementLength() < 2 ||
      records.TypedArrayType() != napi_uint32_array || dirty.TypedArrayType() != napi_uint8_array) {
    ThrowUsage(env, kHeaderUsage);
  }
  const size_t slots = records.ElementLength() / kRecordWords;
  if (dirty.ElementLength() < slots + 1) ThrowUsage(env, kHeaderUsage);
  Clear();
  stampRef_ = Napi::Reference<Napi::Uint32Array>::New(info[0].As<Napi::Uint32Array>(), 1);
  recordsRef_ = Napi::Reference<Napi::Uint32Array>::New(info[1].As<Napi::Uint32Array>(), 1);
  dirtyRef_ = Napi::Reference<Napi::Uint8Array>::New(info[2].As<Napi::Uint8Array>(), 1);
  stampState_ = info[0].As<Napi::Uint32Array>().Data();
  records_ = info[1].As<Napi::Uint32Array>().Data();
  dirty_ = info[2].As<Napi::Uint8Array>().Data();
  slotCount_ = static_cast<uint32_t>(slots);
  return env.Undefined();
}

Napi::Value SnRelay::Learn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes community = ArgBytes(info, 0, kLearnUsage);
  Bytes mac = ArgBytes(info, 1, kLearnUsage);
  Bytes socket = ArgBytes(info, 2, kLearnUsage);
  if (community.length != kCommunityBytes || mac.length != kMacBytes || socket.length != 6 || info.Length() < 5) {
    ThrowUsage(env, kLearnUsage);
  }
  const void* heKey = info[3].IsNull() ? nullptr : HeaderKeyFrom(env, info[3]);
  const int32_t slot = ArgInt(info, 4, kLearnUsage);
  if ((heKey == nullptr) != info[3].IsNull() || (heKey != nullptr && (slot < 0 || static_cast<uint32_t>(slot) >= slotCount_))) {
    ThrowUsage(env, kLearnUsage);
  }
  // Full tables are emptied, and TS told so: it teaches every edge again as its JS path relays their packets.
  bool cleared = false;
  if (edges_.size() >= kMaxEdges) {
    Clear();
    cleared = true;
  }
  Field f;
  memcpy(f.bytes.data(), community.data, kCommunityBytes);
  auto c = communities_.find(f);
  if (c == communities_.end()) {
    if (communities_.size() >= kMaxCommunities || (heKey != nullptr && heComms_.size() >= kMaxHeCommunities)) {
      Clear();
      cleared = true;
    }
    const uint32_t index = static_cast<uint32_t>(comms_.size());
    comms_.push_back({f, heKey});
    if (heKey != nullptr) {
      heComms_.push_back(index);
      keyRefs_.emplace_back(Napi::Persistent(info[3]));
    }
    c = communities_.emplace(f, index).first;
  } else if (comms_[c->second].heKey != heKey) {
    // TS forgets everything whenever a community changes: a second key for one community is a caller's mistake.
    ThrowUsage(env, kLearnUsage);
  }
  Edge e;
  memcpy(e.ip, socket.data, sizeof(e.ip));
  memcpy(e.port, socket.data + sizeof(e.ip), sizeof(e.port));
  e.slot = heKey != nullptr ? slot : -1;
  edges_[MacKey(c->second, mac.data)] = e;
  return Napi::Boolean::New(env, cleared);
}

Napi::Value SnRelay::Forget(const Napi::CallbackInfo& info) {
  Clear();
  return info.Env().Undefined();
}

void SnRelay::Clear() {
  communities_.clear();
  comms_.clear();
  heComms_.clear();
  keyRefs_.clear();
  edges_.clear();
}

const SnRelay::Edge* SnRelay::Route(const uint8_t* h, uint32_t community, const uint8_t* addr,
                                    const Edge** src) const {
  if (h[0] != kVersion || h[kTtlOff] < 1 || h[kFlagsOff] != 0 || h[kFlagsOff + 1] != kTypePacket ||
      (h[kDstMacOff] & kGroupBit) != 0) {
    return nullptr;
  }
  auto s = edges_.find(MacKey(community, h + kSrcMacOff));
  if (s == edges_.end() || memcmp(s->second.ip, addr + kAddrIpOff, sizeof(s->second.ip)) != 0 ||
      memcmp(s->second.port, addr + kAddrPortOff, sizeof(s->second.port)) != 0) {
    return nullptr;
  }
  auto d = edges_.find(MacKey(community, h + kDstMacOff));
  if (d == edges_.end()) return nullptr;
  *src = &s->second;
  return &d->second;
}

// out holds the plain PACKET (its header as received, the payload after it, len bytes in all): the header becomes
// the relayed one, with the sender's sock, and `o` the datagram to the destination.
void SnRelay::Relayed(uint8_t* out, uint32_t len, const uint8_t* addr, const Edge* dst, Ipv4Out* o) const {
  memmove(out + kIdsOff + kSockBytes, out + kIdsOff, len - kIdsOff);
  out[kTtlOff] = static_cast<uint8_t>(out[kTtlOff] - 1);
  out[kFlagsOff + 1] = kFromSupernodeSocket | kTypePacket;
  uint8_t* sock = out + kIdsOff;
  sock[0] = 0;
  sock[1] = 0;
  memcpy(sock + 2, addr + kAddrPortOff, 2);
  memcpy(sock + 4, addr + kAddrIpOff, 4);
  o->data = out;
  o->len = len + kSockBytes;
  memcpy(o->ip, dst->ip, sizeof(o->ip));
  memcpy(o->port, dst->port, sizeof(o->port));
}

bool SnRelay::Take(const uint8_t* d, uint32_t len, const uint8_t* addr, uint8_t* out, Ipv4Out* o) const {
  if (len < kPacketHeaderBytes || len > kMaxDatagram || addr[0] != kFamilyIpv4 || d[kCommunityLastOff] != 0) {
    return false;
  }
  Field f;
  memcpy(f.bytes.data(), d + kCommunityOff, kCommunityBytes);
  auto c = communities_.find(f);
  // A plain datagram for a -H community is a downgrade JS refuses.
  if (c == communities_.end() || comms_[c->second].heKey != nullptr) return false;
  const Edge* src = nullptr;
  const Edge* dst = Route(d, c->second, addr, &src);
  if (dst == nullptr) return false;
  memcpy(out, d, len);
  Relayed(out, len, addr, dst, o);
  return true;
}

// -H, before the run is walked: every datagram of the read the -H path may take, copied to its out slot, is opened
// there with the first taught -H community's key, the checksums and header blocks side by side (header.h HeaderOpenMany);
// openSlot_[i] is its row of results. The few that do not open with it are tried with the others one at a time in
// TakeSealed. A copy that does not open is left as it was; slots past where the run ends are scratch.
void SnRelay::OpenSealed(const Slab& slab, uint32_t count) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < count; i++) {
    openSlot_[i] = -1;
    const uint8_t* d = slab.base + static_cast<size_t>(i) * slab.stride + slab.headroom;
    const uint32_t len = slab.lengths[i];
    if (!MaySealed(d, len, slab.addrs + static_cast<size_t>(i) * kAddrStride)) continue;
    memcpy(out_.data() + static_cast<size_t>(i) * kOutSlot, d, len);
    openSlot_[i] = static_cast<int32_t>(n);
    openOffs_[n] = i * kOutSlot;
    openLens_[n] = len;
    n++;
  }
  if (n == 0) return;
  const Community& first = comms_[heComms_[0]];
  HeaderOpenMany(first.heKey, out_.data(), openOffs_.data(), openLens_.data(), n, first.field.bytes.data(),
                 openOut_.data(), SIZE_MAX);
}

// The sealed datagram i (its copy in `out`, opened by OpenSealed if the first -H key fits): the other keys if
// not, then the route, the stamp against the sender's record, and the relayed header; sealing waits for the run
// (SealRun), with the stamp drawn now, in order.
bool SnRelay::TakeSealed(uint32_t i, uint32_t len, const uint8_t* addr, uint8_t* out, Ipv4Out* o) {
  const uint32_t* row = &openOut_[kOpenStride * static_cast<uint32_t>(openSlot_[i])];
  uint32_t opened[3] = {row[1], row[2], row[3]};
  const Community* comm = nullptr;
  uint32_t index = 0;
  uint32_t tried = 0;
  if (row[0] != 0) {
    index = heComms_[0];
    comm = &comms_[index];
  } else {
    for (tried = 1; tried < heComms_.size(); tried++) {
      const uint32_t c = heComms_[tried];
      if (HeaderOpenOne(comms_[c].heKey, out, len, comms_[c].field.bytes.data(), opened)) {
        comm = &comms_[c];
        index = c;
        break;
      }
    }
  }
  if (comm == nullptr || opened[kOpenHl] != kPacketHeaderBytes) return false;
  const Edge* src = nullptr;
  const Edge* dst = Route(out, index, addr, &src);
  if (dst == nullptr || src->slot < 0 || dst->slot < 0) return false;
  uint32_t* rec = records_ + static_cast<size_t>(src->slot) * kRecordWords;
  if (!StampFresh(rec, opened[kOpenHi], opened[kOpenLo])) return false;
  StampAccept(rec, opened[kOpenHi], opened[kOpenLo]);
  stats_[kStatHeOpened + tried] += 1;
  dirty_[src->slot] = 1;
  dirty_[slotCount_] = 1;
  memcpy(out + kCommunityOff, comm->field.bytes.data(), kCommunityBytes);
  Relayed(out, len, addr, dst, o);
  const uint32_t j = sealCount_++;
  sealKeys_[j] = comm->heKey;
  sealPtrs_[j] = out;
  sealLens_[j] = o->len;
  NextStamp(stampState_, &sealStamps_[2 * j], &sealStamps_[2 * j + 1]);
  memcpy(&sealRands_[j], random_.data() + static_cast<size_t>(i) * kHeaderRandomBytes, sizeof(uint32_t));
  return true;
}

// Seals the run's relayed -H datagrams, those with the same key (consecutive) in one call.
void SnRelay::SealRun() {
  for (uint32_t j = 0; j < sealCount_;) {
    uint32_t n = 1;
    while (j + n < sealCount_ && sealKeys_[j + n] == sealKeys_[j]) n++;
    HeaderSealMany(sealKeys_[j], sealPtrs_.data() + j, sealLens_.data() + j, kRelayedHeaderBytes,
                   sealStamps_.data() + 2 * j, sealRands_.data() + j, n);
    j += n;
  }
  sealCount_ = 0;
}

uint32_t SnRelay::RunRx(const Slab& slab, uint32_t count) {
  if (!enabled_ || count == 0 || edges_.empty() || slab.addrs == nullptr) return 0;
  if (outList_.size() < slab.capacity) {
    const size_t cap = slab.capacity;
    out_.resize(cap * kOutSlot);
    outList_.resize(cap);
    random_.resize(cap * kHeaderRandomBytes);
    openSlot_.resize(cap);
    openOut_.resize(cap * kOpenStride);
    openOffs_.resize(cap);
    openLens_.resize(cap);
    sealKeys_.resize(cap);
    sealPtrs_.resize(cap);
    sealLens_.resize(cap);
    sealStamps_.resize(2 * cap);
    sealRands_.resize(cap);
  }
  const bool sealed = !heComms_.empty() && stampState_ != nullptr;
  if (sealed) {
    if (RAND_bytes(random_.data(), static_cast<int>(count * kHeaderRandomBytes)) != 1) return 0;
    OpenSealed(slab, count);
  }
  sealCount_ = 0;
  uint32_t i = 0;
  for (; i < count; i++) {
    const uint8_t* d = slab.base + static_cast<size_t>(i) * slab.stride + slab.headroom;
    const uint32_t len = slab.lengths[i];
    const uint8_t* addr = slab.addrs + static_cast<size_t>(i) * kAddrStride;
    uint8_t* out = out_.data() + static_cast<size_t>(i) * kOutSlot;
    bool taken;
    if (LooksPlain(d, len)) {
      taken = Take(d, len, addr, out, &outList_[i]);
    } else {
      taken = sealed && MaySealed(d, len, addr) && TakeSealed(i, len, addr, out, &outList_[i]);
    }
    if (!taken) break;
  }
  if (sealCount_ > 0) SealRun();
  if (i == 0) return 0;
  const uint32_t accepted = SendIpv4Runs(udpFd_, outList_.data(), i, &sendScratch_);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  stats_[kStatRx] += i;
  stats_[kStatFwd] += i;
  stats_[kStatErrors] += i - accepted;
  stats_[kStatLastFwd] = static_cast<double>(ts.tv_sec);
  return i;
}

}  // namespace tsn2n
