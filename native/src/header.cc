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

// The hash is one dependent chain per datagram: up to eight datagrams' chains run side by side in scalar lanes (over
// their common whole words, then each finishes alone), or up to 32 in AVX-512 registers, eight to a register (the
// same result as Pearson64 each). Measured on this machine class (throwaway loops, 1,456-byte datagrams, g++ -O2):
// one chain 709 ns a datagram, four scalar lanes 222 ns, eight 185 ns; one AVX-512 register 97 ns, two 62 ns, four
// 42 ns (the 64-bit multiplies' throughput, not their latency, bounds four). Eight scalar lanes cost twice the
// multiplies of four a step, so without AVX-512 two to four datagrams run in four lanes and five to eight in eight.
constexpr int kLanes = 8;
constexpr int kHalfLanes = 4;
// A group: the most datagrams whose hashes (and header blocks) are computed together.
constexpr int kMaxRegisters = 4;
constexpr int kGroup = kLanes * kMaxRegisters;
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
// The chains in R registers (AVX-512DQ has the 64-bit multiply): each 64-byte block of a register's eight datagrams
// is loaded whole and transposed, so that row k holds word k of every datagram. It needs no common length (the
// scalar lanes finish each datagram alone after the shortest one's words, e.g. a 1,400-byte TCP segment batched
// with a 90-byte ACK). Sealing batches of 1,456-byte datagrams (header included, /tmp loop over headerSealBatch),
// one register: 32 at a time 218 ns a datagram against 307 on the scalar lanes, with every fourth a 90-byte one
// 244 against 597; four at a time 430 against 377 (493 against 655 mixed), so it takes four datagrams and more.
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

// The eight words at w0 of the datagrams d[0..8), transposed: w[k] holds word w0 + k of each (lane j: d[j]).
__attribute__((target("avx512f,avx512dq"), always_inline)) inline void LoadBlock(const uint8_t* const* d,
                                                                                   const size_t* words, size_t w0,
                                                                                   bool whole, __m512i* w) {
  // Transpose steps (lane 0 first): after unpacking pairs of rows, gather words {k, k+4} of rows 0..3 (4..7), then
  // the halves.
  const __m512i pairLo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
  const __m512i pairHi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
  const __m512i halfLo = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
  const __m512i halfHi = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
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
  w[0] = _mm512_permutex2var_epi64(b0, halfLo, b4);
  w[1] = _mm512_permutex2var_epi64(b1, halfLo, b5);
  w[2] = _mm512_permutex2var_epi64(b2, halfLo, b6);
  w[3] = _mm512_permutex2var_epi64(b3, halfLo, b7);
  w[4] = _mm512_permutex2var_epi64(b0, halfHi, b4);
  w[5] = _mm512_permutex2var_epi64(b1, halfHi, b5);
  w[6] = _mm512_permutex2var_epi64(b2, halfHi, b6);
  w[7] = _mm512_permutex2var_epi64(b3, halfHi, b7);
}

// The whole hash of up to 8R datagrams of any lengths, each in its lane: a lane whose datagram has no word (or tail
// byte) left at a step keeps its value (masked), and masked loads never touch bytes past a datagram's end.
template <int R>
__attribute__((target("avx512f,avx512dq"))) void Pearson64Avx512(uint8_t* const* data, const size_t* len, int n,
                                                                   uint64_t* out) {
  constexpr int kAll = kLanes * R;
  const __m512i one = _mm512_set1_epi64(1);
  const uint8_t* d[kAll];
  alignas(64) uint64_t words[kAll];
  size_t most = 0;
  size_t fewest = SIZE_MAX;
  // Spare lanes hash the first datagram again (for nothing), so that equal lengths keep the unmasked blocks.
  for (int j = 0; j < kAll; j++) {
    d[j] = j < n ? data[j] : data[0];
    words[j] = (j < n ? len[j] : len[0]) / kWordBytes;
    most = words[j] > most ? words[j] : most;
    fewest = words[j] < fewest ? words[j] : fewest;
  }
  __m512i wordCounts[R];
  __m512i x[R];
  for (int r = 0; r < R; r++) {
    wordCounts[r] = _mm512_load_si512(words + kLanes * r);
    x[r] = _mm512_setzero_si512();
  }
  for (size_t w0 = 0; w0 < most; w0 += kBlockWords) {
    // Whole blocks of every lane (the bulk of equal-length batches) take the plain loads and no masks.
    const bool whole = w0 + kBlockWords <= fewest;
    __m512i w[R][kBlockWords];
    for (int r = 0; r < R; r++) LoadBlock(d + kLanes * r, words + kLanes * r, w0, whole, w[r]);
    if (whole) {
      // The registers' chains interleaved, so that the multiplier always has independent work.
      for (size_t k = 0; k < kBlockWords; k++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) x[r] = VMix13(_mm512_sub_epi64(_mm512_xor_si512(x[r], w[r][k]), one));
      }
    } else {
      // The lanes whose datagram has word w0 + k.
      for (size_t k = 0; k < kBlockWords; k++) {
        const __m512i at = _mm512_set1_epi64(static_cast<int64_t>(w0 + k));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
          const __mmask8 active = _mm512_cmpgt_epu64_mask(wordCounts[r], at);
          x[r] = _mm512_mask_mov_epi64(x[r], active, VMix13(_mm512_sub_epi64(_mm512_xor_si512(x[r], w[r][k]), one)));
        }
      }
    }
  }
  // The complement, the tail bytes (fewer than a word) one step each, the complement, the length.
  const __m512i ones = _mm512_set1_epi64(-1);
  for (int r = 0; r < R; r++) x[r] = _mm512_xor_si512(x[r], ones);
  for (size_t t = 0; t < kWordBytes - 1; t++) {
    alignas(64) uint64_t bytes[kAll] = {};
    uint32_t active = 0;
    for (int j = 0; j < n; j++) {
      const size_t at = words[j] * kWordBytes + t;
      if (at < len[j]) {
        bytes[j] = data[j][at];
        active |= 1u << j;
      }
    }
    if (active == 0) break;
    for (int r = 0; r < R; r++) {
      const __mmask8 lanes = static_cast<__mmask8>(active >> (kLanes * r));
      x[r] = _mm512_mask_mov_epi64(
          x[r], lanes, VMix13(_mm512_sub_epi64(_mm512_xor_si512(x[r], _mm512_load_si512(bytes + kLanes * r)), one)));
    }
  }
  alignas(64) uint64_t lengths[kAll] = {};
  for (int j = 0; j < n; j++) lengths[j] = len[j];
  alignas(64) uint64_t lanes[kAll];
  for (int r = 0; r < R; r++) {
    x[r] = _mm512_xor_si512(x[r], ones);
    x[r] = VMix13(_mm512_sub_epi64(_mm512_xor_si512(x[r], _mm512_load_si512(lengths + kLanes * r)), one));
    _mm512_store_si512(lanes + kLanes * r, x[r]);
  }
  for (int j = 0; j < n; j++) out[j] = lanes[j];
}

// TSN2N_PEARSON_PORTABLE=1 in the environment forces the portable -H code: the scalar hash lanes and Speck one block
// at a time (its test runs that way).
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

// Up to eight datagrams in the scalar lanes.
void Pearson64Scalar(uint8_t* const* data, const size_t* len, int n, uint64_t* out) {
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

// out[j] = Pearson64(data[j], len[j]) for j < n <= kGroup.
void Pearson64Lanes(uint8_t* const* data, const size_t* len, int n, uint64_t* out) {
#ifdef TSN2N_PEARSON_AVX512
  if (n >= kMinVectorLanes && HaveAvx512Dq()) {
    switch ((n + kLanes - 1) / kLanes) {
      case 1:
        Pearson64Avx512<1>(data, len, n, out);
        return;
      case 2:
        Pearson64Avx512<2>(data, len, n, out);
        return;
      case 3:
        Pearson64Avx512<3>(data, len, n, out);
        return;
      default:
        Pearson64Avx512<kMaxRegisters>(data, len, n, out);
        return;
    }
  }
#endif
  for (int j = 0; j < n; j += kLanes) Pearson64Scalar(data + j, len + j, n - j < kLanes ? n - j : kLanes, out + j);
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

inline void SpeckDecrypt(const uint64_t* rk, uint64_t* y, uint64_t* x) {
  uint64_t a = *y, b = *x;
  for (int i = kRounds - 1; i >= 0; i--) {
    a = Ror64(a ^ b, 3);
    b = Rol64((b ^ rk[i]) - a, 8);
  }
  *y = a;
  *x = b;
}

#ifdef TSN2N_PEARSON_AVX512
// Speck over blocks (y[i], x[i]), i < n <= 8G, eight blocks to a register pair, the G pairs' rounds interleaved
// (one pair is bound by a round's latency, several by the adder's throughput). Lanes past n are neither read nor
// written.
template <int G, bool kDecrypt>
__attribute__((target("avx512f"))) void SpeckAvx512(const uint64_t* rk, uint64_t* y, uint64_t* x, size_t n) {
  __m512i a[G], b[G];
  __mmask8 m[G];
  for (int g = 0; g < G; g++) {
    const size_t left = n > static_cast<size_t>(kLanes * g) ? n - kLanes * g : 0;
    m[g] = static_cast<__mmask8>(left >= static_cast<size_t>(kLanes) ? 0xff : (1u << left) - 1);
    a[g] = _mm512_maskz_loadu_epi64(m[g], y + kLanes * g);
    b[g] = _mm512_maskz_loadu_epi64(m[g], x + kLanes * g);
  }
  if (kDecrypt) {
    for (int i = kRounds - 1; i >= 0; i--) {
      const __m512i k = _mm512_set1_epi64(static_cast<int64_t>(rk[i]));
#pragma GCC unroll 4
      for (int g = 0; g < G; g++) {
        a[g] = _mm512_ror_epi64(_mm512_xor_si512(a[g], b[g]), 3);
        b[g] = _mm512_rol_epi64(_mm512_sub_epi64(_mm512_xor_si512(b[g], k), a[g]), 8);
      }
    }
  } else {
    for (int i = 0; i < kRounds; i++) {
      const __m512i k = _mm512_set1_epi64(static_cast<int64_t>(rk[i]));
#pragma GCC unroll 4
      for (int g = 0; g < G; g++) {
        b[g] = _mm512_xor_si512(_mm512_add_epi64(_mm512_ror_epi64(b[g], 8), a[g]), k);
        a[g] = _mm512_xor_si512(_mm512_rol_epi64(a[g], 3), b[g]);
      }
    }
  }
  for (int g = 0; g < G; g++) {
    _mm512_mask_storeu_epi64(y + kLanes * g, m[g], a[g]);
    _mm512_mask_storeu_epi64(x + kLanes * g, m[g], b[g]);
  }
}
#endif

// Speck (or its inverse) over the blocks (y[i], x[i]), i < n <= kGroup, in place.
template <bool kDecrypt>
void SpeckMany(const uint64_t* rk, uint64_t* y, uint64_t* x, size_t n) {
#ifdef TSN2N_PEARSON_AVX512
  if (n >= static_cast<size_t>(kMinVectorLanes) && HaveAvx512Dq()) {
    switch ((n + kLanes - 1) / kLanes) {
      case 1:
        SpeckAvx512<1, kDecrypt>(rk, y, x, n);
        return;
      case 2:
        SpeckAvx512<2, kDecrypt>(rk, y, x, n);
        return;
      case 3:
        SpeckAvx512<3, kDecrypt>(rk, y, x, n);
        return;
      default:
        SpeckAvx512<kMaxRegisters, kDecrypt>(rk, y, x, n);
        return;
    }
  }
#endif
  for (size_t i = 0; i < n; i++) {
    if (kDecrypt) {
      SpeckDecrypt(rk, &y[i], &x[i]);
    } else {
      SpeckEncrypt(rk, &y[i], &x[i]);
    }
  }
}

// XORs block `b` of a keystream (y, x) into data[0, len): its bytes [16b, 16b + 16) that are below len.
inline void XorKeystream(uint64_t y, uint64_t x, uint8_t* data, size_t len, size_t b) {
  uint8_t ks[kBlockBytes];
  StoreLe64(ks, y);
  StoreLe64(ks + 8, x);
  const size_t from = b * kBlockBytes;
  const size_t n = len - from < kBlockBytes ? len - from : kBlockBytes;
  for (size_t j = 0; j < n; j++) data[from + j] ^= ks[j];
}

// n2n's speck_ctr over header i: d[i][16, hl[i]) XORed with the keystream of the IV d[i][0, 16), keystream block
// b = E(n0 + b, n1) with no carry into n1, from block `first` on; the blocks of the whole group at one index
// encrypted together.
void CtrGroup(const uint64_t* rk, uint8_t* const* d, const size_t* hl, int n, size_t first) {
  uint64_t y[kGroup], x[kGroup];
  int idx[kGroup];
  for (size_t b = first;; b++) {
    int m = 0;
    for (int j = 0; j < n; j++) {
      if (kMagicOff + b * kBlockBytes >= hl[j]) continue;
      y[m] = LoadLe64(d[j]) + b;
      x[m] = LoadLe64(d[j] + 8);
      idx[m++] = j;
    }
    if (m == 0) return;
    SpeckMany<false>(rk, y, x, m);
    for (int t = 0; t < m; t++) {
      const int j = idx[t];
      XorKeystream(y[t], x[t], d[j] + kMagicOff, hl[j] - kMagicOff, b);
    }
  }
}

// The IV blocks d[i][0, 16), i < n, through Speck (or its inverse) with the IV key.
template <bool kDecrypt>
void IvGroup(const uint64_t* rk, uint8_t* const* d, int n) {
  uint64_t y[kGroup], x[kGroup];
  for (int j = 0; j < n; j++) {
    y[j] = LoadLe64(d[j]);
    x[j] = LoadLe64(d[j] + 8);
  }
  SpeckMany<kDecrypt>(rk, y, x, n);
  for (int j = 0; j < n; j++) {
    StoreLe64(d[j], y[j]);
    StoreLe64(d[j] + 8, x[j]);
  }
}

// ---------------------------------------------------------------------------- seal / open

// Seals datagram i = data(i) of len(i) bytes with hl(i), stamps {hi, lo} at stamps[2i] and rands[i], i < count,
// a group at a time: the checksums over the plaintext datagrams, the IV blocks, then the headers' keystream.
template <typename Data, typename Len, typename Hl>
void SealLanes(const HeaderKey& k, size_t count, Data data, Len len, Hl hl, const uint32_t* stamps,
               const uint32_t* rands) {
  uint8_t* d[kGroup];
  size_t dlen[kGroup];
  size_t dhl[kGroup];
  uint64_t cs[kGroup];
  for (size_t i = 0; i < count; i += kGroup) {
    const int n = count - i < static_cast<size_t>(kGroup) ? static_cast<int>(count - i) : kGroup;
    for (int j = 0; j < n; j++) {
      d[j] = data(i + j);
      dlen[j] = len(i + j);
      dhl[j] = hl(i + j);
    }
    Pearson64Lanes(d, dlen, n, cs);
    for (int j = 0; j < n; j++) {
      const size_t m = i + j;
      memmove(d[j] + kMovedOff, d[j], kMovedBytes);
      StoreBe32(d[j], static_cast<uint32_t>(cs[j] >> 32));
      StoreBe32(d[j] + kStampHiOff, static_cast<uint32_t>(cs[j]) ^ stamps[2 * m]);
      StoreBe32(d[j] + kStampLoOff, stamps[2 * m + 1]);
      StoreBe32(d[j] + kRandomOff, rands[m]);
    }
    IvGroup<false>(k.iv, d, n);
    for (int j = 0; j < n; j++) StoreBe32(d[j] + kMagicOff, kMagic + static_cast<uint32_t>(dhl[j]));
    CtrGroup(k.ctr, d, dhl, n, 0);
  }
}

void Seal(const HeaderKey& k, uint8_t* d, size_t len, size_t hl, uint32_t stampHi, uint32_t stampLo,
          uint32_t rand) {
  const uint32_t stamps[2] = {stampHi, stampLo};
  SealLanes(
      k, 1, [&](size_t) { return d; }, [&](size_t) { return len; }, [&](size_t) { return hl; }, stamps, &rand);
}

// OpenBatch's state for one datagram between the Speck steps and the checksum.
struct OpenLane {
  uint8_t* d;
  size_t len;
  size_t hl;
  uint32_t index;
  uint32_t csHigh, stampHi, stampLo;
  uint8_t savedIv[kBlockBytes];
  uint8_t savedPlain[kMinBytes - kMagicOff];
};

// Open's steps after the checksum `cs` over the restored datagram: out = {stamp hi, lo, hl}, or the datagram
// put back byte-identically and false.
bool OpenEnd(const HeaderKey& k, OpenLane& s, uint64_t cs, uint32_t* out) {
  if (static_cast<uint32_t>(cs >> 32) != s.csHigh) {
    memcpy(s.d + kMagicOff, s.savedPlain, sizeof(s.savedPlain));
    memcpy(s.d, s.savedIv, kBlockBytes);
    CtrGroup(k.ctr, &s.d, &s.hl, 1, 0);
    return false;
  }
  out[0] = s.stampHi ^ static_cast<uint32_t>(cs);
  out[1] = s.stampLo;
  out[2] = static_cast<uint32_t>(s.hl);
  return true;
}

// Open over datagrams d[i] = buf + offs[i], len lens[i]: out[4i] = 1 and out[4i+1..3] = {stamp hi, lo, hl} for
// those that open, out[4i] = 0 and the datagram untouched for the others (also those whose hl exceeds maxHl); a
// group at a time: the keystream blocks that hold the magic, the rest of the headers', the IV blocks, then the
// checksums.
void OpenBatch(const HeaderKey& k, uint8_t* buf, const uint32_t* offs, const uint32_t* lens, size_t count,
               const uint8_t* community, uint32_t* out, size_t maxHl) {
  OpenLane lanes[kGroup];
  uint64_t y[kGroup], x[kGroup];
  uint32_t tried[kGroup];
  uint8_t* data[kGroup];
  size_t dlen[kGroup];
  size_t dhl[kGroup];
  uint64_t cs[kGroup];
  for (size_t i0 = 0; i0 < count; i0 += kGroup) {
    const size_t end = count - i0 < static_cast<size_t>(kGroup) ? count : i0 + kGroup;
    // Keystream block 0 of every datagram long enough to have a magic word.
    int m = 0;
    for (size_t i = i0; i < end; i++) {
      out[4 * i] = 0;
      if (lens[i] < kMinBytes) continue;
      const uint8_t* d = buf + offs[i];
      y[m] = LoadLe64(d);
      x[m] = LoadLe64(d + 8);
      tried[m++] = static_cast<uint32_t>(i);
    }
    SpeckMany<false>(k.ctr, y, x, m);
    // The magic gives hl; an impossible one leaves the datagram untouched.
    int n = 0;
    for (int t = 0; t < m; t++) {
      const uint32_t i = tried[t];
      uint8_t* d = buf + offs[i];
      uint8_t magic[4];
      memcpy(magic, d + kMagicOff, sizeof(magic));
      XorKeystream(y[t], x[t], magic, sizeof(magic), 0);
      const uint32_t hl = LoadBe32(magic) - kMagic;
      if (hl > lens[i] || hl < kMinBytes || hl > maxHl) continue;
      OpenLane& s = lanes[n];
      s.d = d;
      s.len = lens[i];
      s.hl = hl;
      s.index = i;
      memcpy(s.savedIv, d, kBlockBytes);
      XorKeystream(y[t], x[t], d + kMagicOff, hl - kMagicOff, 0);
      data[n] = d;
      dlen[n] = s.len;
      dhl[n] = hl;
      n++;
    }
    if (n == 0) continue;
    CtrGroup(k.ctr, data, dhl, n, 1);
    IvGroup<true>(k.iv, data, n);
    for (int j = 0; j < n; j++) {
      OpenLane& s = lanes[j];
      s.csHigh = LoadBe32(s.d);
      s.stampHi = LoadBe32(s.d + kStampHiOff);
      s.stampLo = LoadBe32(s.d + kStampLoOff);
      memcpy(s.savedPlain, s.d + kMagicOff, sizeof(s.savedPlain));
      memmove(s.d, s.d + kMovedOff, kMovedBytes);
      memcpy(s.d + kCommunityOff, community, kCommunityBytes);
    }
    Pearson64Lanes(data, dlen, n, cs);
    for (int j = 0; j < n; j++) {
      uint32_t* o = out + 4 * lanes[j].index;
      o[0] = OpenEnd(k, lanes[j], cs[j], o + 1) ? 1 : 0;
    }
  }
}

// On success the plaintext datagram is back in place and out = {stamp hi, stamp lo, hl}; on failure the
// buffer is byte-identical to what it was.
bool Open(const HeaderKey& k, uint8_t* d, size_t len, const uint8_t* community, uint32_t* out) {
  if (len > UINT32_MAX) return false;
  const uint32_t off = 0;
  const uint32_t len32 = static_cast<uint32_t>(len);
  uint32_t row[4];
  OpenBatch(k, d, &off, &len32, 1, community, row, SIZE_MAX);
  if (row[0] != 1) return false;
  memcpy(out, row + 1, kOutWords * sizeof(uint32_t));
  return true;
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
  OpenBatch(*key, buf, offs, lens, count, community, out, SIZE_MAX);
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
                    const uint8_t* community, uint32_t* out, size_t maxHl) {
  OpenBatch(*static_cast<const HeaderKey*>(key), buf, offs, lens, count, community, out, maxHl);
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
