#include "host/match/cpu_scan.h"

#include <algorithm>
#include <bit>

#if defined(__x86_64__)
#include <immintrin.h>
#define HM_X86 1
#else
#define HM_X86 0
#endif

namespace hashmatch::match_detail {

SplitList::SplitList(const std::vector<Hash256>& hashes) : lo_(hashes.size()), hi_(hashes.size()) {
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    lo_[i] = HalfHash{{hashes[i].w[0], hashes[i].w[1]}};
    hi_[i] = HalfHash{{hashes[i].w[2], hashes[i].w[3]}};
  }
}

namespace {

// Entries compared with every query of a batch before the next block: 1,024 x 16 B (lo) or x 32 B
// (lo + hi) stay in L1/L2 while the queries stream past.
constexpr std::size_t kBlock = 1024;

inline void emit(std::vector<PdqHit>& out, uint32_t q, std::size_t i, int d) {
  out.push_back(PdqHit{q, static_cast<uint32_t>(i), d});
}

// Exact check of entries [i, i + n) (the slow path after a block's filter fired). Inlined into
// each kernel, so it gets that kernel's instruction set.
__attribute__((always_inline)) inline void check_exact(const HalfHash* lo, const HalfHash* hi, std::size_t i, std::size_t n,
                        const Hash256& q, uint32_t qi, int t, std::vector<PdqHit>& out) {
  for (std::size_t k = i; k < i + n; ++k) {
    const int d = split_distance(lo, hi, k, q);
    if (d <= t) emit(out, qi, k, d);
  }
}

// Portable scan (std::popcount; without the POPCNT instruction the compiler uses a bit trick).
void scan_generic(const HalfHash* lo, const HalfHash* hi, std::size_t begin, std::size_t end,
                  const Hash256* queries, std::size_t nq, uint32_t q_offset, int t,
                  std::vector<PdqHit>& out) {
  for (std::size_t b0 = begin; b0 < end; b0 += kBlock) {
    const std::size_t b1 = std::min(end, b0 + kBlock);
    for (std::size_t q = 0; q < nq; ++q) {
      check_exact(lo, hi, b0, b1 - b0, queries[q], q_offset + uint32_t(q), t, out);
    }
  }
}

#if HM_X86
__attribute__((target("popcnt"), always_inline)) inline int pop_half(const HalfHash& h,
                                                                     uint64_t q0, uint64_t q1) {
  return int(_mm_popcnt_u64(h.w[0] ^ q0) + _mm_popcnt_u64(h.w[1] ^ q1));
}

// Scalar POPCNT, two entries per iteration (independent chains for the out-of-order core).
// kHalf: filter on the lo halves only (d >= d_lo); otherwise the full distance.
template <bool kHalf>
__attribute__((target("popcnt"))) void scan_popcnt_t(const HalfHash* lo, const HalfHash* hi,
                                                      std::size_t begin, std::size_t end,
                                                      const Hash256* queries, std::size_t nq,
                                                      uint32_t q_offset, int t,
                                                      std::vector<PdqHit>& out) {
  for (std::size_t b0 = begin; b0 < end; b0 += kBlock) {
    const std::size_t b1 = std::min(end, b0 + kBlock);
    for (std::size_t q = 0; q < nq; ++q) {
      const Hash256& qh = queries[q];
      const uint64_t q0 = qh.w[0], q1 = qh.w[1], q2 = qh.w[2], q3 = qh.w[3];
      const uint32_t qi = q_offset + uint32_t(q);
      std::size_t i = b0;
      for (; i + 2 <= b1; i += 2) {
        int da = pop_half(lo[i], q0, q1);
        int db = pop_half(lo[i + 1], q0, q1);
        if constexpr (!kHalf) {
          da += pop_half(hi[i], q2, q3);
          db += pop_half(hi[i + 1], q2, q3);
        }
        if (__builtin_expect(std::min(da, db) <= t, 0)) check_exact(lo, hi, i, 2, qh, qi, t, out);
      }
      if (i < b1) check_exact(lo, hi, i, b1 - i, qh, qi, t, out);
    }
  }
}

void scan_popcnt(const HalfHash* lo, const HalfHash* hi, std::size_t begin, std::size_t end,
                 const Hash256* queries, std::size_t nq, uint32_t q_offset, int t,
                 std::vector<PdqHit>& out) {
  if (t <= kHalfRejectMaxThreshold) {
    scan_popcnt_t<true>(lo, hi, begin, end, queries, nq, q_offset, t, out);
  } else {
    scan_popcnt_t<false>(lo, hi, begin, end, queries, nq, q_offset, t, out);
  }
}

// AVX2: popcount of bytes by a nibble lookup (vpshufb); one YMM holds the lo (or hi) halves of two
// entries. Four entries per step: byte counts of entries {0,1} and {2,3} are folded so that each
// 64-bit lane holds one entry's 16 (or 32) byte counts, and one vpsadbw gives four distances.
__attribute__((target("avx2"), always_inline)) inline __m256i popcnt_bytes(__m256i v,
                                                                           __m256i lut,
                                                                           __m256i low4) {
  const __m256i lo_n = _mm256_and_si256(v, low4);
  const __m256i hi_n = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo_n), _mm256_shuffle_epi8(lut, hi_n));
}

template <bool kHalf>
__attribute__((target("avx2,popcnt"))) void scan_avx2_t(const HalfHash* lo, const HalfHash* hi,
                                                         std::size_t begin, std::size_t end,
                                                         const Hash256* queries, std::size_t nq,
                                                         uint32_t q_offset, int t,
                                                         std::vector<PdqHit>& out) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i tp1 = _mm256_set1_epi64x(t + 1);
  for (std::size_t b0 = begin; b0 < end; b0 += kBlock) {
    const std::size_t b1 = std::min(end, b0 + kBlock);
    for (std::size_t q = 0; q < nq; ++q) {
      const Hash256& qh = queries[q];
      const uint32_t qi = q_offset + uint32_t(q);
      const __m256i qlo = _mm256_setr_epi64x(int64_t(qh.w[0]), int64_t(qh.w[1]),
                                             int64_t(qh.w[0]), int64_t(qh.w[1]));
      const __m256i qhi = _mm256_setr_epi64x(int64_t(qh.w[2]), int64_t(qh.w[3]),
                                             int64_t(qh.w[2]), int64_t(qh.w[3]));
      std::size_t i = b0;
      for (; i + 4 <= b1; i += 4) {
        // c01: byte counts of entries i, i+1 (lanes 0-1: i, lanes 2-3: i+1); c23 likewise.
        __m256i c01 = popcnt_bytes(
            _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + i)), qlo),
            lut, low4);
        __m256i c23 = popcnt_bytes(
            _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + i + 2)),
                             qlo),
            lut, low4);
        if constexpr (!kHalf) {
          c01 = _mm256_add_epi8(
              c01, popcnt_bytes(_mm256_xor_si256(
                                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi + i)),
                                    qhi),
                                lut, low4));
          c23 = _mm256_add_epi8(
              c23, popcnt_bytes(_mm256_xor_si256(_mm256_loadu_si256(
                                                     reinterpret_cast<const __m256i*>(hi + i + 2)),
                                                 qhi),
                                lut, low4));
        }
        // Lane k of unpacklo/unpackhi: (c01 lane 2k | c23 lane 2k), (c01 lane 2k+1 | c23 ...):
        // their sum holds, per 64-bit lane, the byte counts of one entry (i, i+2, i+1, i+3).
        const __m256i folded =
            _mm256_add_epi8(_mm256_unpacklo_epi64(c01, c23), _mm256_unpackhi_epi64(c01, c23));
        const __m256i d = _mm256_sad_epu8(folded, zero);
        const int mask = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(tp1, d)));
        if (__builtin_expect(mask != 0, 0)) check_exact(lo, hi, i, 4, qh, qi, t, out);
      }
      if (i < b1) check_exact(lo, hi, i, b1 - i, qh, qi, t, out);
    }
  }
}

void scan_avx2(const HalfHash* lo, const HalfHash* hi, std::size_t begin, std::size_t end,
               const Hash256* queries, std::size_t nq, uint32_t q_offset, int t,
               std::vector<PdqHit>& out) {
  if (t <= kHalfRejectMaxThreshold) {
    scan_avx2_t<true>(lo, hi, begin, end, queries, nq, q_offset, t, out);
  } else {
    scan_avx2_t<false>(lo, hi, begin, end, queries, nq, q_offset, t, out);
  }
}

// GCC 12 warns about _mm512_undefined_epi32() inside the unpack intrinsics (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// AVX-512 VPOPCNTQ: one ZMM holds the lo (or hi) halves of four entries; eight entries per step.
template <bool kHalf>
__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) void scan_avx512_t(
    const HalfHash* lo, const HalfHash* hi, std::size_t begin, std::size_t end,
    const Hash256* queries, std::size_t nq, uint32_t q_offset, int t, std::vector<PdqHit>& out) {
  const __m512i tv = _mm512_set1_epi64(t);
  for (std::size_t b0 = begin; b0 < end; b0 += kBlock) {
    const std::size_t b1 = std::min(end, b0 + kBlock);
    for (std::size_t q = 0; q < nq; ++q) {
      const Hash256& qh = queries[q];
      const uint32_t qi = q_offset + uint32_t(q);
      const __m512i qlo = _mm512_set_epi64(int64_t(qh.w[1]), int64_t(qh.w[0]), int64_t(qh.w[1]),
                                           int64_t(qh.w[0]), int64_t(qh.w[1]), int64_t(qh.w[0]),
                                           int64_t(qh.w[1]), int64_t(qh.w[0]));
      const __m512i qhi = _mm512_set_epi64(int64_t(qh.w[3]), int64_t(qh.w[2]), int64_t(qh.w[3]),
                                           int64_t(qh.w[2]), int64_t(qh.w[3]), int64_t(qh.w[2]),
                                           int64_t(qh.w[3]), int64_t(qh.w[2]));
      std::size_t i = b0;
      for (; i + 8 <= b1; i += 8) {
        // Qword counts: lanes 2k, 2k+1 belong to entry i+k (a) and i+4+k (b).
        __m512i a = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(lo + i), qlo));
        __m512i b = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(lo + i + 4), qlo));
        if constexpr (!kHalf) {
          a = _mm512_add_epi64(
              a, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(hi + i), qhi)));
          b = _mm512_add_epi64(
              b, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(hi + i + 4), qhi)));
        }
        // unpacklo + unpackhi: lane 2k = sum for entry i+k, lane 2k+1 = sum for entry i+4+k.
        const __m512i d = _mm512_add_epi64(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
        const __mmask8 m = _mm512_cmple_epu64_mask(d, tv);
        if (__builtin_expect(m != 0, 0)) check_exact(lo, hi, i, 8, qh, qi, t, out);
      }
      if (i < b1) check_exact(lo, hi, i, b1 - i, qh, qi, t, out);
    }
  }
}

void scan_avx512(const HalfHash* lo, const HalfHash* hi, std::size_t begin, std::size_t end,
                 const Hash256* queries, std::size_t nq, uint32_t q_offset, int t,
                 std::vector<PdqHit>& out) {
  if (t <= kHalfRejectMaxThreshold) {
    scan_avx512_t<true>(lo, hi, begin, end, queries, nq, q_offset, t, out);
  } else {
    scan_avx512_t<false>(lo, hi, begin, end, queries, nq, q_offset, t, out);
  }
}
#pragma GCC diagnostic pop
#endif

}  // namespace

#if HM_X86
bool simd_supported(SimdLevel level) {
  __builtin_cpu_init();
  switch (level) {
    case SimdLevel::kGeneric: return true;
    case SimdLevel::kPopcnt: return __builtin_cpu_supports("popcnt");
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case SimdLevel::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq") &&
             __builtin_cpu_supports("popcnt");
  }
  return false;
}
#else
bool simd_supported(SimdLevel level) { return level == SimdLevel::kGeneric; }
#endif

SimdLevel best_simd_level() {
  for (SimdLevel l : {SimdLevel::kAvx512, SimdLevel::kAvx2, SimdLevel::kPopcnt}) {
    if (simd_supported(l)) return l;
  }
  return SimdLevel::kGeneric;
}

const char* simd_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kGeneric: return "generic";
    case SimdLevel::kPopcnt: return "popcnt";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "?";
}

ScanFn scan_function(SimdLevel level) {
#if HM_X86
  switch (level) {
    case SimdLevel::kGeneric: return scan_generic;
    case SimdLevel::kPopcnt: return scan_popcnt;
    case SimdLevel::kAvx2: return scan_avx2;
    case SimdLevel::kAvx512: return scan_avx512;
  }
#endif
  return scan_generic;
}

}  // namespace hashmatch::match_detail
