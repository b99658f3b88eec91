// Header encryption cores (-H): Pearson-B 64 checksum, Speck128/128 block and CTR, sealed and opened in place.
//
// The same steps as src/transform/header.ts (spec §7.3 / §7.4, header_encryption.c:
// packet_header_encrypt / packet_header_decrypt), which stays the tested reference: JS decides which key
// to try and when; these functions only run the data loops so that a header costs one call instead of a
// Pearson hash over the whole datagram in JS.
//
// * Pearson-B 64 (spec §3.2, pearson.c: pearson_hash_64): h = mix13((h ^ w) - 1) over the LE64 words, then
//   the complement, the tail bytes one at a time, the complement again and a last round with the length;
//   mix13 is Stafford's variant 13 of the SplitMix64 finaliser.
// * Speck128/128 (Beaulieu et al. 2013): y = LE64(B[0..8)), x = LE64(B[8..16)); CTR as n2n's speck_ctr,
//   keystream block i = E(n0 + i, n1) with no carry into n1.
#include "header.h"

#include "rawnapi.h"

#include <stdlib.h>
#include <string.h>

#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TSN2N_PEARSON_AVX512 1
// GCC 12 warns inside its own AVX-512 headers (their "undefined" source operands), inlined into our code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#endif

namespace tsn2n {
namespace {

constexpr int kRounds = 32;
constexpr size_t kKeyBytes = 16;
constexpr size_t kBlockBytes = 16;
constexpr size_t kCommunityBytes = 20;
// Datagram layout (spec §7.3): IV block [0, 16), magic word at 16, version/TTL/flags parked at 20..23.
constexpr size_t kMagicOff = 16;
constexpr size_t kMovedOff = 20;
constexpr size_t kMovedBytes = 4;
constexpr size_t kCommunityOff = 4;
constexpr size_t kStampHiOff = 4;
constexpr size_t kStampLoOff = 8;
constexpr size_t kRandomOff = 12;
// The common header: shorter datagrams are never encrypted (spec §7.2).
constexpr size_t kMinBytes = 24;
constexpr uint32_t kMagic = 0x6e320000u;  // "n2" in the high half; the low half carries hl
constexpr uint64_t kMix1 = 0xbf58476d1ce4e5b9ull;
constexpr uint64_t kMix2 = 0x94d049bb133111ebull;
constexpr size_t kSealArgs = 8;
constexpr size_t kOpenArgs = 6;
constexpr size_t kOutWords = 3;

// Marks our key externals, so a foreign External is refused instead of dereferenced.
const napi_type_tag kHeaderKeyTag = {0x7473'6e32'6e2d'6865ull, 0x6164'6572'2d6b'6579ull};

struct HeaderKey {
  uint64_t ctr[kRounds];  // Kh: the CTR key
  uint64_t iv[kRounds];   // Kiv: the IV block key
};

inline uint32_t LoadBe32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

inline void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline uint64_t Ror64(uint64_t x, unsigned r) { return (x >> r) | (x << (64 - r)); }
inline uint64_t Rol64(uint64_t x, unsigned r) { return (x << r) | (x >> (64 - r)); }

// ---------------------------------------------------------------------------- Pearson-B 64

inline uint64_t Mix13(uint64_t z) {
  z = (z ^ (z >> 30)) * kMix1;
  z = (z ^ (z >> 27)) * kMix2;
  return z ^ (z >> 31);
}

uint64_t Pearson64(const uint8_t* data, size_t len) {
  uint64_t h = 0;
  size_t p = 0;
  for (; p + 8 <= len; p += 8) h = Mix13((h ^ LoadLe64(data + p)) - 1);
  h = ~h;
  for (; p < len; p++) h = Mix13((h ^ data[p]) - 1);
  h = ~h;
  return Mix13((h ^ static_cast<uint64_t>(len)) - 1);
}

// The hash is one dependent chain per datagram, bound by the multiplier's latency: up to eight datagrams' chains
// run side by side over their common whole words, then each finishes alone (the same result as Pearson64 each).
// Measured on this machine class (a throwaway loop, 1,456-byte datagrams, g++ -O2): one chain 709 ns a datagram,
// four lanes 222 ns, eight lanes 185 ns, eight lanes in one AVX-512 register 116 ns. Eight scalar lanes cost twice
// the multiplies of four a step, so without AVX-512 two to four datagrams run in four lanes and five to eight in
// eight.
constexpr int kLanes = 8;
constexpr int kHalfLanes = 4;
constexpr size_t kWordBytes = 8;

// Runs L chains over the first `common` bytes (whole words) of d[0..L); returns where they stopped.
template <int L>
size_t PearsonCommon(uint8_t* const* data, int n, size_t common, uint64_t* h) {
  // The spare lanes hash the first datagram again, for nothing: the lanes cost what one chain does.
  const uint8_t* d[L];
  for (int j = 0; j < L; j++) d[j] = data[j < n ? j : 0];
  uint64_t x[L] = {};
  size_t p = 0;
  for (; p + kWordBytes <= common; p += kWordBytes) {
#pragma GCC unroll 8
    for (int j = 0; j < L; j++) x[j] = Mix13((x[j] ^ LoadLe64(d[j] + p)) - 1);
  }
  for (int j = 0; j < n; j++) h[j] = x[j];
  return p;
}

#ifdef TSN2N_PEARSON_AVX512
// The eight chains in one register (AVX-512DQ has the 64-bit multiply): each 64-byte block of the eight datagrams is
// loaded whole and transposed, so that register k holds word k of every datagram. It needs no common length (the
// scalar lanes finish each datagram alone after the shortest one's words, e.g. a 1,400-byte TCP segment batched
// with a 90-byte ACK). Sealing batches of 1,456-byte datagrams (header included, /tmp loop over headerSealBatch):
// 32 at a time 218 ns a datagram against 307 on the scalar lanes, with every fourth a 90-byte one 244 against 597;
// four at a time 430 against 377 (493 against 655 mixed), so it takes four datagrams and more.
constexpr size_t kBlockWords = 8;
constexpr int kMinVectorLanes = 4;

__attribute__((target("avx512f,avx512dq"))) inline __m512i VMix13(__m512i z) {
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), _mm512_set1_epi64(kMix1));
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), _mm512_set1_epi64(kMix2));
  return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

// Row `lane` of a block at word w0: the words its datagram still has there (masked: nothing past its end is read).
__attribute__((target("avx512f,avx512dq"))) inline __m512i LoadRow(const uint8_t* d, size_t words, size_t w0) {
  const size_t left = words > w0 ? words - w0 : 0;
  const size_t take = left < kBlockWords ? left : kBlockWords;
  return _mm512_maskz_loadu_epi64(static_cast<__mmask8>((1u << take) - 1), d + w0 * kWordBytes);
}

// The whole hash of up to eight datagrams of any lengths, each in its lane: a lane whose datagram has no word (or
// tail byte) left at a step keeps its value (masked), and masked loads never touch bytes past a datagram's end.
__attribute__((target("avx512f,avx512dq"))) void Pearson64Avx512(uint8_t* const* data, const size_t* len, int n,
                                                                   uint64_t* out) {
  const __m512i one = _mm512_set1_epi64(1);
  // Transpose steps (lane 0 first): after unpacking pairs of rows, gather words {k, k+4} of rows 0..3 (4..7), then
  // the halves.
  const __m512i pairLo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
  const __m512i pairHi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
  const __m512i halfLo = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
  const __m512i halfHi = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
  const uint8_t* d[kLanes];
  alignas(64) uint64_t words[kLanes];
  size_t most = 0;
  size_t fewest = SIZE_MAX;
  // Spare lanes hash the first datagram again (for nothing), so that equal lengths keep the unmasked blocks.
  for (int j = 0; j < kLanes; j++) {
    d[j] = j < n ? data[j] : data[0];
    words[j] = (j < n ? len[j] : len[0]) / kWordBytes;
    most = words[j] > most ? words[j] : most;
    fewest = words[j] < fewest ? words[j] : fewest;
  }
  const __m512i wordCounts = _mm512_loadu_si512(words);
  __m512i x = _mm512_setzero_si512();
  for (size_t w0 = 0; w0 < most; w0 += kBlockWords) {
    // Whole blocks of all eight lanes (the bulk of equal-length batches) take the plain loads and no masks.
    const bool whole = w0 + kBlockWords <= fewest;
    __m512i a[kLanes];
    for (int j = 0; j < kLanes; j += 2) {
      __m512i r0, r1;
      if (whole) {
        r0 = _mm512_loadu_si512(d[j] + w0 * kWordBytes);
        r1 = _mm512_loadu_si512(d[j + 1] + w0 * kWordBytes);
      } else {
        r0 = LoadRow(d[j], words[j], w0);
        r1 = LoadRow(d[j + 1], words[j + 1], w0);
      }
      a[j] = _mm512_unpacklo_epi64(r0, r1);      // words 0 2 4 6 of rows j, j+1
      a[j + 1] = _mm512_unpackhi_epi64(r0, r1);  // words 1 3 5 7
    }
    const __m512i b0 = _mm512_permutex2var_epi64(a[0], pairLo, a[2]);  // rows 0..3: words 0, 4
    const __m512i b1 = _mm512_permutex2var_epi64(a[1], pairLo, a[3]);  // 1, 5
    const __m512i b2 = _mm512_permutex2var_epi64(a[0], pairHi, a[2]);  // 2, 6
    const __m512i b3 = _mm512_permutex2var_epi64(a[1], pairHi, a[3]);  // 3, 7
    const __m512i b4 = _mm512_permutex2var_epi64(a[4], pairLo, a[6]);  // rows 4..7
    const __m512i b5 = _mm512_permutex2var_epi64(a[5], pairLo, a[7]);
    const __m512i b6 = _mm512_permutex2var_epi64(a[4], pairHi, a[6]);
    const __m512i b7 = _mm512_permutex2var_epi64(a[5], pairHi, a[7]);
    const __m512i w[kBlockWords] = {
        _mm512_permutex2var_epi64(b0, halfLo, b4), _mm512_permutex2var_epi64(b1, halfLo, b5),
        _mm512_permutex2var_epi64(b2, halfLo, b6), _mm512_permutex2var_epi64(b3, halfLo, b7),
        _mm512_permutex2var_epi64(b0, halfHi, b4), _mm512_permutex2var_epi64(b1, halfHi, b5),
        _mm512_permutex2var_epi64(b2, halfHi, b6), _mm512_permutex2var_epi64(b3, halfHi, b7),
    };
    if (whole) {
      for (size_t k = 0; k < kBlockWords; k++) x = VMix13(_mm512_sub_epi64(_mm512_xor_si512(x, w[k]), one));
    } else {
      // The lanes whose datagram has word w0 + k.
      for (size_t k = 0; k < kBlockWords; k++) {
        const __mmask8 active = _mm512_cmpgt_epu64_mask(wordCounts, _mm512_set1_epi64(static_cast<int64_t>(w0 + k)));
        x = _mm512_mask_mov_epi64(x, active, VMix13(_mm512_sub_epi64(_mm512_xor_si512(x, w[k]), one)));
      }
    }
  }
  // The complement, the tail bytes (fewer than a word) one step each, the complement, the length.
  const __m512i ones = _mm512_set1_epi64(-1);
  x = _mm512_xor_si512(x, ones);
  for (size_t t = 0; t < kWordBytes - 1; t++) {
    alignas(64) uint64_t bytes[kLanes] = {};
    __mmask8 active = 0;
    for (int j = 0; j < n; j++) {
      const size_t at = words[j] * kWordBytes + t;
      if (at < len[j]) {
        bytes[j] = data[j][at];
        active |= static_cast<__mmask8>(1u << j);
      }
    }
    if (active == 0) break;
    x = _mm512_mask_mov_epi64(x, active,
                              VMix13(_mm512_sub_epi64(_mm512_xor_si512(x, _mm512_load_si512(bytes)), one)));
  }
  x = _mm512_xor_si512(x, ones);
  alignas(64) uint64_t lengths[kLanes] = {};
  for (int j = 0; j < n; j++) lengths[j] = len[j];
  x = VMix13(_mm512_sub_epi64(_mm512_xor_si512(x, _mm512_load_si512(lengths)), one));
  alignas(64) uint64_t lanes[kLanes];
  _mm512_store_si512(lanes, x);
  for (int j = 0; j < n; j++) out[j] = lanes[j];
}

// TSN2N_PEARSON_PORTABLE=1 in the environment forces the scalar lanes (its test runs that way).
bool HaveAvx512Dq() {
  static const bool have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                           getenv("TSN2N_PEARSON_PORTABLE") == nullptr;
  return have;
}
#endif

}  // namespace

const char* HeaderPearsonImpl() {
#ifdef TSN2N_PEARSON_AVX512
  if (HaveAvx512Dq()) return "avx512";
#endif
  return "portable";
}

namespace {

void Pearson64Lanes(uint8_t* const* data, const size_t* len, int n, uint64_t* out) {
#ifdef TSN2N_PEARSON_AVX512
  if (n >= kMinVectorLanes && HaveAvx512Dq()) {
    Pearson64Avx512(data, len, n, out);
    return;
  }
#endif
  uint64_t h[kLanes] = {};
  size_t common = len[0];
  for (int j = 1; j < n; j++) common = len[j] < common ? len[j] : common;
  size_t p = 0;
  if (n > kHalfLanes) {
    p = PearsonCommon<kLanes>(data, n, common, h);
  } else if (n >= 2) {
    p = PearsonCommon<kHalfLanes>(data, n, common, h);
  }
  for (int j = 0; j < n; j++) {
    uint64_t x = h[j];
    size_t q = p;
    for (; q + 8 <= len[j]; q += 8) x = Mix13((x ^ LoadLe64(data[j] + q)) - 1);
    x = ~x;
    for (; q < len[j]; q++) x = Mix13((x ^ data[j][q]) - 1);
    x = ~x;
    out[j] = Mix13((x ^ static_cast<uint64_t>(len[j])) - 1);
  }
}

// ---------------------------------------------------------------------------- Speck128/128

void SpeckExpand(const uint8_t* key, uint64_t* rk) {
  uint64_t k = LoadLe64(key);
  uint64_t l = LoadLe64(key + 8);
  for (int i = 0; i < kRounds; i++) {
    rk[i] = k;
    l = (Ror64(l, 8) + k) ^ static_cast<uint64_t>(i);
    k = Rol64(k, 3) ^ l;
  }
}

inline void SpeckEncrypt(const uint64_t* rk, uint64_t* y, uint64_t* x) {
  uint64_t a = *y, b = *x;
  for (int i = 0; i < kRounds; i++) {
    b = (Ror64(b, 8) + a) ^ rk[i];
    a = Rol64(a, 3) ^ b;
  }
  *y = a;
  *x = b;
}

void SpeckEncryptBlock(const uint64_t* rk, uint8_t* block) {
  uint64_t y = LoadLe64(block), x = LoadLe64(block + 8);
  SpeckEncrypt(rk, &y, &x);
  StoreLe64(block, y);
  StoreLe64(block + 8, x);
}

void SpeckDecryptBlock(const uint64_t* rk, uint8_t* block) {
  uint64_t y = LoadLe64(block), x = LoadLe64(block + 8);
  for (int i = kRounds - 1; i >= 0; i--) {
    y = Ror64(y ^ x, 3);
    x = Rol64((x ^ rk[i]) - y, 8);
  }
  StoreLe64(block, y);
  StoreLe64(block + 8, x);
}

// XORs data[0, len) with the keystream of `iv` (in place).
void SpeckCtr(const uint64_t* rk, const uint8_t* iv, uint8_t* data, size_t len) {
  const uint64_t n0 = LoadLe64(iv), n1 = LoadLe64(iv + 8);
  uint8_t ks[kBlockBytes];
  for (size_t done = 0, i = 0; done < len; done += kBlockBytes, i++) {
    uint64_t y = n0 + i, x = n1;
    SpeckEncrypt(rk, &y, &x);
    StoreLe64(ks, y);
    StoreLe64(ks + 8, x);
    const size_t n = len - done < kBlockBytes ? len - done : kBlockBytes;
    for (size_t j = 0; j < n; j++) data[done + j] ^= ks[j];
  }
}

// ---------------------------------------------------------------------------- seal / open

// The seal's steps after the checksum over the plaintext datagram.
void SealWith(const HeaderKey& k, uint8_t* d, uint64_t cs, size_t hl, uint32_t stampHi, uint32_t stampLo,
              uint32_t rand) {
  memmove(d + kMovedOff, d, kMovedBytes);
  StoreBe32(d, static_cast<uint32_t>(cs >> 32));
  StoreBe32(d + kStampHiOff, static_cast<uint32_t>(cs) ^ stampHi);
  StoreBe32(d + kStampLoOff, stampLo);
  StoreBe32(d + kRandomOff, rand);
  SpeckEncryptBlock(k.iv, d);
  StoreBe32(d + kMagicOff, kMagic + static_cast<uint32_t>(hl));
  SpeckCtr(k.ctr, d, d + kMagicOff, hl - kMagicOff);
}

void Seal(const HeaderKey& k, uint8_t* d, size_t len, size_t hl, uint32_t stampHi, uint32_t stampLo,
          uint32_t rand) {
  SealWith(k, d, Pearson64(d, len), hl, stampHi, stampLo, rand);
}

// Seals datagram i = data(i) of len(i) bytes with hl(i), stamps {hi, lo} at stamps[2i] and rands[i], i < count,
// the checksums kLanes at a time.
template <typename Data, typename Len, typename Hl>
void SealLanes(const HeaderKey& k, size_t count, Data data, Len len, Hl hl, const uint32_t* stamps,
               const uint32_t* rands) {
  uint8_t* d[kLanes];
  size_t dlen[kLanes];
  uint64_t cs[kLanes];
  for (size_t i = 0; i < count; i += kLanes) {
    const int n = count - i < static_cast<size_t>(kLanes) ? static_cast<int>(count - i) : kLanes;
    for (int j = 0; j < n; j++) {
      d[j] = data(i + j);
      dlen[j] = len(i + j);
    }
    Pearson64Lanes(d, dlen, n, cs);
    for (int j = 0; j < n; j++) {
      const size_t m = i + j;
      SealWith(k, d[j], cs[j], hl(m), stamps[2 * m], stamps[2 * m + 1], rands[m]);
    }
  }
}

// openBatch's state for one datagram between the Speck steps and the checksum.
struct OpenLane {
  uint8_t* d;
  size_t len;
  size_t hl;
  uint32_t csHigh, stampHi, stampLo;
  uint8_t savedIv[kBlockBytes];
  uint8_t savedPlain[kMinBytes - kMagicOff];
};

// Open's steps up to the checksum; false (buffer untouched) when the magic's hl is impossible.
bool OpenBegin(const HeaderKey& k, uint8_t* d, size_t len, const uint8_t* community, OpenLane* s) {
  if (len < kMinBytes) return false;
  uint8_t magic[4];
  memcpy(magic, d + kMagicOff, sizeof(magic));
  SpeckCtr(k.ctr, d, magic, sizeof(magic));
  const uint32_t hl = LoadBe32(magic) - kMagic;
  if (hl > len || hl < kMinBytes) return false;
  s->d = d;
  s->len = len;
  s->hl = hl;
  memcpy(s->savedIv, d, kBlockBytes);
  SpeckCtr(k.ctr, s->savedIv, d + kMagicOff, hl - kMagicOff);
  SpeckDecryptBlock(k.iv, d);
  s->csHigh = LoadBe32(d);
  s->stampHi = LoadBe32(d + kStampHiOff);
  s->stampLo = LoadBe32(d + kStampLoOff);
  memcpy(s->savedPlain, d + kMagicOff, sizeof(s->savedPlain));
  memmove(d, d + kMovedOff, kMovedBytes);
  memcpy(d + kCommunityOff, community, kCommunityBytes);
  return true;
}

// Open's steps after the checksum `cs` over the restored datagram: out = {stamp hi, lo, hl}, or the datagram
// put back byte-identically and false.
bool OpenEnd(const HeaderKey& k, const OpenLane& s, uint64_t cs, uint32_t* out) {
  if (static_cast<uint32_t>(cs >> 32) != s.csHigh) {
    memcpy(s.d + kMagicOff, s.savedPlain, sizeof(s.savedPlain));
    SpeckCtr(k.ctr, s.savedIv, s.d + kMagicOff, s.hl - kMagicOff);
    memcpy(s.d, s.savedIv, kBlockBytes);
    return false;
  }
  out[0] = s.stampHi ^ static_cast<uint32_t>(cs);
  out[1] = s.stampLo;
  out[2] = static_cast<uint32_t>(s.hl);
  return true;
}

// On success the plaintext datagram is back in place and out = {stamp hi, stamp lo, hl}; on failure the
// buffer is byte-identical to what it was.
bool Open(const HeaderKey& k, uint8_t* d, size_t len, const uint8_t* community, uint32_t* out) {
  OpenLane s;
  if (!OpenBegin(k, d, len, community, &s)) return false;
  return OpenEnd(k, s, Pearson64(d, len), out);
}

// Open over datagrams d[i] = buf + offs[i], len lens[i]: out[4i] = 1 and out[4i+1..3] = {stamp hi, lo, hl} for
// those that open, out[4i] = 0 and the datagram untouched for the others; up to eight checksums side by side.
void OpenBatch(const HeaderKey& k, uint8_t* buf, const uint32_t* offs, const uint32_t* lens, size_t count,
               const uint8_t* community, uint32_t* out) {
  OpenLane lanes[kLanes];
  size_t index[kLanes];
  uint8_t* data[kLanes];
  size_t dlen[kLanes];
  uint64_t cs[kLanes];
  int n = 0;
  for (size_t i = 0; i <= count; i++) {
    if (i < count) {
      out[4 * i] = 0;
      if (OpenBegin(k, buf + offs[i], lens[i], community, &lanes[n])) {
        index[n] = i;
        data[n] = lanes[n].d;
        dlen[n] = lanes[n].len;
        n++;
      }
    }
    if (n == kLanes || (i == count && n > 0)) {
      Pearson64Lanes(data, dlen, n, cs);
      for (int j = 0; j < n; j++) {
        uint32_t* o = out + 4 * index[j];
        o[0] = OpenEnd(k, lanes[j], cs[j], o + 1) ? 1 : 0;
      }
      n = 0;
    }
  }
}

// ---------------------------------------------------------------------------- N-API

bool GetU32(napi_env env, napi_value v, uint32_t* out) { return napi_get_value_uint32(env, v, out) == napi_ok; }

const HeaderKey* GetKey(napi_env env, napi_value v) {
  bool tagged = false;
  void* data = nullptr;
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, v, &kHeaderKeyTag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    return nullptr;
  }
  return static_cast<const HeaderKey*>(data);
}

void FinalizeKey(napi_env env, void* data, void* hint) { delete static_cast<HeaderKey*>(data); }

// headerKey(kh, kiv) → handle with both Speck128/128 keys expanded.
napi_value HeaderKeyJs(napi_env env, napi_callback_info info) {
  const char* usage = "headerKey(kh: Uint8Array(16), kiv: Uint8Array(16))";
  size_t argc = 2;
  napi_value argv[2];
  uint8_t *kh, *kiv;
  size_t khLen, kivLen;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2 ||
      !GetBytes(env, argv[0], &kh, &khLen) || !GetBytes(env, argv[1], &kiv, &kivLen)) {
    return ThrowType(env, usage);
  }
  if (khLen != kKeyBytes || kivLen != kKeyBytes) return ThrowRange(env, "headerKey: keys must be 16 bytes");
  auto* key = new HeaderKey();
  SpeckExpand(kh, key->ctr);
  SpeckExpand(kiv, key->iv);
  napi_value ext;
  if (napi_create_external(env, key, FinalizeKey, nullptr, &ext) != napi_ok) {
    delete key;
    napi_throw_error(env, nullptr, "headerKey: cannot create the handle");
    return nullptr;
  }
  if (napi_type_tag_object(env, ext, &kHeaderKeyTag) != napi_ok) {
    napi_throw_error(env, nullptr, "headerKey: cannot tag the handle");
    return nullptr;
  }
  return ext;
}

// headerSeal(key, buf, off, len, hl, stampHi, stampLo, rand): encrypts buf[off, off+len) in place.
napi_value HeaderSealJs(napi_env env, napi_callback_info info) {
  const char* usage = "headerSeal(key, buf: Uint8Array, off, len, hl, stampHi, stampLo, rand)";
  size_t argc = kSealArgs;
  napi_value argv[kSealArgs];
  uint8_t* buf;
  size_t bufLen, off, len, hl;
  uint32_t stampHi, stampLo, rand;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < kSealArgs) {
    return ThrowType(env, usage);
  }
  const HeaderKey* key = GetKey(env, argv[0]);
  if (key == nullptr || !GetBytes(env, argv[1], &buf, &bufLen) || !GetIndex(env, argv[2], &off) ||
      !GetIndex(env, argv[3], &len) || !GetIndex(env, argv[4], &hl) || !GetU32(env, argv[5], &stampHi) ||
      !GetU32(env, argv[6], &stampLo) || !GetU32(env, argv[7], &rand)) {
    return ThrowType(env, usage);
  }
  if (off + len > bufLen || len < kMinBytes || hl < kMinBytes || hl > len) {
    return ThrowRange(env, "headerSeal: range outside its buffer or hl outside [24, len]");
  }
  Seal(*key, buf + off, len, hl, stampHi, stampLo, rand);
  return nullptr;
}

// headerOpen(key, buf, off, len, community20, out: Uint32Array(3)) → true with out = {stamp hi, lo, hl}.
napi_value HeaderOpenJs(napi_env env, napi_callback_info info) {
  const char* usage = "headerOpen(key, buf: Uint8Array, off, len, community: Uint8Array(20), out: Uint32Array(3))";
  size_t argc = kOpenArgs;
  napi_value argv[kOpenArgs];
  uint8_t *buf, *community;
  uint32_t* out;
  size_t bufLen, off, len, communityLen, outLen;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < kOpenArgs) {
    return ThrowType(env, usage);
  }
  const HeaderKey* key = GetKey(env, argv[0]);
  if (key == nullptr || !GetBytes(env, argv[1], &buf, &bufLen) || !GetIndex(env, argv[2], &off) ||
      !GetIndex(env, argv[3], &len) || !GetBytes(env, argv[4], &community, &communityLen) ||
      !GetU32s(env, argv[5], &out, &outLen)) {
    return ThrowType(env, usage);
  }
  if (off + len > bufLen || communityLen != kCommunityBytes || outLen < kOutWords) {
    return ThrowRange(env, "headerOpen: range outside its buffer, or wrong community/out size");
  }
  napi_value result;
  napi_get_boolean(env, Open(*key, buf + off, len, community, out), &result);
  return result;
}

// headerSealBatch(key, buf, offs, lens, hls, stamps, rands, count): datagram i = buf[offs[i], +lens[i]) sealed
// in place with hl = hls[i], stamp = (stamps[2i], stamps[2i+1]) and rands[i]; every range is checked first.
napi_value HeaderSealBatchJs(napi_env env, napi_callback_info info) {
  const char* usage =
      "headerSealBatch(key, buf: Uint8Array, offs: Uint32Array, lens: Uint32Array, hls: Uint32Array, "
      "stamps: Uint32Array, rands: Uint32Array, count)";
  constexpr size_t kArgs = 8;
  size_t argc = kArgs;
  napi_value argv[kArgs];
  uint8_t* buf;
  uint32_t *offs, *lens, *hls, *stamps, *rands;
  size_t bufLen, nOffs, nLens, nHls, nStamps, nRands, count;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < kArgs) {
    return ThrowType(env, usage);
  }
  const HeaderKey* key = GetKey(env, argv[0]);
  if (key == nullptr || !GetBytes(env, argv[1], &buf, &bufLen) || !GetU32s(env, argv[2], &offs, &nOffs) ||
      !GetU32s(env, argv[3], &lens, &nLens) || !GetU32s(env, argv[4], &hls, &nHls) ||
      !GetU32s(env, argv[5], &stamps, &nStamps) || !GetU32s(env, argv[6], &rands, &nRands) ||
      !GetIndex(env, argv[7], &count)) {
    return ThrowType(env, usage);
  }
  if (count > nOffs || count > nLens || count > nHls || count > nRands || 2 * count > nStamps) {
    return ThrowRange(env, "headerSealBatch: count exceeds an array");
  }
  for (size_t i = 0; i < count; i++) {
    const size_t off = offs[i], len = lens[i], hl = hls[i];
    if (off + len > bufLen || len < kMinBytes || hl < kMinBytes || hl > len) {
      return ThrowRange(env, "headerSealBatch: a range outside its buffer or hl outside [24, len]");
    }
  }
  SealLanes(
      *key, count, [&](size_t i) { return buf + offs[i]; }, [&](size_t i) { return lens[i]; },
      [&](size_t i) { return hls[i]; }, stamps, rands);
  return nullptr;
}

// headerOpenBatch(key, buf, offs, lens, community20, out: Uint32Array(4 count), count): headerOpen for datagram
// i = buf[offs[i], +lens[i]) with its result at out[4i] (1 opened, 0 not: untouched) and {stamp hi, lo, hl} at
// out[4i+1..3]; every range is checked first.
napi_value HeaderOpenBatchJs(napi_env env, napi_callback_info info) {
  const char* usage =
      "headerOpenBatch(key, buf: Uint8Array, offs: Uint32Array, lens: Uint32Array, community: Uint8Array(20), "
      "out: Uint32Array, count)";
  constexpr size_t kArgs = 7;
  size_t argc = kArgs;
  napi_value argv[kArgs];
  uint8_t *buf, *community;
  uint32_t *offs, *lens, *out;
  size_t bufLen, nOffs, nLens, communityLen, nOut, count;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < kArgs) {
    return ThrowType(env, usage);
  }
  const HeaderKey* key = GetKey(env, argv[0]);
  if (key == nullptr || !GetBytes(env, argv[1], &buf, &bufLen) || !GetU32s(env, argv[2], &offs, &nOffs) ||
      !GetU32s(env, argv[3], &lens, &nLens) || !GetBytes(env, argv[4], &community, &communityLen) ||
      !GetU32s(env, argv[5], &out, &nOut) || !GetIndex(env, argv[6], &count)) {
    return ThrowType(env, usage);
  }
  if (communityLen != kCommunityBytes || count > nOffs || count > nLens || count > nOut / 4) {
    return ThrowRange(env, "headerOpenBatch: count exceeds an array, or the community is not 20 bytes");
  }
  for (size_t i = 0; i < count; i++) {
    if (static_cast<size_t>(offs[i]) + lens[i] > bufLen) {
      return ThrowRange(env, "headerOpenBatch: a range outside its buffer");
    }
  }
  OpenBatch(*key, buf, offs, lens, count, community, out);
  return nullptr;
}

// pearson64(buf, off, len, out: Uint32Array(2)): out = {hi, lo} (for tests and benchmarks).
napi_value Pearson64Js(napi_env env, napi_callback_info info) {
  const char* usage = "pearson64(buf: Uint8Array, off, len, out: Uint32Array(2))";
  size_t argc = 4;
  napi_value argv[4];
  uint8_t* buf;
  uint32_t* out;
  size_t bufLen, off, len, outLen;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 4 ||
      !GetBytes(env, argv[0], &buf, &bufLen) || !GetIndex(env, argv[1], &off) || !GetIndex(env, argv[2], &len) ||
      !GetU32s(env, argv[3], &out, &outLen)) {
    return ThrowType(env, usage);
  }
  if (off + len > bufLen || outLen < 2) return ThrowRange(env, "pearson64: range outside its buffer");
  const uint64_t h = Pearson64(buf + off, len);
  out[0] = static_cast<uint32_t>(h >> 32);
  out[1] = static_cast<uint32_t>(h);
  return nullptr;
}

}  // namespace

const void* HeaderKeyFrom(napi_env env, napi_value v) { return GetKey(env, v); }

void HeaderSealOne(const void* key, uint8_t* d, size_t len, size_t hl, uint32_t stampHi, uint32_t stampLo,
                   uint32_t rand) {
  Seal(*static_cast<const HeaderKey*>(key), d, len, hl, stampHi, stampLo, rand);
}

bool HeaderOpenOne(const void* key, uint8_t* d, size_t len, const uint8_t* community, uint32_t* out) {
  return Open(*static_cast<const HeaderKey*>(key), d, len, community, out);
}

void HeaderSealMany(const void* key, uint8_t* const* d, const uint32_t* len, size_t hl, const uint32_t* stamps,
                    const uint32_t* rands, size_t count) {
  SealLanes(
      *static_cast<const HeaderKey*>(key), count, [&](size_t i) { return d[i]; }, [&](size_t i) { return len[i]; },
      [&](size_t) { return hl; }, stamps, rands);
}

void HeaderOpenMany(const void* key, uint8_t* buf, const uint32_t* offs, const uint32_t* lens, size_t count,
                    const uint8_t* community, uint32_t* out) {
  OpenBatch(*static_cast<const HeaderKey*>(key), buf, offs, lens, count, community, out);
}

void InitHeader(Napi::Env env, Napi::Object exports) {
  SetRaw(env, exports, "headerKey", HeaderKeyJs);
  SetRaw(env, exports, "headerSeal", HeaderSealJs);
  SetRaw(env, exports, "headerOpen", HeaderOpenJs);
  SetRaw(env, exports, "headerSealBatch", HeaderSealBatchJs);
  SetRaw(env, exports, "headerOpenBatch", HeaderOpenBatchJs);
  SetRaw(env, exports, "pearson64", Pearson64Js);
}

}  // namespace tsn2n
