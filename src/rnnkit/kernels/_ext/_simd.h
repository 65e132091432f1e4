// The small vector abstraction the LSTM micro-kernels (_lstm_simd.h) are written in: `Vec`,
// Vec::W float lanes, for one instruction set per translation unit.
//
// Included only by lstm_simd_avx2.cpp and lstm_simd_avx512.cpp, each of which sets
// RNNKIT_SIMD_WIDTH (8: AVX2 + FMA, 16: AVX-512) and compiles its functions for that
// instruction set (`#pragma GCC target`), whatever flags the rest of the extension has. Which
// one runs is chosen at run time from the CPU's features (lstm.cpp, `simd_for`), so a build
// holds every variant and a CPU runs the best it supports.
//
// Everything here and in _lstm_simd.h has internal linkage (an unnamed namespace) and calls no
// inline function of the standard library or ATen: an AVX-512 copy of an inline function that
// other files also emit could be the one the linker keeps, and an AVX2-only CPU would then
// run AVX-512 instructions.
#pragma once

#include <immintrin.h>

#include <cstdint>

#ifndef RNNKIT_INLINE
#define RNNKIT_INLINE inline __attribute__((always_inline))
#endif

namespace rnnkit {
namespace {

// What both widths spell alike: the intrinsic's prefix (_mm256 / _mm512) is the only change.
#define RNNKIT_VEC_COMMON(P)                                                                   \
  static RNNKIT_INLINE F zero() { return P##_setzero_ps(); }                                 \
  static RNNKIT_INLINE F set1(float x) { return P##_set1_ps(x); }                            \
  static RNNKIT_INLINE F load(const float* p) { return P##_load_ps(p); } /* aligned */       \
  static RNNKIT_INLINE F loadu(const float* p) { return P##_loadu_ps(p); }                   \
  static RNNKIT_INLINE void store(float* p, F v) { P##_store_ps(p, v); } /* aligned */       \
  static RNNKIT_INLINE void storeu(float* p, F v) { P##_storeu_ps(p, v); }                   \
  static RNNKIT_INLINE F add(F a, F b) { return P##_add_ps(a, b); }                          \
  static RNNKIT_INLINE F sub(F a, F b) { return P##_sub_ps(a, b); }                          \
  static RNNKIT_INLINE F mul(F a, F b) { return P##_mul_ps(a, b); }                          \
  static RNNKIT_INLINE F div(F a, F b) { return P##_div_ps(a, b); }                          \
  static RNNKIT_INLINE F fmadd(F a, F b, F c) { return P##_fmadd_ps(a, b, c); } /* ab + c */ \
  static RNNKIT_INLINE F fnmadd(F a, F b, F c) { return P##_fnmadd_ps(a, b, c); } /* c-ab */ \
  /* min / max return their SECOND operand where either is NaN */                            \
  static RNNKIT_INLINE F min(F a, F b) { return P##_min_ps(a, b); }                          \
  static RNNKIT_INLINE F max(F a, F b) { return P##_max_ps(a, b); }                          \
  /* |x|, and |magnitude| with the sign of `sign` */                                         \
  static RNNKIT_INLINE F abs(F x) { return P##_andnot_ps(P##_set1_ps(-0.0f), x); }           \
  static RNNKIT_INLINE F with_sign(F magnitude, F sign) {                                    \
    return P##_or_ps(magnitude, P##_and_ps(P##_set1_ps(-0.0f), sign));                       \
  }

#if RNNKIT_SIMD_WIDTH == 8

// AVX2 + FMA: 8 floats, 16 registers.
struct Vec {
  using F = __m256;  // 8 floats
  using M = __m256;  // a lane mask: all bits set in the lanes where it holds
  static constexpr int64_t W = 8;
  static constexpr int kRegisters = 16;
  RNNKIT_VEC_COMMON(_mm256)

  static RNNKIT_INLINE F broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  // the first n lanes (0 < n < W); the others read as 0, are left alone in memory, and are
  // never touched (no fault past the end of a buffer)
  static RNNKIT_INLINE F load_n(const float* p, int64_t n) {
    return _mm256_maskload_ps(p, first(n));
  }
  static RNNKIT_INLINE void store_n(float* p, F v, int64_t n) {
    _mm256_maskstore_ps(p, first(n), v);
  }
  static RNNKIT_INLINE F floor(F x) { return _mm256_floor_ps(x); }
  static RNNKIT_INLINE M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static RNNKIT_INLINE M gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static RNNKIT_INLINE F select(M m, F yes, F no) { return _mm256_blendv_ps(no, yes, m); }
  // 2^n for n integral (as floats) in [-126, 127]: the exponent bits
  static RNNKIT_INLINE F pow2(F n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }

 private:
  static RNNKIT_INLINE __m256i first(int64_t n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lane);
  }
};

#elif RNNKIT_SIMD_WIDTH == 16

// AVX-512 (F, DQ; BW and VL required with them): 16 floats, 32 registers, mask registers.
struct Vec {
  using F = __m512;     // 16 floats
  using M = __mmask16;  // a lane mask: one bit per lane
  static constexpr int64_t W = 16;
  static constexpr int kRegisters = 32;
  RNNKIT_VEC_COMMON(_mm512)

  static RNNKIT_INLINE F broadcast(const float* p) { return _mm512_set1_ps(*p); }
  // the first n lanes (0 < n < W), as the AVX2 Vec's
  static RNNKIT_INLINE F load_n(const float* p, int64_t n) {
    return _mm512_maskz_loadu_ps(first(n), p);
  }
  static RNNKIT_INLINE void store_n(float* p, F v, int64_t n) {
    _mm512_mask_storeu_ps(p, first(n), v);
  }
  static RNNKIT_INLINE F floor(F x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  }
  static RNNKIT_INLINE M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static RNNKIT_INLINE M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static RNNKIT_INLINE F select(M m, F yes, F no) { return _mm512_mask_blend_ps(m, no, yes); }
  static RNNKIT_INLINE F pow2(F n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }

 private:
  static RNNKIT_INLINE __mmask16 first(int64_t n) {
    return static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u);
  }
};

#else
#error "RNNKIT_SIMD_WIDTH must be 8 (AVX2) or 16 (AVX-512)"
#endif

#undef RNNKIT_VEC_COMMON

}  // namespace
}  // namespace rnnkit
