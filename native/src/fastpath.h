// The edge's native fast path: steady-state P2P data packets UDP → TAP and TAP → UDP without a call into JS.
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <cstdint>
#include <vector>

#include "batchtaker.h"
#include "frames.h"
#include "sendruns.h"

namespace tsn2n {

// FastPath executes what the edge's TS decided (src/edge/fastpath.ts): which peers (MAC at IPv4:port) are known
// and may be sent to directly until when, the community, our MAC, the transform and its key, the TAP and the
// socket. It takes a datagram or a frame only when the JS path would do nothing with it but encrypt or decrypt
// it, count it and pass it on; anything else, and everything after it in the batch, stays for JS.
class FastPath : public Napi::ObjectWrap<FastPath>, public BatchTaker {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // The FastPath behind a JS object, or nullptr when it is not one (checked by type tag).
  static FastPath* From(napi_env env, napi_value v);

  explicit FastPath(const Napi::CallbackInfo& info);
  ~FastPath() override;
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;

  // UDP → TAP: handles the leading datagrams of the slab it can take and returns how many.
  uint32_t RunRx(const Slab& slab, uint32_t count) override;
  // TAP → UDP: handles the leading frames of the slab it can take and returns how many.
  uint32_t RunTx(const Slab& slab, uint32_t count) override;

 private:
  Napi::Value Configure(const Napi::CallbackInfo& info);
  Napi::Value SetPeers(const Napi::CallbackInfo& info);
  Napi::Value SetEnabled(const Napi::CallbackInfo& info);
  Napi::Value ConfigureHeader(const Napi::CallbackInfo& info);
  Napi::Value SetRelay(const Napi::CallbackInfo& info);
  int32_t FindRelay(const uint8_t* mac) const;
  bool KnownSocket(const uint8_t* ip, const uint8_t* port) const;
  uint32_t* Record(int32_t slot) const;
  bool StampFresh(int32_t slot, uint32_t hi, uint32_t lo) const;
  void StampAccept(int32_t slot, uint32_t hi, uint32_t lo);
  void NextStamp(uint32_t* hi, uint32_t* lo);
  bool TakeRx(const uint8_t* d, uint32_t len, const uint8_t* addr, const uint32_t* opened);
  void FlushRx();
  bool TakeTx(const uint8_t* frame, uint32_t len, uint32_t now);
  void FlushTx();
  int32_t FindPeer(const uint8_t* mac) const;

  bool rxEnabled_ = false;
  bool txEnabled_ = false;
  int tapFd_ = -1;
  int udpFd_ = -1;
  bool vnet_ = false;
  uint8_t community_[20] = {};
  uint8_t ownMac_[6] = {};
  uint8_t transform_ = 0;
  bool chacha_ = false;
  void* key_ = nullptr;
  // The key encrypts several payloads side by side (crypto.h PayloadLanesKey): TakeTx only notes each payload,
  // RunTx encrypts the run's together.
  bool lanes_ = false;
  uint32_t devAddr_ = 0;
  bool allowRouting_ = false;
  // Peers: 20 bytes each (MAC, IPv4 and port big-endian, may-send flag, 3 zero bytes, the last Unix second
  // it may be sent to directly, big-endian).
  uint8_t* peers_ = nullptr;
  uint32_t peerCount_ = 0;
  uint32_t peerCapacity_ = 0;
  // Counters JS reads (Float64Array): see fastpath.cc.
  double* stats_ = nullptr;
  Napi::Reference<Napi::Float64Array> statsRef_;
  Napi::Reference<Napi::Uint8Array> peersRef_;
  Napi::Reference<Napi::Value> keyRef_;
  // Relayed peers (pending: reached through the supernode), 20 bytes each as peers_ (the IPv4 socket being the one
  // the supernode's relayed PACKETs carry), the current supernode's IPv4 socket (big-endian) and their counters.
  uint8_t* relay_ = nullptr;
  uint32_t relayCount_ = 0;
  uint32_t relayCapacity_ = 0;
  uint8_t snIp_[4] = {};
  uint8_t snPort_[2] = {};
  bool snSet_ = false;
  double* relayStats_ = nullptr;
  Napi::Reference<Napi::Uint8Array> relayRef_;
  Napi::Reference<Napi::Float64Array> relayStatsRef_;
  // -H: the supernode's replay record (relayed PACKETs are checked against it), shared with JS.
  uint32_t* snRecord_ = nullptr;
  Napi::Reference<Napi::Uint32Array> snRecordRef_;
  // -H (communities without users): the header key pair, the process's stamp generator state (last stamp hi,
  // lo: shared with src/transform/stamp.ts), and per peer slot its replay record (see fastpath.cc).
  const void* heKey_ = nullptr;
  Napi::Reference<Napi::Value> heKeyRef_;
  uint32_t* stampState_ = nullptr;
  Napi::Reference<Napi::Uint32Array> stampRef_;
  uint32_t* records_ = nullptr;
  Napi::Reference<Napi::Uint32Array> recordsRef_;
  // Received -H datagrams are opened in place, 32 at a time; saved_ keeps each one's first header bytes (a slot
  // per datagram) to put back those the fast path leaves to JS; openOut_ holds headerOpenBatch's results.
  std::vector<uint8_t> saved_;
  std::vector<uint32_t> openOffs_;
  std::vector<uint32_t> openOut_;
  // Sent -H datagrams: their stamps, sealed together before the send.
  std::vector<uint32_t> sealStamps_;
  std::vector<uint32_t> sealRands_;
  std::vector<uint8_t*> sealPtrs_;
  // Sent payloads waiting for PayloadEncryptMany (lanes_): random block, frame, length, where the ciphertext goes.
  std::vector<const uint8_t*> encR_;
  std::vector<const uint8_t*> encIn_;
  std::vector<size_t> encLen_;
  std::vector<uint8_t*> encOut_;
  // UDP → TAP: the decrypted frames of the current run, waiting for one TAP write call.
  std::vector<uint8_t> frames_;
  std::vector<uint32_t> frameOffs_;
  std::vector<uint32_t> frameLens_;
  uint32_t frameCount_ = 0;
  // TAP → UDP: the datagrams of the current run and their peer slots, waiting for one sendmmsg.
  std::vector<uint8_t> out_;
  std::vector<uint32_t> outLens_;
  std::vector<int32_t> outPeer_;
  std::vector<uint8_t> random_;
  std::vector<Ipv4Out> outList_;
  Ipv4SendScratch sendScratch_;
  uint32_t outCount_ = 0;
};

}  // namespace tsn2n
