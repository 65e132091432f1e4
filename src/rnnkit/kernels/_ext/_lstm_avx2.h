// One LSTM step for a thread's rows in float32 on AVX2 + FMA: the product h_prev @ W_h and
// the gate math fused, so z never goes to memory.
//
// W_h (H, 4H), packed [i | f | g | o], is re-laid once per call in blocks of 8 units: block p
// holds, for each k, the 32 weights W_h[k, gate * H + 8p + u] (gate = i, f, g, o; u = 0..7),
// contiguous. A tile of R rows times one block is then 4R vector accumulators (R = 3 fills 12
// of the 16 AVX registers): for each k, four loads of the block and one broadcast of h_prev
// per row. The tile ends with the four gates of 8 units of R rows in registers, which is what
// the cell update of those units needs: c and h are written straight from it. Blocks are the
// outer loop, so each block (16 KB at H = 128) is read from L2 once per step and then reused
// from L1 by every row tile.
//
// The new h goes to a buffer other than h_prev (every block reads all of h_prev); c may be
// updated in place (each unit reads and writes its own c).
#pragma once

#if defined(__AVX2__) && defined(__FMA__)
#define RNNKIT_FUSED_LSTM 1
#include <immintrin.h>

#include <ATen/ATen.h>

#include "_math.h"

namespace rnnkit {

constexpr int64_t kUnitBlock = 8;  // units per block: one AVX vector per gate

// Whether the fused step serves a float LSTM of H units.
inline bool fused_lstm_applies(const at::Tensor& W_h) {
  return W_h.scalar_type() == at::kFloat && W_h.size(0) % kUnitBlock == 0;
}

// W_h (H, 4H) -> (H / 8, H, 32): block p, row k, [i f g o] x 8 units.
inline at::Tensor pack_gate_blocks(const at::Tensor& W_h) {
  const int64_t H = W_h.size(0), H4 = 4 * H, P = H / kUnitBlock;
  at::Tensor packed = at::empty({P, H, 4 * kUnitBlock}, W_h.options());
  const float* w = W_h.data_ptr<float>();
  float* out = packed.data_ptr<float>();
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t k = 0; k < H; ++k) {
      for (int64_t g = 0; g < 4; ++g) {
        const float* src = w + k * H4 + g * H + p * kUnitBlock;
        std::copy(src, src + kUnitBlock, out + (p * H + k) * 32 + g * kUnitBlock);
      }
    }
  }
  return packed;
}

// exp, sigmoid and tanh of 8 floats: the formulas and constants of _math.h's exp_approx,
// sigmoid and tanh_approx (Cephes), written with intrinsics so they are vectorised for sure.
//
// The clamp keeps NaN: _mm256_max_ps / _mm256_min_ps return their SECOND operand where either
// is NaN, so x goes second. Above kExpOverflow the result is +inf (see _math.h).
RNNKIT_INLINE __m256 exp8(__m256 x_in) {
  const __m256 x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-87.0f), x_in));
  const __m256 n = _mm256_floor_ps(
      _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 e = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  const __m256 overflow = _mm256_cmp_ps(x_in, _mm256_set1_ps(kExpOverflow), _CMP_GT_OQ);
  return _mm256_blendv_ps(e, _mm256_set1_ps(HUGE_VALF), overflow);
}

RNNKIT_INLINE __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

RNNKIT_INLINE __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_andnot_ps(sign, x);
  const __m256 s = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, s), x, x);
  const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
  const __m256 e = exp8(_mm256_mul_ps(two, a));
  const __m256 large_abs = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(e, one)));
  const __m256 large = _mm256_or_ps(large_abs, _mm256_and_ps(sign, x));
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

// Where one row of a step reads and writes.
struct FusedRow {
  const float* h_prev;  // (H)
  const float* x;       // (4H): the input part of z, x_t @ W_x + b
  const float* c_prev;  // (H)
  float* c;             // (H), may equal c_prev
  float* h;             // (H), not h_prev
  float* gates;         // (4H) post-activation, or null (inference)
  float* tanh_c;        // (H), or null (inference)
};

// The cell update of 8 units (from u0) of one row, from their z = h_prev @ W_h (no input part
// yet) for the gates i, f, g, o. x may be the gates row itself (training, input part in it):
// everything is read before anything is written.
template <bool kSave>
RNNKIT_INLINE void cell_update8(__m256 zi, __m256 zf, __m256 zg, __m256 zo, const FusedRow& row,
                                int64_t u0, int64_t H) {
  const float* x = row.x + u0;
  const __m256 i = sigmoid8(_mm256_add_ps(zi, _mm256_loadu_ps(x)));
  const __m256 f = sigmoid8(_mm256_add_ps(zf, _mm256_loadu_ps(x + H)));
  const __m256 g = tanh8(_mm256_add_ps(zg, _mm256_loadu_ps(x + 2 * H)));
  const __m256 o = sigmoid8(_mm256_add_ps(zo, _mm256_loadu_ps(x + 3 * H)));
  const __m256 c = _mm256_fmadd_ps(f, _mm256_loadu_ps(row.c_prev + u0), _mm256_mul_ps(i, g));
  const __m256 tc = tanh8(c);
  _mm256_storeu_ps(row.c + u0, c);
  _mm256_storeu_ps(row.h + u0, _mm256_mul_ps(o, tc));
  if constexpr (kSave) {
    float* G = row.gates + u0;
    _mm256_storeu_ps(G, i);
    _mm256_storeu_ps(G + H, f);
    _mm256_storeu_ps(G + 2 * H, g);
    _mm256_storeu_ps(G + 3 * H, o);
    _mm256_storeu_ps(row.tanh_c + u0, tc);
  }
}

// z of R rows (1 to 3) for one block of 8 units: 4R accumulators (named variables: an array
// of them is kept in memory by GCC), stored at z[r * ldz + gate * 8 + u].
template <int R>
RNNKIT_INLINE void gate_tile(const FusedRow* rows, const float* __restrict block, int64_t H,
                             float* __restrict z, int64_t ldz) {
  static_assert(R >= 1 && R <= 3, "row tiles of 1 to 3 rows");
  if constexpr (R == 1) {  // one row: 4 chains of FMAs would wait on each other; 8, over k
    const float* a = rows[0].h_prev;  // even and odd, keep the units busy
    __m256 e0 = _mm256_setzero_ps(), e1 = e0, e2 = e0, e3 = e0;
    __m256 o0 = e0, o1 = e0, o2 = e0, o3 = e0;
    int64_t k = 0;
    for (; k + 2 <= H; k += 2) {
      const float* w = block + k * 32;
      const __m256 x = _mm256_broadcast_ss(a + k), y = _mm256_broadcast_ss(a + k + 1);
      e0 = _mm256_fmadd_ps(x, _mm256_load_ps(w), e0);
      e1 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 8), e1);
      e2 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 16), e2);
      e3 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 24), e3);
      o0 = _mm256_fmadd_ps(y, _mm256_load_ps(w + 32), o0);
      o1 = _mm256_fmadd_ps(y, _mm256_load_ps(w + 40), o1);
      o2 = _mm256_fmadd_ps(y, _mm256_load_ps(w + 48), o2);
      o3 = _mm256_fmadd_ps(y, _mm256_load_ps(w + 56), o3);
    }
    if (k < H) {
      const float* w = block + k * 32;
      const __m256 x = _mm256_broadcast_ss(a + k);
      e0 = _mm256_fmadd_ps(x, _mm256_load_ps(w), e0);
      e1 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 8), e1);
      e2 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 16), e2);
      e3 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 24), e3);
    }
    _mm256_store_ps(z, _mm256_add_ps(e0, o0));
    _mm256_store_ps(z + 8, _mm256_add_ps(e1, o1));
    _mm256_store_ps(z + 16, _mm256_add_ps(e2, o2));
    _mm256_store_ps(z + 24, _mm256_add_ps(e3, o3));
    return;
  }
  const float* a0 = rows[0].h_prev;
  const float* a1 = rows[R > 1 ? 1 : 0].h_prev;
  const float* a2 = rows[R > 2 ? 2 : 0].h_prev;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
  __m256 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  __m256 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
  for (int64_t k = 0; k < H; ++k) {
    const float* w = block + k * 32;
    const __m256 b0 = _mm256_load_ps(w), b1 = _mm256_load_ps(w + 8),
                 b2 = _mm256_load_ps(w + 16), b3 = _mm256_load_ps(w + 24);
#define RNNKIT_GATE_ROW(r)                                \
    if constexpr (R > r) {                                \
      const __m256 x = _mm256_broadcast_ss(a##r + k);     \
      c##r##0 = _mm256_fmadd_ps(x, b0, c##r##0);          \
      c##r##1 = _mm256_fmadd_ps(x, b1, c##r##1);          \
      c##r##2 = _mm256_fmadd_ps(x, b2, c##r##2);          \
      c##r##3 = _mm256_fmadd_ps(x, b3, c##r##3);          \
    }
    RNNKIT_GATE_ROW(0)
    RNNKIT_GATE_ROW(1)
    RNNKIT_GATE_ROW(2)
#undef RNNKIT_GATE_ROW
  }
#define RNNKIT_STORE_ROW(r)                               \
  if constexpr (R > r) {                                  \
    _mm256_store_ps(z + r * ldz, c##r##0);                \
    _mm256_store_ps(z + r * ldz + 8, c##r##1);            \
    _mm256_store_ps(z + r * ldz + 16, c##r##2);           \
    _mm256_store_ps(z + r * ldz + 24, c##r##3);           \
  }
  RNNKIT_STORE_ROW(0)
  RNNKIT_STORE_ROW(1)
  RNNKIT_STORE_ROW(2)
#undef RNNKIT_STORE_ROW
}

// One step of `count` rows: z = h_prev @ W_h for all of them (blocks outer, row tiles inner),
// into `z` (count x 4H, 32-byte aligned, block layout), then the cell update of every row and
// block. Two passes, not one: the update's long chain of dependent operations (exp, division,
// then tanh of the new c) keeps the CPU waiting when run after each tile, while a pass of
// independent updates keeps its units busy. With kSave, the gates (after their activations)
// and tanh(c) are written too, for BPTT.
template <bool kSave>
void fused_lstm_step(const FusedRow* rows, int64_t count, const at::Tensor& packed, int64_t H,
                     float* __restrict z) {
  const float* W = packed.data_ptr<float>();
  const int64_t H4 = 4 * H, P = H / kUnitBlock;
  for (int64_t p = 0; p < P; ++p) {
    const float* block = W + p * H * 32;
    float* zp = z + p * 32;
    int64_t i = 0;
    for (; i + 3 <= count; i += 3) gate_tile<3>(rows + i, block, H, zp + i * H4, H4);
    if (count - i == 2) gate_tile<2>(rows + i, block, H, zp + i * H4, H4);
    if (count - i == 1) gate_tile<1>(rows + i, block, H, zp + i * H4, H4);
  }
  for (int64_t i = 0; i < count; ++i) {
    const float* zr = z + i * H4;
#pragma GCC unroll 4
    for (int64_t p = 0; p < P; ++p) {
      const float* zb = zr + p * 32;
      cell_update8<kSave>(_mm256_load_ps(zb), _mm256_load_ps(zb + 8), _mm256_load_ps(zb + 16),
                          _mm256_load_ps(zb + 24), rows[i], p * kUnitBlock, H);
    }
  }
}

// --- the backward's product dh_rec = dz @ W_h^T --------------------------------------------

constexpr int64_t kOutBlock = 16;  // outputs (units of dh) per block: two AVX vectors

// Whether the backward's product runs on the micro-kernel below (float32, H % 16 == 0).
inline bool fused_backward_applies(const at::Tensor& W_h) {
  return W_h.scalar_type() == at::kFloat && W_h.size(0) % kOutBlock == 0;
}

// W_h (H, 4H) -> (H / 16, 4H, 16): block q, row k: W_h[16q + u, k], u = 0..15 (W_h^T's
// columns of the block, row by row).
inline at::Tensor pack_transposed_blocks(const at::Tensor& W_h) {
  const int64_t H = W_h.size(0), H4 = 4 * H, Q = H / kOutBlock;
  at::Tensor packed = at::empty({Q, H4, kOutBlock}, W_h.options());
  const float* w = W_h.data_ptr<float>();
  float* out = packed.data_ptr<float>();
  for (int64_t q = 0; q < Q; ++q) {
    for (int64_t u = 0; u < kOutBlock; ++u) {
      const float* src = w + (q * kOutBlock + u) * H4;
      for (int64_t k = 0; k < H4; ++k) out[(q * H4 + k) * kOutBlock + u] = src[k];
    }
  }
  return packed;
}

// C rows (R = 1..6, 16 outputs from the block's first) = A rows (K) @ block (K, 16); rows r
// of A and C at A + r * sa and C + r * sc. 2R accumulators, named.
template <int R>
RNNKIT_INLINE void transposed_tile(const float* A, int64_t sa, const float* __restrict block,
                                   int64_t K, float* C, int64_t sc) {
  static_assert(R >= 1 && R <= 6, "row tiles of 1 to 6 rows");
  __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
  __m256 a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0;
  for (int64_t k = 0; k < K; ++k) {
    const __m256 w0 = _mm256_load_ps(block + k * kOutBlock);
    const __m256 w1 = _mm256_load_ps(block + k * kOutBlock + 8);
    __m256 x = _mm256_broadcast_ss(A + k);
    a0 = _mm256_fmadd_ps(x, w0, a0);
    b0 = _mm256_fmadd_ps(x, w1, b0);
#define RNNKIT_ROW(r)                                   \
    if constexpr (R > r) {                              \
      x = _mm256_broadcast_ss(A + r * sa + k);          \
      a##r = _mm256_fmadd_ps(x, w0, a##r);              \
      b##r = _mm256_fmadd_ps(x, w1, b##r);              \
    }
    RNNKIT_ROW(1)
    RNNKIT_ROW(2)
    RNNKIT_ROW(3)
    RNNKIT_ROW(4)
    RNNKIT_ROW(5)
#undef RNNKIT_ROW
  }
  _mm256_storeu_ps(C, a0);
  _mm256_storeu_ps(C + 8, b0);
#define RNNKIT_STORE(r)                                 \
  if constexpr (R > r) {                                \
    _mm256_storeu_ps(C + r * sc, a##r);                 \
    _mm256_storeu_ps(C + r * sc + 8, b##r);             \
  }
  RNNKIT_STORE(1)
  RNNKIT_STORE(2)
  RNNKIT_STORE(3)
  RNNKIT_STORE(4)
  RNNKIT_STORE(5)
#undef RNNKIT_STORE
}

// dh (count rows of H, row i at dh + i * s_dh) = dz (count rows of 4H, at dz + i * s_dz)
// @ W_h^T, W_h packed by pack_transposed_blocks.
inline void transposed_product(const float* dz, int64_t s_dz, int64_t count,
                               const at::Tensor& packed, int64_t H, float* dh, int64_t s_dh) {
  const float* W = packed.data_ptr<float>();
  const int64_t H4 = 4 * H;
  for (int64_t q = 0; q < H / kOutBlock; ++q) {
    const float* block = W + q * H4 * kOutBlock;
    float* out = dh + q * kOutBlock;
    int64_t i = 0;
    for (; i + 6 <= count; i += 6) {
      transposed_tile<6>(dz + i * s_dz, s_dz, block, H4, out + i * s_dh, s_dh);
    }
    const float* a = dz + i * s_dz;
    float* c = out + i * s_dh;
    switch (count - i) {
      case 5: transposed_tile<5>(a, s_dz, block, H4, c, s_dh); break;
      case 4: transposed_tile<4>(a, s_dz, block, H4, c, s_dh); break;
      case 3: transposed_tile<3>(a, s_dz, block, H4, c, s_dh); break;
      case 2: transposed_tile<2>(a, s_dz, block, H4, c, s_dh); break;
      case 1: transposed_tile<1>(a, s_dz, block, H4, c, s_dh); break;
      default: break;
    }
  }
}

}  // namespace rnnkit

#endif  // __AVX2__ && __FMA__
