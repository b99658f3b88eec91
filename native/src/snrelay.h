// The supernode's native relay: PACKETs between two registered edges of a plain community, forwarded without JS.
#pragma once

#include <napi.h>

#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "batchtaker.h"
#include "frames.h"
#include "sendruns.h"

namespace tsn2n {

// SnRelay executes routes the supernode's TS relay has already taken (src/supernode/fastrelay.ts): TS teaches it
// an edge (community field, MAC, IPv4 socket) each time its JS path relays a PACKET between two registered UDP
// edges of a community with plain headers, and makes it forget them all whenever the registry changes. It takes a
// datagram only when the JS path would do nothing with it but re-encode the header with the sender's socket and
// send it to the destination edge; anything else, and everything after it in the batch, stays for JS.
class SnRelay : public Napi::ObjectWrap<SnRelay>, public BatchTaker {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // The SnRelay behind a JS object, or nullptr when it is not one (checked by type tag).
  static SnRelay* From(napi_env env, napi_value v);

  explicit SnRelay(const Napi::CallbackInfo& info);
  SnRelay(const SnRelay&) = delete;
  SnRelay& operator=(const SnRelay&) = delete;

  uint32_t RunRx(const Slab& slab, uint32_t count) override;
  uint32_t RunTx(const Slab& slab, uint32_t count) override { return 0; }

 private:
  struct Field {
    std::array<uint8_t, 20> bytes;
    bool operator==(const Field& o) const { return bytes == o.bytes; }
  };
  struct FieldHash {
    size_t operator()(const Field& f) const;
  };
  struct Edge {
    uint8_t ip[4];
    uint8_t port[2];
    // -H: its replay record's slot in records_ (-1 in a plain community).
    int32_t slot;
  };
  struct Community {
    Field field;
    // -H: the header key pair (nullptr: plain headers).
    const void* heKey;
  };

  Napi::Value Configure(const Napi::CallbackInfo& info);
  Napi::Value SetEnabled(const Napi::CallbackInfo& info);
  Napi::Value Learn(const Napi::CallbackInfo& info);
  Napi::Value Forget(const Napi::CallbackInfo& info);
  Napi::Value ConfigureHeader(const Napi::CallbackInfo& info);
  void Clear();
  bool Take(const uint8_t* d, uint32_t len, const uint8_t* addr, uint8_t* out, Ipv4Out* o) const;
  void OpenSealed(const Slab& slab, uint32_t count);
  bool TakeSealed(uint32_t i, uint32_t len, const uint8_t* addr, uint8_t* out, Ipv4Out* o);
  void SealRun();
  // Checks the plain PACKET header in `h` from `addr` against what was taught; the destination edge or nullptr.
  const Edge* Route(const uint8_t* h, uint32_t community, const uint8_t* addr, const Edge** src) const;
  void Relayed(uint8_t* out, uint32_t len, const uint8_t* addr, const Edge* dst, Ipv4Out* o) const;

  bool enabled_ = false;
  int udpFd_ = -1;
  // Communities by their 20-byte field, each a small number that keys its edges (with the MAC).
  std::unordered_map<Field, uint32_t, FieldHash> communities_;
  std::vector<Community> comms_;
  // The -H communities, in the order their keys are tried on a datagram that does not look plain.
  std::vector<uint32_t> heComms_;
  std::vector<Napi::Reference<Napi::Value>> keyRefs_;
  std::unordered_map<uint64_t, Edge> edges_;
  // -H: the process's stamp generator state {last hi, lo} and the taught edges' replay records (stamps.h), both
  // shared with JS, and a flag per record slot that the native side raised it (then one more: any raised).
  uint32_t* stampState_ = nullptr;
  uint32_t* records_ = nullptr;
  uint8_t* dirty_ = nullptr;
  uint32_t slotCount_ = 0;
  Napi::Reference<Napi::Uint32Array> stampRef_;
  Napi::Reference<Napi::Uint32Array> recordsRef_;
  Napi::Reference<Napi::Uint8Array> dirtyRef_;
  std::vector<uint8_t> random_;
  // -H, per read: each datagram's row of HeaderOpenMany results (-1: not tried), the rows (opened 1/0, stamp hi,
  // lo, header length) and their inputs; then the run's relayed datagrams waiting to be sealed (SealRun): key,
  // datagram, length, stamp {hi, lo}, random word.
  std::vector<int32_t> openSlot_;
  std::vector<uint32_t> openOut_;
  std::vector<uint32_t> openOffs_;
  std::vector<uint32_t> openLens_;
  uint32_t sealCount_ = 0;
  std::vector<const void*> sealKeys_;
  std::vector<uint8_t*> sealPtrs_;
  std::vector<uint32_t> sealLens_;
  std::vector<uint32_t> sealStamps_;
  std::vector<uint32_t> sealRands_;
  // Counters JS reads (Float64Array): see snrelay.cc.
  double* stats_ = nullptr;
  Napi::Reference<Napi::Float64Array> statsRef_;
  // The relayed datagrams of the current run, waiting for one sendmmsg.
  std::vector<uint8_t> out_;
  std::vector<Ipv4Out> outList_;
  Ipv4SendScratch sendScratch_;
};

}  // namespace tsn2n
