// Payload cipher cores: Speck128-CTR (n2n counter), Twofish-CBC, AES-CBC and ChaCha20 (OpenSSL EVP). No n2n framing.
//
// JS gets an opaque key handle (cipherKey) and calls cbcEncrypt / cbcDecrypt / streamXor with
// (handle, src, srcOff, len, dst, dstOff, iv, ivOff); the output goes straight into dst and nothing
// is allocated per call. dst must be exactly the input range (in place) or not overlap it.
//
// * Speck128/128 and Speck128/256 (Beaulieu et al., "The SIMON and SPECK Families of Lightweight
//   Block Ciphers", 2013): a block is y = LE64(B[0..8)), x = LE64(B[8..16)); a round with key k is
//   x = (ROR64(x, 8) + y) ^ k, y = ROL64(y, 3) ^ x. CTR as n2n uses it (spec §5.3, speck.c:
//   speck_ctr): keystream block i encrypts (y = n0 + i mod 2^64, x = n1), n0/n1 the LE64 halves of
//   the IV; there is no carry into n1. On x86-64 an AVX2 path (chosen at run time) runs 8 blocks
//   at once, 4 per register; elsewhere, or without AVX2, portable C runs 2 blocks at once.
// * Twofish: the rounds of the paper (Schneier et al. 1998, §4.1) over the full-keyed tables that
//   src/crypto/twofish.ts computes (its key schedule is the tested one); CBC decryption works on
//   two blocks at a time.
// * AES-CBC and ChaCha20 go through the OpenSSL that Node links and exports. One EVP context per
//   direction lives as long as the key; each call only sets the IV. ChaCha20 follows n2n's
//   semantics (spec §5.6, cc20.c): the 32-bit block counter wraps to 0 without carrying into the
//   nonce, so a message that crosses the wrap is done in two EVP calls.
// * payloadEncrypt / payloadDecrypt run one of those cores over a batch of n2n payloads in one call, with
//   the transforms' framing (spec §5.5-§5.7, the same as src/transform/payload.ts): IV or random block
//   first, CBC with ciphertext stealing for Twofish and AES. The random bytes and every decision about
//   which payloads to process come from JS; this is the data loop only.
#include "crypto.h"
#include "header.h"

#include "rawnapi.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include <cstdint>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TSN2N_SPECK_AVX2 1
#define TSN2N_AES_NI 1
// GCC 12 warns inside its own AVX-512 headers (their "undefined" source operands), inlined into our code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

namespace tsn2n {
namespace {

// Cipher kinds: the n2n transform ids (spec §5.1).
constexpr uint32_t kTwofish = 2;
constexpr uint32_t kAes = 3;
constexpr uint32_t kChaCha20 = 4;
constexpr uint32_t kSpeck = 5;

constexpr size_t kBlockBytes = 16;
constexpr size_t kIvBytes = 16;
constexpr int kSpeckRounds128 = 32;
constexpr int kSpeckRounds256 = 34;
constexpr size_t kTwofishSubkeys = 40;
constexpr size_t kTwofishTableWords = 4 * 256;
// Twofish material from JS: 40 subkey words then the four 256-entry g tables, all LE32.
constexpr size_t kTwofishMaterialBytes = 4 * (kTwofishSubkeys + kTwofishTableWords);
constexpr size_t kChaChaKeyBytes = 32;
constexpr size_t kChaChaBlockBytes = 64;
constexpr uint64_t kChaChaCounterSpace = 1ull << 32;
constexpr size_t kMaxArgs = 8;
// Payload batches: n2n refuses plaintexts above N2N_PKT_BUF_SIZE (transform_*.c); outLens entry for a
// payload that does not decrypt.
constexpr size_t kMaxPlaintext = 2048;
constexpr uint32_t kInvalid = 0xffffffffu;
constexpr size_t kBatchArgs = 9;

// ---------------------------------------------------------------------------- byte order

inline uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

inline void StoreLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

inline uint64_t Ror64(uint64_t x, unsigned r) { return (x >> r) | (x << (64 - r)); }
inline uint64_t Rol64(uint64_t x, unsigned r) { return (x << r) | (x >> (64 - r)); }
inline uint32_t Ror32(uint32_t x, unsigned r) { return (x >> r) | (x << (32 - r)); }
inline uint32_t Rol32(uint32_t x, unsigned r) { return (x << r) | (x >> (32 - r)); }

// ---------------------------------------------------------------------------- key objects

struct CipherKey {
  explicit CipherKey(uint32_t k) : kind(k) {}
  virtual ~CipherKey() = default;
  const uint32_t kind;
};

struct SpeckKey : CipherKey {
  SpeckKey() : CipherKey(kSpeck) {}
  int rounds = 0;
  uint64_t rk[kSpeckRounds256] = {};
};

struct TwofishKey : CipherKey {
  TwofishKey() : CipherKey(kTwofish) {}
  uint32_t k[kTwofishSubkeys] = {};
  uint32_t s[4][256] = {};
};

// AES: the most round keys (AES-256: 14 rounds).
constexpr size_t kAesMaxRoundKeys = 15;

struct EvpKey : CipherKey {
  explicit EvpKey(uint32_t kind) : CipherKey(kind) {}
  ~EvpKey() override {
    EVP_CIPHER_CTX_free(enc);
    EVP_CIPHER_CTX_free(dec);
    EVP_CIPHER_CTX_free(decEcb);
  }
  EVP_CIPHER_CTX* enc = nullptr;
  EVP_CIPHER_CTX* dec = nullptr;
  // AES: the same key for ECB decryption, which needs no IV and so no set-up per payload (CtsDecryptEcb);
  // nullptr under TSN2N_AES_PORTABLE=1.
  EVP_CIPHER_CTX* decEcb = nullptr;
  // AES with AES-NI: the expanded encryption key (FIPS-197 byte order), for CBC encryption of several payloads side
  // by side (AesCbcEncryptLanes); aesRounds 0 without it.
  alignas(16) uint8_t aesRoundKeys[kAesMaxRoundKeys * 16] = {};
  int aesRounds = 0;
};

// Marks our externals, so a foreign External passed as a key is refused instead of dereferenced.
const napi_type_tag kKeyTag = {0x7473'6e32'6e2d'6b65ull, 0x792d'6372'7970'746full};

// ---------------------------------------------------------------------------- Speck

// Key schedule: k = key word 0, l = the other words; round i turns (l_i, k) with the round index
// as the key into (l_{i+m-1}, the next k).
void SpeckExpand(const uint8_t* key, size_t bytes, SpeckKey* out) {
  const size_t words = bytes / 8;
  out->rounds = words == 2 ? kSpeckRounds128 : kSpeckRounds256;
  uint64_t l[kSpeckRounds256 + 3];
  uint64_t k = LoadLe64(key);
  for (size_t j = 1; j < words; j++) l[j - 1] = LoadLe64(key + 8 * j);
  for (int i = 0; i < out->rounds; i++) {
    out->rk[i] = k;
    l[i + words - 1] = (Ror64(l[i], 8) + k) ^ static_cast<uint64_t>(i);
    k = Rol64(k, 3) ^ l[i + words - 1];
  }
}

// XORs the keystream block (y, x) into n <= 16 bytes.
inline void SpeckXorBlock(uint64_t y, uint64_t x, const uint8_t* src, uint8_t* dst, size_t n) {
  if (n == kBlockBytes) {
    const uint64_t a = LoadLe64(src) ^ y;
    const uint64_t b = LoadLe64(src + 8) ^ x;
    StoreLe64(dst, a);
    StoreLe64(dst + 8, b);
    return;
  }
  uint8_t ks[kBlockBytes];
  StoreLe64(ks, y);
  StoreLe64(ks + 8, x);
  for (size_t i = 0; i < n; i++) dst[i] = src[i] ^ ks[i];
}

// Portable CTR: two counter blocks per iteration (independent chains keep the pipeline busy).
void SpeckCtrPortable(const SpeckKey& key, uint64_t n0, uint64_t n1, const uint8_t* src, uint8_t* dst,
                      size_t len) {
  size_t done = 0;
  for (; len - done >= 2 * kBlockBytes; done += 2 * kBlockBytes, n0 += 2) {
    uint64_t y0 = n0, x0 = n1, y1 = n0 + 1, x1 = n1;
    for (int r = 0; r < key.rounds; r++) {
      const uint64_t k = key.rk[r];
      x0 = (Ror64(x0, 8) + y0) ^ k;
      x1 = (Ror64(x1, 8) + y1) ^ k;
      y0 = Rol64(y0, 3) ^ x0;
      y1 = Rol64(y1, 3) ^ x1;
    }
    // Both blocks' input is read before either is written, so in-place works.
    const uint64_t a0 = LoadLe64(src + done) ^ y0;
    const uint64_t b0 = LoadLe64(src + done + 8) ^ x0;
    const uint64_t a1 = LoadLe64(src + done + 16) ^ y1;
    const uint64_t b1 = LoadLe64(src + done + 24) ^ x1;
    StoreLe64(dst + done, a0);
    StoreLe64(dst + done + 8, b0);
    StoreLe64(dst + done + 16, a1);
    StoreLe64(dst + done + 24, b1);
  }
  for (; done < len; done += kBlockBytes, n0++) {
    uint64_t y = n0, x = n1;
    for (int r = 0; r < key.rounds; r++) {
      x = (Ror64(x, 8) + y) ^ key.rk[r];
      y = Rol64(y, 3) ^ x;
    }
    const size_t n = len - done < kBlockBytes ? len - done : kBlockBytes;
    SpeckXorBlock(y, x, src + done, dst + done, n);
  }
}

#ifdef TSN2N_SPECK_AVX2
constexpr size_t kAvx2ChunkBytes = 8 * kBlockBytes;

// Eight blocks of keystream from counter n0: lanes hold y (resp. x) of four blocks each.
__attribute__((target("avx2"))) inline void SpeckAvx2Chunk(const SpeckKey& key, uint64_t n0, __m256i x,
                                                           __m256i* out) {
  // ROR64 by 8 = move every byte of a 64-bit lane down by one (a byte shuffle within 128-bit lanes).
  const __m256i rot8 = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1, 2, 3, 4, 5,
                                        6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
  __m256i ya = _mm256_add_epi64(_mm256_set1_epi64x(static_cast<long long>(n0)), _mm256_setr_epi64x(0, 1, 2, 3));
  __m256i yb = _mm256_add_epi64(ya, _mm256_set1_epi64x(4));
  __m256i xa = x;
  __m256i xb = x;
  for (int r = 0; r < key.rounds; r++) {
    const __m256i k = _mm256_set1_epi64x(static_cast<long long>(key.rk[r]));
    xa = _mm256_xor_si256(_mm256_add_epi64(_mm256_shuffle_epi8(xa, rot8), ya), k);
    xb = _mm256_xor_si256(_mm256_add_epi64(_mm256_shuffle_epi8(xb, rot8), yb), k);
    ya = _mm256_xor_si256(_mm256_or_si256(_mm256_slli_epi64(ya, 3), _mm256_srli_epi64(ya, 61)), xa);
    yb = _mm256_xor_si256(_mm256_or_si256(_mm256_slli_epi64(yb, 3), _mm256_srli_epi64(yb, 61)), xb);
  }
  // Back to block order: block i = y_i || x_i (little-endian lanes on x86).
  const __m256i loA = _mm256_unpacklo_epi64(ya, xa);  // y0 x0 | y2 x2
  const __m256i hiA = _mm256_unpackhi_epi64(ya, xa);  // y1 x1 | y3 x3
  const __m256i loB = _mm256_unpacklo_epi64(yb, xb);
  const __m256i hiB = _mm256_unpackhi_epi64(yb, xb);
  out[0] = _mm256_permute2x128_si256(loA, hiA, 0x20);
  out[1] = _mm256_permute2x128_si256(loA, hiA, 0x31);
  out[2] = _mm256_permute2x128_si256(loB, hiB, 0x20);
  out[3] = _mm256_permute2x128_si256(loB, hiB, 0x31);
}

__attribute__((target("avx2"))) void SpeckCtrAvx2(const SpeckKey& key, uint64_t n0, uint64_t n1,
                                                  const uint8_t* src, uint8_t* dst, size_t len) {
  const __m256i x = _mm256_set1_epi64x(static_cast<long long>(n1));
  __m256i ks[4];
  size_t done = 0;
  for (; len - done >= kAvx2ChunkBytes; done += kAvx2ChunkBytes, n0 += 8) {
    SpeckAvx2Chunk(key, n0, x, ks);
    const uint8_t* s = src + done;
    uint8_t* d = dst + done;
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32));
    const __m256i v2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 64));
    const __m256i v3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 96));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm256_xor_si256(v0, ks[0]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 32), _mm256_xor_si256(v1, ks[1]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 64), _mm256_xor_si256(v2, ks[2]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 96), _mm256_xor_si256(v3, ks[3]));
  }
  if (done < len) {
    // The tail (up to 127 bytes) from one more chunk of keystream.
    SpeckAvx2Chunk(key, n0, x, ks);
    uint8_t bytes[kAvx2ChunkBytes];
    for (int i = 0; i < 4; i++) _mm256_storeu_si256(reinterpret_cast<__m256i*>(bytes + 32 * i), ks[i]);
    for (size_t i = 0; done + i < len; i++) dst[done + i] = src[done + i] ^ bytes[i];
  }
}

// TSN2N_SPECK_PORTABLE=1 in the environment forces the portable path (its tests run that way).
bool HaveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2") && getenv("TSN2N_SPECK_PORTABLE") == nullptr;
  return have;
}
#endif

void SpeckCtr(const SpeckKey& key, const uint8_t* iv, const uint8_t* src, uint8_t* dst, size_t len) {
  const uint64_t n0 = LoadLe64(iv);
  const uint64_t n1 = LoadLe64(iv + 8);
#ifdef TSN2N_SPECK_AVX2
  if (HaveAvx2()) {
    SpeckCtrAvx2(key, n0, n1, src, dst, len);
    return;
  }
#endif
  SpeckCtrPortable(key, n0, n1, src, dst, len);
}

const char* SpeckImpl() {
#ifdef TSN2N_SPECK_AVX2
  if (HaveAvx2()) return "avx2";
#endif
  return "portable";
}

// ---------------------------------------------------------------------------- Twofish

// g(X) with the key-dependent S-boxes folded into the MDS columns (paper §5.1, full keying);
// G1 is g of ROL(X, 8), which the round function applies to its second word.
inline uint32_t G0(const TwofishKey& t, uint32_t x) {
  return t.s[0][x & 0xff] ^ t.s[1][(x >> 8) & 0xff] ^ t.s[2][(x >> 16) & 0xff] ^ t.s[3][x >> 24];
}
inline uint32_t G1(const TwofishKey& t, uint32_t x) {
  return t.s[0][x >> 24] ^ t.s[1][x & 0xff] ^ t.s[2][(x >> 8) & 0xff] ^ t.s[3][(x >> 16) & 0xff];
}

constexpr int kTwofishRounds = 16;
constexpr int kRoundKeyBase = 8;
constexpr int kOutputWhiten = 4;

// Encrypts the words v[0..3] in place (paper §4, two rounds per step so the halves never swap).
inline void TwofishEncryptWords(const TwofishKey& t, uint32_t* v) {
  const uint32_t* k = t.k;
  uint32_t a = v[0] ^ k[0], b = v[1] ^ k[1], c = v[2] ^ k[2], d = v[3] ^ k[3];
  for (int r = kRoundKeyBase; r < kRoundKeyBase + 2 * kTwofishRounds; r += 4) {
    uint32_t t0 = G0(t, a), t1 = G1(t, b);
    c = Ror32(c ^ (t0 + t1 + k[r]), 1);
    d = Rol32(d, 1) ^ (t0 + 2 * t1 + k[r + 1]);
    t0 = G0(t, c);
    t1 = G1(t, d);
    a = Ror32(a ^ (t0 + t1 + k[r + 2]), 1);
    b = Rol32(b, 1) ^ (t0 + 2 * t1 + k[r + 3]);
  }
  v[0] = c ^ k[kOutputWhiten];
  v[1] = d ^ k[kOutputWhiten + 1];
  v[2] = a ^ k[kOutputWhiten + 2];
  v[3] = b ^ k[kOutputWhiten + 3];
}

// Twofish runs on lookups whose latency, not their number, bounds one block: independent blocks side by side
// (kLanes at a time, their rounds interleaved) keep the load ports busy.
constexpr int kLanes = 4;

// Encrypts the blocks v[0..kLanes) (4 words each) in place.
inline void TwofishEncryptLanes(const TwofishKey& t, uint32_t (*v)[4]) {
  const uint32_t* k = t.k;
  uint32_t a[kLanes], b[kLanes], c[kLanes], d[kLanes];
#pragma GCC unroll 4
  for (int j = 0; j < kLanes; j++) {
    a[j] = v[j][0] ^ k[0];
    b[j] = v[j][1] ^ k[1];
    c[j] = v[j][2] ^ k[2];
    d[j] = v[j][3] ^ k[3];
  }
  for (int r = kRoundKeyBase; r < kRoundKeyBase + 2 * kTwofishRounds; r += 4) {
#pragma GCC unroll 4
    for (int j = 0; j < kLanes; j++) {
      const uint32_t t0 = G0(t, a[j]), t1 = G1(t, b[j]);
      c[j] = Ror32(c[j] ^ (t0 + t1 + k[r]), 1);
      d[j] = Rol32(d[j], 1) ^ (t0 + 2 * t1 + k[r + 1]);
    }
#pragma GCC unroll 4
    for (int j = 0; j < kLanes; j++) {
      const uint32_t t0 = G0(t, c[j]), t1 = G1(t, d[j]);
      a[j] = Ror32(a[j] ^ (t0 + t1 + k[r + 2]), 1);
      b[j] = Rol32(b[j], 1) ^ (t0 + 2 * t1 + k[r + 3]);
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < kLanes; j++) {
    v[j][0] = c[j] ^ k[kOutputWhiten];
    v[j][1] = d[j] ^ k[kOutputWhiten + 1];
    v[j][2] = a[j] ^ k[kOutputWhiten + 2];
    v[j][3] = b[j] ^ k[kOutputWhiten + 3];
  }
}

// Decrypts the blocks v[0..kLanes) in place (the rounds of TwofishEncryptWords backwards).
inline void TwofishDecryptLanes(const TwofishKey& t, uint32_t (*v)[4]) {
  const uint32_t* k = t.k;
  uint32_t a[kLanes], b[kLanes], c[kLanes], d[kLanes];
#pragma GCC unroll 4
  for (int j = 0; j < kLanes; j++) {
    c[j] = v[j][0] ^ k[kOutputWhiten];
    d[j] = v[j][1] ^ k[kOutputWhiten + 1];
    a[j] = v[j][2] ^ k[kOutputWhiten + 2];
    b[j] = v[j][3] ^ k[kOutputWhiten + 3];
  }
  for (int r = kRoundKeyBase + 2 * kTwofishRounds - 4; r >= kRoundKeyBase; r -= 4) {
#pragma GCC unroll 4
    for (int j = 0; j < kLanes; j++) {
      const uint32_t t0 = G0(t, c[j]), t1 = G1(t, d[j]);
      a[j] = Rol32(a[j], 1) ^ (t0 + t1 + k[r + 2]);
      b[j] = Ror32(b[j] ^ (t0 + 2 * t1 + k[r + 3]), 1);
    }
#pragma GCC unroll 4
    for (int j = 0; j < kLanes; j++) {
      const uint32_t t0 = G0(t, a[j]), t1 = G1(t, b[j]);
      c[j] = Rol32(c[j], 1) ^ (t0 + t1 + k[r]);
      d[j] = Ror32(d[j] ^ (t0 + 2 * t1 + k[r + 1]), 1);
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < kLanes; j++) {
    v[j][0] = a[j] ^ k[0];
    v[j][1] = b[j] ^ k[1];
    v[j][2] = c[j] ^ k[2];
    v[j][3] = d[j] ^ k[3];
  }
}

void LoadBlock(const uint8_t* p, uint32_t* v) {
  for (int i = 0; i < 4; i++) v[i] = LoadLe32(p + 4 * i);
}

void StoreBlock(uint8_t* p, const uint32_t* v) {
  for (int i = 0; i < 4; i++) StoreLe32(p + 4 * i, v[i]);
}

void TwofishCbcEncrypt(const TwofishKey& t, const uint8_t* iv, const uint8_t* src, uint8_t* dst,
                       size_t len) {
  uint32_t x[4];
  LoadBlock(iv, x);
  for (size_t p = 0; p < len; p += kBlockBytes) {
    uint32_t v[4];
    LoadBlock(src + p, v);
    for (int i = 0; i < 4; i++) v[i] ^= x[i];
    TwofishEncryptWords(t, v);
    StoreBlock(dst + p, v);
    memcpy(x, v, sizeof(x));
  }
}

void TwofishCbcDecrypt(const TwofishKey& t, const uint8_t* iv, const uint8_t* src, uint8_t* dst,
                       size_t len) {
  uint32_t prev[4];
  LoadBlock(iv, prev);
  const size_t blocks = len / kBlockBytes;
  for (size_t first = 0; first < blocks; first += kLanes) {
    // Up to kLanes ciphertext blocks are read before anything is written (in place works); a short last
    // group fills its spare lanes with copies of its last block and stores only its own.
    const size_t n = blocks - first < static_cast<size_t>(kLanes) ? blocks - first : kLanes;
    uint32_t c[kLanes][4], v[kLanes][4];
    for (size_t j = 0; j < static_cast<size_t>(kLanes); j++) {
      LoadBlock(src + (first + (j < n ? j : n - 1)) * kBlockBytes, c[j]);
    }
    memcpy(v, c, sizeof(v));
    TwofishDecryptLanes(t, v);
    for (size_t j = 0; j < n; j++) {
      const uint32_t* x = j == 0 ? prev : c[j - 1];
      for (int i = 0; i < 4; i++) v[j][i] ^= x[i];
      StoreBlock(dst + (first + j) * kBlockBytes, v[j]);
    }
    memcpy(prev, c[n - 1], sizeof(prev));
  }
}

// CBC-encrypts kLanes independent messages side by side: msg[j][0, blocks[j] * 16) in place, zero IVs. The chains
// are sequential, the lanes are not; a lane whose message has ended keeps running on its last block, unstored.
void TwofishCbcEncryptLanes(const TwofishKey& t, uint8_t* const* msg, const size_t* blocks) {
  uint32_t x[kLanes][4] = {};
  size_t most = 0;
  for (int j = 0; j < kLanes; j++) most = blocks[j] > most ? blocks[j] : most;
  for (size_t i = 0; i < most; i++) {
    uint32_t v[kLanes][4];
    for (int j = 0; j < kLanes; j++) {
      if (i < blocks[j]) {
        LoadBlock(msg[j] + i * kBlockBytes, v[j]);
        for (int w = 0; w < 4; w++) v[j][w] ^= x[j][w];
      } else {
        memcpy(v[j], x[j], sizeof(v[j]));
      }
    }
    TwofishEncryptLanes(t, v);
    for (int j = 0; j < kLanes; j++) {
      if (i < blocks[j]) StoreBlock(msg[j] + i * kBlockBytes, v[j]);
      memcpy(x[j], v[j], sizeof(x[j]));
    }
  }
}

// ---------------------------------------------------------------------------- AES-CBC lanes (AES-NI)

// CBC encryption is one chain of dependent blocks, each ten to fourteen AES rounds whose latency bounds it
// (OpenSSL's aesni_cbc_encrypt runs one chain): several payloads' chains side by side keep the AES unit busy.
// Decryption needs none of this (its blocks are independent, and OpenSSL already interleaves them).
// The most payloads encrypted together (VAES: four 512-bit registers of four), eight and four on AES-NI.
constexpr int kAesLanes = 16;
constexpr int kAesNiLanes = 8;
constexpr int kAesHalfLanes = 4;
constexpr size_t kAesWordBytes = 4;

// The AES S-box, computed (FIPS-197 §5.1.1: the inverse in GF(2^8), then the affine map).
struct AesSbox {
  uint8_t s[256];
  AesSbox() {
    auto mul = [](uint8_t a, uint8_t b) {
      uint8_t p = 0;
      for (int i = 0; i < 8; i++) {
        if (b & 1) p ^= a;
        const bool hi = (a & 0x80) != 0;
        a = static_cast<uint8_t>(a << 1);
        if (hi) a ^= 0x1b;
        b >>= 1;
      }
      return p;
    };
    for (int b = 0; b < 256; b++) {
      uint8_t inv = 0;
      for (int c = 1; c < 256 && b != 0; c++) {
        if (mul(static_cast<uint8_t>(b), static_cast<uint8_t>(c)) == 1) {
          inv = static_cast<uint8_t>(c);
          break;
        }
      }
      uint8_t x = inv;
      uint8_t y = inv;
      for (int i = 0; i < 4; i++) {
        y = static_cast<uint8_t>((y << 1) | (y >> 7));
        x ^= y;
      }
      s[b] = static_cast<uint8_t>(x ^ 0x63);
    }
  }
};

// FIPS-197 §5.2 KeyExpansion of a 16-, 24- or 32-byte key into rk (16 bytes a round key); returns the rounds.
int AesExpandKey(const uint8_t* key, size_t keyBytes, uint8_t* rk) {
  static const AesSbox sbox;
  const size_t nk = keyBytes / kAesWordBytes;
  const int rounds = static_cast<int>(nk) + 6;
  const size_t words = kAesWordBytes * static_cast<size_t>(rounds + 1);
  memcpy(rk, key, keyBytes);
  uint8_t rcon = 1;
  for (size_t i = nk; i < words; i++) {
    uint8_t t[kAesWordBytes];
    memcpy(t, rk + (i - 1) * kAesWordBytes, kAesWordBytes);
    if (i % nk == 0) {
      const uint8_t first = t[0];
      t[0] = static_cast<uint8_t>(sbox.s[t[1]] ^ rcon);
      t[1] = sbox.s[t[2]];
      t[2] = sbox.s[t[3]];
      t[3] = sbox.s[first];
      rcon = static_cast<uint8_t>((rcon << 1) ^ ((rcon & 0x80) != 0 ? 0x1b : 0));
    } else if (nk > 6 && i % nk == 4) {
      for (uint8_t& b : t) b = sbox.s[b];
    }
    for (size_t j = 0; j < kAesWordBytes; j++) rk[i * kAesWordBytes + j] = rk[(i - nk) * kAesWordBytes + j] ^ t[j];
  }
  return rounds;
}

// TSN2N_AES_PORTABLE=1 in the environment leaves every AES payload to OpenSSL's CBC one at a time, both ways;
// TSN2N_AES_VAES=0 keeps the lanes on 128-bit AES-NI (their tests run that way).
bool AesPortable() {
  static const bool portable = getenv("TSN2N_AES_PORTABLE") != nullptr;
  return portable;
}

#ifdef TSN2N_AES_NI
bool HaveAesNi() {
  static const bool have = __builtin_cpu_supports("aes") && !AesPortable();
  return have;
}

bool EnvIs(const char* name, const char* value) {
  const char* v = getenv(name);
  return v != nullptr && strcmp(v, value) == 0;
}

bool HaveVaes() {
  static const bool have = HaveAesNi() && __builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx512f") &&
                           __builtin_cpu_supports("avx512vl") && !EnvIs("TSN2N_AES_VAES", "0");
  return have;
}

// CBC-encrypts L messages side by side in place, zero IVs: msg[j][0, blocks[j] * 16) for j < n (lanes past n and
// blocks past a message's end are computed and dropped). The lane loops are unrolled so that the chains stay in
// registers (rolled, GCC kept them in memory: 653 ns a 1,456-byte payload in a /tmp loop, unrolled 192).
template <int L>
__attribute__((target("aes,sse2"))) void AesCbcEncryptLanesNi(const uint8_t* rk, int rounds, uint8_t* const* msg,
                                                                const size_t* blocks, int n) {
  __m128i k[kAesMaxRoundKeys];
  for (int r = 0; r <= rounds; r++) k[r] = _mm_load_si128(reinterpret_cast<const __m128i*>(rk + 16 * r));
  __m128i x[L];
  size_t most = 0;
  size_t len[L];
  uint8_t* m[L];
  for (int j = 0; j < L; j++) {
    x[j] = _mm_setzero_si128();
    len[j] = j < n ? blocks[j] : 0;
    m[j] = j < n ? msg[j] : msg[0];
    most = len[j] > most ? len[j] : most;
  }
  for (size_t i = 0; i < most; i++) {
    __m128i v[L];
#pragma GCC unroll 8
    for (int j = 0; j < L; j++) {
      const __m128i in = i < len[j] ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(m[j] + 16 * i)) : x[j];
      v[j] = _mm_xor_si128(_mm_xor_si128(in, x[j]), k[0]);
    }
    for (int r = 1; r < rounds; r++) {
#pragma GCC unroll 8
      for (int j = 0; j < L; j++) v[j] = _mm_aesenc_si128(v[j], k[r]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < L; j++) {
      v[j] = _mm_aesenclast_si128(v[j], k[rounds]);
      if (i < len[j]) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(m[j] + 16 * i), v[j]);
        x[j] = v[j];
      }
    }
  }
}

// The same with VAES: four lanes to a 512-bit register, Z registers (up to 16 lanes: four registers keep the AES
// unit busy through a round's latency). A /tmp loop, 1,456-byte payloads: 8 lanes 177 ns a payload, 16 lanes 129-147,
// against 192 for eight on AES-NI.
constexpr int kVaesLanesPerRegister = 4;

// Lane j's block i, or (its message has ended) its last one again, computed and dropped.
inline const __m128i* VaesRow(uint8_t* const* m, const size_t* len, int j, size_t i) {
  const size_t b = i < len[j] ? i : (len[j] > 0 ? len[j] - 1 : 0);
  return reinterpret_cast<const __m128i*>(m[j] + kBlockBytes * b);
}

template <int Z>
__attribute__((target("avx512f,avx512vl,vaes"))) void AesCbcEncryptVaes(const uint8_t* rk, int rounds,
                                                                       uint8_t* const* msg, const size_t* blocks,
                                                                       int n) {
  constexpr int kL = Z * kVaesLanesPerRegister;
  constexpr int kXor3 = 0x96;  // ternary logic: a ^ b ^ c
  __m512i k[kAesMaxRoundKeys];
  for (int r = 0; r <= rounds; r++) {
    k[r] = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(rk + 16 * r)));
  }
  size_t len[kL];
  uint8_t* m[kL];
  size_t most = 0;
  for (int j = 0; j < kL; j++) {
    len[j] = j < n ? blocks[j] : 0;
    m[j] = j < n ? msg[j] : msg[0];
    most = len[j] > most ? len[j] : most;
  }
  __m512i x[Z];
  for (int z = 0; z < Z; z++) x[z] = _mm512_setzero_si512();
  for (size_t i = 0; i < most; i++) {
    __m512i v[Z];
#pragma GCC unroll 4
    for (int z = 0; z < Z; z++) {
      const int j = kVaesLanesPerRegister * z;
      __m512i in = _mm512_castsi128_si512(_mm_loadu_si128(VaesRow(m, len, j, i)));
      in = _mm512_inserti32x4(in, _mm_loadu_si128(VaesRow(m, len, j + 1, i)), 1);
      in = _mm512_inserti32x4(in, _mm_loadu_si128(VaesRow(m, len, j + 2, i)), 2);
      in = _mm512_inserti32x4(in, _mm_loadu_si128(VaesRow(m, len, j + 3, i)), 3);
      v[z] = _mm512_ternarylogic_epi64(in, x[z], k[0], kXor3);
    }
    for (int r = 1; r < rounds; r++) {
#pragma GCC unroll 4
      for (int z = 0; z < Z; z++) v[z] = _mm512_aesenc_epi128(v[z], k[r]);
    }
#pragma GCC unroll 4
    for (int z = 0; z < Z; z++) {
      v[z] = _mm512_aesenclast_epi128(v[z], k[rounds]);
      x[z] = v[z];
      const int j = kVaesLanesPerRegister * z;
      const auto at = [&](int q) { return reinterpret_cast<__m128i*>(m[j + q] + kBlockBytes * i); };
      if (i < len[j]) _mm_storeu_si128(at(0), _mm512_castsi512_si128(v[z]));
      if (i < len[j + 1]) _mm_storeu_si128(at(1), _mm512_extracti32x4_epi32(v[z], 1));
      if (i < len[j + 2]) _mm_storeu_si128(at(2), _mm512_extracti32x4_epi32(v[z], 2));
      if (i < len[j + 3]) _mm_storeu_si128(at(3), _mm512_extracti32x4_epi32(v[z], 3));
    }
  }
}
#endif

// Whether AES payloads of this key are encrypted side by side (AES-NI and its round keys).
bool AesLanes(const EvpKey& k) { return k.aesRounds != 0; }

// CBC-encrypts msg[j][0, blocks[j] * 16), j < n <= kAesLanes, side by side in place with zero IVs; AesLanes(k) holds.
void AesCbcEncryptLanes(const EvpKey& k, uint8_t* const* msg, const size_t* blocks, int n) {
#ifdef TSN2N_AES_NI
  if (HaveVaes()) {
    switch ((n + kVaesLanesPerRegister - 1) / kVaesLanesPerRegister) {
      case 1:
        AesCbcEncryptVaes<1>(k.aesRoundKeys, k.aesRounds, msg, blocks, n);
        return;
      case 2:
        AesCbcEncryptVaes<2>(k.aesRoundKeys, k.aesRounds, msg, blocks, n);
        return;
      case 3:
        AesCbcEncryptVaes<3>(k.aesRoundKeys, k.aesRounds, msg, blocks, n);
        return;
      default:
        AesCbcEncryptVaes<kAesLanes / kVaesLanesPerRegister>(k.aesRoundKeys, k.aesRounds, msg, blocks, n);
        return;
    }
  }
  for (int first = 0; first < n; first += kAesNiLanes) {
    const int m = n - first < kAesNiLanes ? n - first : kAesNiLanes;
    if (m > kAesHalfLanes) {
      AesCbcEncryptLanesNi<kAesNiLanes>(k.aesRoundKeys, k.aesRounds, msg + first, blocks + first, m);
    } else {
      AesCbcEncryptLanesNi<kAesHalfLanes>(k.aesRoundKeys, k.aesRounds, msg + first, blocks + first, m);
    }
  }
#endif
}

// ---------------------------------------------------------------------------- OpenSSL EVP

// AES of a key size: CBC for the payload transform, ECB for its decryption (CtsDecryptEcb); nullptr for others.
const EVP_CIPHER* AesCipher(size_t keyBytes, bool ecb) {
  switch (keyBytes) {
    case 16:
      return ecb ? EVP_aes_128_ecb() : EVP_aes_128_cbc();
    case 24:
      return ecb ? EVP_aes_192_ecb() : EVP_aes_192_cbc();
    case 32:
      return ecb ? EVP_aes_256_ecb() : EVP_aes_256_cbc();
    default:
      return nullptr;
  }
}

// One context per direction; padding off so every whole block comes out of each update.
bool EvpInit(EvpKey* key, const EVP_CIPHER* cipher, const uint8_t* raw, bool both) {
  key->enc = EVP_CIPHER_CTX_new();
  if (key->enc == nullptr || EVP_CipherInit_ex(key->enc, cipher, nullptr, raw, nullptr, 1) != 1 ||
      EVP_CIPHER_CTX_set_padding(key->enc, 0) != 1) {
    return false;
  }
  if (!both) return true;
  key->dec = EVP_CIPHER_CTX_new();
  return key->dec != nullptr && EVP_CipherInit_ex(key->dec, cipher, nullptr, raw, nullptr, 0) == 1 &&
         EVP_CIPHER_CTX_set_padding(key->dec, 0) == 1;
}

// The ECB decryption context of an AES key, or nullptr when TSN2N_AES_PORTABLE=1 keeps every payload on CBC.
EVP_CIPHER_CTX* EcbDecryptContext(const uint8_t* raw, size_t keyBytes) {
  if (AesPortable()) return nullptr;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr || EVP_CipherInit_ex(ctx, AesCipher(keyBytes, true), nullptr, raw, nullptr, 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

// Runs whole blocks from src to dst through an ECB context (no IV, nothing to set up).
bool EcbRun(EVP_CIPHER_CTX* ctx, const uint8_t* src, uint8_t* dst, size_t len) {
  int outLen = 0;
  if (len == 0) return true;
  return EVP_CipherUpdate(ctx, dst, &outLen, src, static_cast<int>(len)) == 1 && static_cast<size_t>(outLen) == len;
}

// Sets the IV (the key schedule stays) and runs len bytes from src to dst.
bool EvpRun(EVP_CIPHER_CTX* ctx, const uint8_t* iv, const uint8_t* src, uint8_t* dst, size_t len) {
  int outLen = 0;
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, iv, -1) != 1) return false;
  if (len == 0) return true;
  return EVP_CipherUpdate(ctx, dst, &outLen, src, static_cast<int>(len)) == 1 &&
         static_cast<size_t>(outLen) == len;
}

bool ChaCha20Xor(EvpKey* key, const uint8_t* iv, const uint8_t* src, uint8_t* dst, size_t len) {
  const uint64_t counter = LoadLe32(iv);
  const uint64_t blocks = (len + kChaChaBlockBytes - 1) / kChaChaBlockBytes;
  if (counter + blocks <= kChaChaCounterSpace) return EvpRun(key->enc, iv, src, dst, len);
  // OpenSSL would carry into the nonce; n2n's counter wraps to 0 instead.
  const size_t first = static_cast<size_t>(kChaChaCounterSpace - counter) * kChaChaBlockBytes;
  uint8_t wrapped[kIvBytes];
  memcpy(wrapped, iv, kIvBytes);
  memset(wrapped, 0, 4);
  return EvpRun(key->enc, iv, src, dst, first) &&
         EvpRun(key->enc, wrapped, src + first, dst + first, len - first);
}

// ---------------------------------------------------------------------------- N-API glue
//
// The hot functions use the C API directly: one napi_get_cb_info into a stack array (no
// allocation), one napi_get_typedarray_info per buffer. Errors throw and return nullptr.

CipherKey* GetKey(napi_env env, napi_value v) {
  bool tagged = false;
  void* data = nullptr;
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, v, &kKeyTag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    return nullptr;
  }
  return static_cast<CipherKey*>(data);
}

// The common argument list (key, src, srcOff, len, dst, dstOff, iv, ivOff), range-checked.
struct Call {
  CipherKey* key;
  const uint8_t* src;
  uint8_t* dst;
  const uint8_t* iv;
  size_t len;
};

bool ParseCall(napi_env env, napi_callback_info info, const char* usage, Call* call) {
  size_t argc = kMaxArgs;
  napi_value argv[kMaxArgs];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < kMaxArgs) {
    ThrowType(env, usage);
    return false;
  }
  uint8_t *src, *dst, *iv;
  size_t srcLen, dstLen, ivLen, srcOff, len, dstOff, ivOff;
  call->key = GetKey(env, argv[0]);
  if (call->key == nullptr || !GetBytes(env, argv[1], &src, &srcLen) || !GetIndex(env, argv[2], &srcOff) ||
      !GetIndex(env, argv[3], &len) || !GetBytes(env, argv[4], &dst, &dstLen) ||
      !GetIndex(env, argv[5], &dstOff) || !GetBytes(env, argv[6], &iv, &ivLen) ||
      !GetIndex(env, argv[7], &ivOff)) {
    ThrowType(env, usage);
    return false;
  }
  // Each value is below 2^32, so the sums cannot overflow a 64-bit size_t.
  if (srcOff + len > srcLen || dstOff + len > dstLen || ivOff + kIvBytes > ivLen) {
    ThrowRange(env, "crypto: range outside its buffer");
    return false;
  }
  call->src = src + srcOff;
  call->dst = dst + dstOff;
  call->iv = iv + ivOff;
  call->len = len;
  return true;
}

napi_value Cbc(napi_env env, napi_callback_info info, bool encrypt) {
  const char* usage = encrypt
                          ? "cbcEncrypt(key, src, srcOff, len, dst, dstOff, iv, ivOff) with a Twofish or AES key"
                          : "cbcDecrypt(key, src, srcOff, len, dst, dstOff, iv, ivOff) with a Twofish or AES key";
  Call c;
  if (!ParseCall(env, info, usage, &c)) return nullptr;
  if (c.len % kBlockBytes != 0) return ThrowRange(env, "crypto: CBC length is not a multiple of 16");
  if (c.key->kind == kTwofish) {
    const auto& t = *static_cast<const TwofishKey*>(c.key);
    if (encrypt) {
      TwofishCbcEncrypt(t, c.iv, c.src, c.dst, c.len);
    } else {
      TwofishCbcDecrypt(t, c.iv, c.src, c.dst, c.len);
    }
    return nullptr;
  }
  if (c.key->kind != kAes) return ThrowType(env, usage);
  auto* k = static_cast<EvpKey*>(c.key);
  if (!EvpRun(encrypt ? k->enc : k->dec, c.iv, c.src, c.dst, c.len)) {
    napi_throw_error(env, nullptr, "crypto: OpenSSL AES-CBC failed");
  }
  return nullptr;
}

napi_value CbcEncrypt(napi_env env, napi_callback_info info) { return Cbc(env, info, true); }
napi_value CbcDecrypt(napi_env env, napi_callback_info info) { return Cbc(env, info, false); }

napi_value StreamXor(napi_env env, napi_callback_info info) {
  const char* usage = "streamXor(key, src, srcOff, len, dst, dstOff, iv, ivOff) with a Speck or ChaCha20 key";
  Call c;
  if (!ParseCall(env, info, usage, &c)) return nullptr;
  if (c.key->kind == kSpeck) {
    SpeckCtr(*static_cast<const SpeckKey*>(c.key), c.iv, c.src, c.dst, c.len);
    return nullptr;
  }
  if (c.key->kind != kChaCha20) return ThrowType(env, usage);
  if (!ChaCha20Xor(static_cast<EvpKey*>(c.key), c.iv, c.src, c.dst, c.len)) {
    napi_throw_error(env, nullptr, "crypto: OpenSSL ChaCha20 failed");
  }
  return nullptr;
}


// ---------------------------------------------------------------------------- payload batches

// dst[0, n) ^= src[0, n), a word at a time (the two do not overlap; a byte loop here was 15 % of a P2P -A3 run).
inline void XorInto(uint8_t* __restrict dst, const uint8_t* __restrict src, size_t n) {
  size_t i = 0;
#ifdef TSN2N_AES_NI
  // SSE2 is part of x86-64.
  for (; i + kBlockBytes <= n; i += kBlockBytes) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dst + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(a, b));
  }
#endif
  for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
    uint64_t a, b;
    memcpy(&a, dst + i, sizeof(a));
    memcpy(&b, src + i, sizeof(b));
    a ^= b;
    memcpy(dst + i, &a, sizeof(a));
  }
  for (; i < n; i++) dst[i] ^= src[i];
}

// True when [a, a + alen) and [b, b + blen) share a byte.
inline bool Overlap(uintptr_t a, size_t alen, uintptr_t b, size_t blen) {
  return a < b + blen && b < a + alen;
}

// One payload transform over a key: IV/random block || ciphertext (spec §5.5-§5.7).
class Framing {
 public:
  explicit Framing(CipherKey* key) : key_(key) {}

  // plain[0, len) → out[0, 16 + len) with the 16 bytes `r` first. out + 16 == plain or no overlap.
  bool Encrypt(const uint8_t* r, const uint8_t* plain, size_t len, uint8_t* out) {
    switch (key_->kind) {
      case kSpeck:
        SpeckCtr(*static_cast<const SpeckKey*>(key_), r, plain, out + kIvBytes, len);
        memcpy(out, r, kIvBytes);
        return true;
      case kChaCha20:
        if (!ChaCha20Xor(static_cast<EvpKey*>(key_), r, plain, out + kIvBytes, len)) return false;
        memcpy(out, r, kIvBytes);
        return true;
      default:
        return CtsEncrypt(r, plain, len, out);
    }
  }

  // in[0, len) → plain[0, len - 16); false when the payload is invalid. plain == in + 16 or no overlap.
  bool Decrypt(const uint8_t* in, size_t len, uint8_t* plain) {
    if (len < kIvBytes || len - kIvBytes > kMaxPlaintext) return false;
    switch (key_->kind) {
      case kSpeck:
        memcpy(iv_, in, kIvBytes);
        SpeckCtr(*static_cast<const SpeckKey*>(key_), iv_, in + kIvBytes, plain, len - kIvBytes);
        return true;
      case kChaCha20:
        memcpy(iv_, in, kIvBytes);
        return ChaCha20Xor(static_cast<EvpKey*>(key_), iv_, in + kIvBytes, plain, len - kIvBytes);
      default:
        return CtsDecrypt(in, len, plain);
    }
  }

 private:
  bool Cbc(bool encrypt, uint8_t* buf, size_t len) {
    if (key_->kind == kTwofish) {
      const auto& t = *static_cast<const TwofishKey*>(key_);
      if (encrypt) {
        TwofishCbcEncrypt(t, kZeroIv, buf, buf, len);
      } else {
        TwofishCbcDecrypt(t, kZeroIv, buf, buf, len);
      }
      return true;
    }
    auto* k = static_cast<EvpKey*>(key_);
    return EvpRun(encrypt ? k->enc : k->dec, kZeroIv, buf, buf, len);
  }

  // transform_aes.c / transform_tf.c: A = R || M zero-padded to whole blocks, CBC with a zero IV, the last
  // two blocks swapped and the output cut to |A| when |A| is not a multiple of 16.
  bool CtsEncrypt(const uint8_t* r, const uint8_t* plain, size_t len, uint8_t* out) {
    const size_t padded = CtsPrepare(r, plain, len, scratch_);
    if (!Cbc(true, scratch_, padded)) return false;
    CtsFinish(scratch_, len, out);
    return true;
  }

 public:
  // A = R || M into `a`, zero-padded to whole blocks; returns the padded length.
  static size_t CtsPrepare(const uint8_t* r, const uint8_t* plain, size_t len, uint8_t* a) {
    const size_t total = kIvBytes + len;
    const size_t padded = (total + kBlockBytes - 1) / kBlockBytes * kBlockBytes;
    memcpy(a, r, kIvBytes);
    memmove(a + kIvBytes, plain, len);
    memset(a + total, 0, padded - total);
    return padded;
  }

  // The CBC output `a` of CtsPrepare's A to out[0, 16 + len), the last two blocks swapped when cut.
  static void CtsFinish(const uint8_t* a, size_t len, uint8_t* out) {
    const size_t total = kIvBytes + len;
    const size_t rest = total % kBlockBytes;
    if (rest == 0) {
      memcpy(out, a, total);
      return;
    }
    const size_t padded = total - rest + kBlockBytes;
    const size_t last = padded - kBlockBytes;
    const size_t penultimate = last - kBlockBytes;
    memcpy(out, a, penultimate);
    memcpy(out + penultimate, a + last, kBlockBytes);
    memcpy(out + last, a + penultimate, rest);
  }

 private:

  // Undoes CtsEncrypt (spec §5.5 decryption): the stolen tail must decrypt to the zero padding.
  bool CtsDecrypt(const uint8_t* in, size_t len, uint8_t* plain) {
    if (key_->kind == kAes) {
      EVP_CIPHER_CTX* ecb = static_cast<EvpKey*>(key_)->decEcb;
      const auto from = reinterpret_cast<uintptr_t>(in);
      if (ecb != nullptr && !Overlap(from, len, reinterpret_cast<uintptr_t>(plain), len - kIvBytes)) {
        return CtsDecryptEcb(ecb, in, len, plain);
      }
    }
    const size_t rest = len % kBlockBytes;
    size_t rebuilt = len;
    if (rest == 0) {
      memcpy(scratch_, in, len);
    } else {
      const size_t p = (len / kBlockBytes - 1) * kBlockBytes;
      memcpy(scratch_, in, p);
      // T = D(C(m-1)) with its first `rest` bytes replaced by the stolen tail: the CBC input of block m-1.
      memcpy(scratch_ + p, in + p, kBlockBytes);
      if (!Cbc(false, scratch_ + p, kBlockBytes)) return false;
      memcpy(scratch_ + p, in + len - rest, rest);
      memcpy(scratch_ + p + kBlockBytes, in + p, kBlockBytes);
      rebuilt = p + 2 * kBlockBytes;
    }
    if (!Cbc(false, scratch_, rebuilt)) return false;
    for (size_t i = len; i < rebuilt; i++) {
      if (scratch_[i] != 0) return false;
    }
    memmove(plain, scratch_ + kIvBytes, len - kIvBytes);
    return true;
  }

  // CtsDecrypt for AES straight from `in` to `plain` (not overlapping), without CBC's set-up of an IV per payload
  // (OpenSSL looks its parameters up by name: 4-5 % of a P2P -A3 run's samples, with two set-ups for a cut
  // payload) and without the copies through scratch_. CBC decryption is P_i = D(C_i) ^ C_(i-1): the blocks are
  // run through ECB and then XORed with the ciphertext one block behind. Block 0 is the random R, whose plaintext
  // is dropped, so it is never decrypted. A cut payload (rest bytes in its last block) ends as CtsDecrypt rebuilds
  // it: X = D(C_k) at p = 16k, T = the stolen tail || X[rest, 16), P_k = D(T) ^ C_(k-1), and the last rest bytes
  // X[0, rest) ^ tail (the rest of that block is X ^ X: the zero padding holds by construction).
  static bool CtsDecryptEcb(EVP_CIPHER_CTX* ecb, const uint8_t* in, size_t len, uint8_t* plain) {
    const size_t rest = len % kBlockBytes;
    if (rest == 0) {
      const size_t n = len - kIvBytes;
      if (!EcbRun(ecb, in + kIvBytes, plain, n)) return false;
      XorInto(plain, in, n);
      return true;
    }
    const size_t p = (len / kBlockBytes - 1) * kBlockBytes;
    const uint8_t* tail = in + len - rest;
    uint8_t x[kBlockBytes];
    if (p == 0) {
      // One block and a tail: the tail is all the plaintext.
      if (!EcbRun(ecb, in, x, kBlockBytes)) return false;
    } else {
      // D(C_1) .. D(C_k) into plain[0, p): the last of them is X, whose place P_k then takes.
      if (!EcbRun(ecb, in + kIvBytes, plain, p)) return false;
      memcpy(x, plain + p - kBlockBytes, kBlockBytes);
      uint8_t t[kBlockBytes];
      memcpy(t, tail, rest);
      memcpy(t + rest, x + rest, kBlockBytes - rest);
      if (!EcbRun(ecb, t, plain + p - kBlockBytes, kBlockBytes)) return false;
      XorInto(plain, in, p);
    }
    for (size_t i = 0; i < rest; i++) plain[p + i] = x[i] ^ tail[i];
    return true;
  }

  static constexpr uint8_t kZeroIv[kIvBytes] = {};
  CipherKey* key_;
  uint8_t iv_[kIvBytes];
  uint8_t scratch_[kMaxPlaintext + 3 * kBlockBytes];
};

// payloadEncrypt(key, src, srcOffs, lens, dst, dstOffs, count, random, outLens) and
// payloadDecrypt(key, src, srcOffs, lens, dst, dstOffs, count, null, outLens).
napi_value PayloadBatch(napi_env env, napi_callback_info info, bool encrypt) {
  const char* usage = encrypt ? "payloadEncrypt(key, src: Uint8Array, srcOffs: Uint32Array, lens: Uint32Array, "
                                "dst: Uint8Array, dstOffs: Uint32Array, count: number, random: Uint8Array "
                                "(16 bytes per payload), outLens: Uint32Array)"
                              : "payloadDecrypt(key, src: Uint8Array, srcOffs: Uint32Array, lens: Uint32Array, "
                                "dst: Uint8Array, dstOffs: Uint32Array, count: number, null, outLens: "
                                "Uint32Array)";
  size_t argc = kBatchArgs;
  napi_value argv[kBatchArgs];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < kBatchArgs) {
    return ThrowType(env, usage);
  }
  CipherKey* key = GetKey(env, argv[0]);
  uint8_t *src, *dst, *rnd = nullptr;
  uint32_t *srcOffs, *lens, *dstOffs, *outLens;
  size_t srcLen, dstLen, rndLen = 0, nSrcOffs, nLens, nDstOffs, nOut, count;
  if (key == nullptr || !GetBytes(env, argv[1], &src, &srcLen) || !GetU32s(env, argv[2], &srcOffs, &nSrcOffs) ||
      !GetU32s(env, argv[3], &lens, &nLens) || !GetBytes(env, argv[4], &dst, &dstLen) ||
      !GetU32s(env, argv[5], &dstOffs, &nDstOffs) || !GetIndex(env, argv[6], &count) ||
      (encrypt && !GetBytes(env, argv[7], &rnd, &rndLen)) || !GetU32s(env, argv[8], &outLens, &nOut)) {
    return ThrowType(env, usage);
  }
  if (count > nSrcOffs || count > nLens || count > nDstOffs || count > nOut || (encrypt && count * kIvBytes > rndLen)) {
    return ThrowRange(env, "crypto: fewer offsets, lengths or random bytes than payloads");
  }
  // Every range is checked before anything is written.
  for (size_t i = 0; i < count; i++) {
    const size_t len = lens[i];
    const size_t outLen = encrypt ? kIvBytes + len : (len >= kIvBytes ? len - kIvBytes : 0);
    if (static_cast<size_t>(srcOffs[i]) + len > srcLen || static_cast<size_t>(dstOffs[i]) + outLen > dstLen) {
      return ThrowRange(env, "crypto: payload range outside its buffer");
    }
    if (encrypt && len > kMaxPlaintext) return ThrowRange(env, "crypto: payload above 2048 bytes");
    // In place with the 16-byte preamble in front (or behind, decrypting), or apart.
    const uintptr_t in = reinterpret_cast<uintptr_t>(src) + srcOffs[i];
    const uintptr_t out = reinterpret_cast<uintptr_t>(dst) + dstOffs[i];
    const uintptr_t inPlace = encrypt ? in - kIvBytes : in + kIvBytes;
    if (out != inPlace && Overlap(in, len, out, outLen)) {
      return ThrowRange(env, "crypto: payload output overlaps its input other than in place");
    }
  }
  Framing framing(key);
  if (key->kind != kSpeck && key->kind != kChaCha20 && key->kind != kTwofish && key->kind != kAes) {
    return ThrowType(env, usage);
  }
  if (encrypt && PayloadLanesKey(key)) {
    // CBC chains side by side (PayloadEncryptMany), a group of payloads at a time.
    const uint8_t* r[kAesLanes];
    const uint8_t* in[kAesLanes];
    size_t len[kAesLanes];
    uint8_t* out[kAesLanes];
    for (size_t first = 0; first < count; first += kAesLanes) {
      const size_t n = count - first < static_cast<size_t>(kAesLanes) ? count - first : kAesLanes;
      for (size_t j = 0; j < n; j++) {
        const size_t i = first + j;
        r[j] = rnd + i * kIvBytes;
        in[j] = src + srcOffs[i];
        len[j] = lens[i];
        out[j] = dst + dstOffs[i];
        outLens[i] = static_cast<uint32_t>(kIvBytes + lens[i]);
      }
      PayloadEncryptMany(key, r, in, len, out, n);
    }
    return nullptr;
  }
  for (size_t i = 0; i < count; i++) {
    uint8_t* out = dst + dstOffs[i];
    const uint8_t* in = src + srcOffs[i];
    if (encrypt) {
      if (!framing.Encrypt(rnd + i * kIvBytes, in, lens[i], out)) {
        napi_throw_error(env, nullptr, "crypto: OpenSSL failed");
        return nullptr;
      }
      outLens[i] = static_cast<uint32_t>(kIvBytes + lens[i]);
    } else {
      outLens[i] = framing.Decrypt(in, lens[i], out) ? static_cast<uint32_t>(lens[i] - kIvBytes) : kInvalid;
    }
  }
  return nullptr;
}

napi_value PayloadEncrypt(napi_env env, napi_callback_info info) { return PayloadBatch(env, info, true); }
napi_value PayloadDecrypt(napi_env env, napi_callback_info info) { return PayloadBatch(env, info, false); }

void FinalizeKey(napi_env env, void* data, void* hint) { delete static_cast<CipherKey*>(data); }

// cipherKey(kind, material, off, len) → handle. Material: Speck 16/32-byte key, Twofish the
// expanded key (40 subkeys + 4x256 table words, LE32), AES 16/24/32-byte key, ChaCha20 32 bytes.
Napi::Value CipherKeyJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "cipherKey(kind: 2 | 3 | 4 | 5, material: Uint8Array, off: number, len: number)";
  if (info.Length() < 4 || !info[0].IsNumber()) throw Napi::TypeError::New(env, std::string("Usage: ") + usage);
  const uint32_t kind = info[0].As<Napi::Number>().Uint32Value();
  uint8_t* data;
  size_t total, off, len;
  if (!GetBytes(env, info[1], &data, &total) || !GetIndex(env, info[2], &off) || !GetIndex(env, info[3], &len)) {
    throw Napi::TypeError::New(env, std::string("Usage: ") + usage);
  }
  if (off + len > total) throw Napi::RangeError::New(env, "cipherKey: material range outside its buffer");
  const uint8_t* m = data + off;
  CipherKey* key = nullptr;
  if (kind == kSpeck && (len == 16 || len == 32)) {
    auto* s = new SpeckKey();
    SpeckExpand(m, len, s);
    key = s;
  } else if (kind == kTwofish && len == kTwofishMaterialBytes) {
    auto* t = new TwofishKey();
    for (size_t i = 0; i < kTwofishSubkeys; i++) t->k[i] = LoadLe32(m + 4 * i);
    for (size_t i = 0; i < kTwofishTableWords; i++) t->s[i / 256][i % 256] = LoadLe32(m + 4 * (kTwofishSubkeys + i));
    key = t;
  } else if ((kind == kAes && AesCipher(len, false) != nullptr) || (kind == kChaCha20 && len == kChaChaKeyBytes)) {
    auto* e = new EvpKey(kind);
    const bool ok = kind == kAes ? EvpInit(e, AesCipher(len, false), m, true) : EvpInit(e, EVP_chacha20(), m, false);
    if (!ok) {
      delete e;
      throw Napi::Error::New(env, "cipherKey: OpenSSL refused the cipher");
    }
    if (kind == kAes) e->decEcb = EcbDecryptContext(m, len);
#ifdef TSN2N_AES_NI
    if (kind == kAes && HaveAesNi()) e->aesRounds = AesExpandKey(m, len, e->aesRoundKeys);
#endif
    key = e;
  } else {
    throw Napi::RangeError::New(env, "cipherKey: unknown kind or wrong material length " + std::to_string(len));
  }
  napi_value ext;
  if (napi_create_external(env, key, FinalizeKey, nullptr, &ext) != napi_ok) {
    delete key;
    throw Napi::Error::New(env, "cipherKey: cannot create the handle");
  }
  if (napi_type_tag_object(env, ext, &kKeyTag) != napi_ok) throw Napi::Error::New(env, "cipherKey: cannot tag the handle");
  return Napi::Value(env, ext);
}

// cryptoInfo() → { speck: 'avx2' | 'portable', pearson: 'avx512' | 'portable',
// aesLanes: 'vaes' | 'aesni' | 'openssl', openssl: version text } (for benchmarks and logs).
Napi::Value CryptoInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("speck", Napi::String::New(env, SpeckImpl()));
  o.Set("pearson", Napi::String::New(env, HeaderPearsonImpl()));
#ifdef TSN2N_AES_NI
  o.Set("aesLanes", Napi::String::New(env, HaveVaes() ? "vaes" : HaveAesNi() ? "aesni" : "openssl"));
#else
  o.Set("aesLanes", Napi::String::New(env, "openssl"));
#endif
  o.Set("openssl", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  return o;
}

}  // namespace

void* PayloadKeyFrom(napi_env env, napi_value v) { return GetKey(env, v); }

bool PayloadDecryptOne(void* key, const uint8_t* in, size_t len, uint8_t* plain, size_t* plainLen) {
  auto* k = static_cast<CipherKey*>(key);
  if (k->kind != kSpeck && k->kind != kChaCha20 && k->kind != kTwofish && k->kind != kAes) return false;
  Framing framing(k);
  if (!framing.Decrypt(in, len, plain)) return false;
  *plainLen = len - kIvBytes;
  return true;
}

bool PayloadEncryptOne(void* key, const uint8_t* r, const uint8_t* plain, size_t len, uint8_t* out) {
  auto* k = static_cast<CipherKey*>(key);
  if (k->kind != kSpeck && k->kind != kChaCha20 && k->kind != kTwofish && k->kind != kAes) return false;
  if (len > kMaxPlaintext) return false;
  Framing framing(k);
  return framing.Encrypt(r, plain, len, out);
}

bool PayloadLanesKey(void* key) {
  auto* k = static_cast<CipherKey*>(key);
  return k->kind == kTwofish || (k->kind == kAes && AesLanes(*static_cast<const EvpKey*>(k)));
}

void PayloadEncryptMany(void* key, const uint8_t* const* r, const uint8_t* const* plain, const size_t* len,
                        uint8_t* const* out, size_t count) {
  auto* k = static_cast<CipherKey*>(key);
  // Each payload's A = R || M is built in its lane first (so out may be in place, 16 bytes in front of plain).
  static thread_local uint8_t lanes[kAesLanes][kMaxPlaintext + 3 * kBlockBytes];
  const size_t group = k->kind == kTwofish ? kLanes : kAesLanes;
  for (size_t first = 0; first < count; first += group) {
    const size_t n = count - first < group ? count - first : group;
    uint8_t* msg[kAesLanes];
    size_t blocks[kAesLanes];
    for (size_t j = 0; j < group; j++) {
      msg[j] = lanes[j];
      blocks[j] = j < n ? Framing::CtsPrepare(r[first + j], plain[first + j], len[first + j], lanes[j]) / kBlockBytes
                        : 0;
    }
    if (k->kind == kTwofish) {
      TwofishCbcEncryptLanes(*static_cast<const TwofishKey*>(k), msg, blocks);
    } else {
      AesCbcEncryptLanes(*static_cast<const EvpKey*>(k), msg, blocks, static_cast<int>(n));
    }
    for (size_t j = 0; j < n; j++) Framing::CtsFinish(lanes[j], len[first + j], out[first + j]);
  }
}

void InitCrypto(Napi::Env env, Napi::Object exports) {
  exports.Set("cipherKey", Napi::Function::New(env, CipherKeyJs, "cipherKey"));
  exports.Set("cryptoInfo", Napi::Function::New(env, CryptoInfo, "cryptoInfo"));
  SetRaw(env, exports, "cbcEncrypt", CbcEncrypt);
  SetRaw(env, exports, "cbcDecrypt", CbcDecrypt);
  SetRaw(env, exports, "streamXor", StreamXor);
  SetRaw(env, exports, "payloadEncrypt", PayloadEncrypt);
  SetRaw(env, exports, "payloadDecrypt", PayloadDecrypt);
}

}  // namespace tsn2n
