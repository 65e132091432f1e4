// The LSTM micro-kernels, written once over the vector abstraction of _simd.h (`Vec`, W float
// lanes): compiled once per instruction set (lstm_simd_avx2.cpp: W = 8, lstm_simd_avx512.cpp:
// W = 16), each a table of functions (_lstm_simd_api.h) that lstm.cpp picks at run time.
//
// Forward step: h_prev @ W_h and the gate math fused, so z of a unit never goes to memory
// between the product and the cell update of the same pass.
//
// W_h (H, 4H), packed [i | f | g | o], is re-laid in blocks of W units: block p holds, for
// each k, the 4W weights W_h[k, gate * H + W p + u] (gate = i, f, g, o; u = 0..W-1),
// contiguous; the last block, where W does not divide H, is padded with zeros. A tile of R
// rows times one block is then 4R vector accumulators (R = 3 fills 12 of AVX2's 16 registers,
// R = 6 24 of AVX-512's 32): for each k, four loads of the block and one broadcast of h_prev
// per row. Blocks are the outer loop, so each block (W * 2 KB at H = 128) is read from L2 once
// per step and then reused from L1 by every row tile. Then one pass of cell updates over the
// rows and blocks (the last block's on its first H - W p lanes, masked loads and stores).
//
// The new h goes to a buffer other than h_prev (every block reads all of h_prev); c may be
// updated in place (each unit reads and writes its own c).
//
// Backward: dh = dz @ W_h^T on W_h^T re-laid in blocks of 2W outputs (zero-padded likewise),
// tiles of up to 6 rows x 2W outputs.
#pragma once

#include <cstdint>

#include "_lstm_simd_api.h"
#include "_simd.h"

namespace rnnkit {
namespace {

using F = Vec::F;
constexpr int64_t kW = Vec::W;
// rows per tile of the forward product: 4 accumulators each, and a few registers to spare
constexpr int kGateRows = Vec::kRegisters >= 32 ? 6 : 3;
constexpr float kExpOverflow = 88.72283935546875f;  // ln(FLT_MAX) rounded down, as _math.h

RNNKIT_INLINE int64_t blocks_of(int64_t n, int64_t width) { return (n + width - 1) / width; }

// --- exp, sigmoid, tanh: _math.h's formulas (Cephes) and constants, W lanes at a time ------

// The clamp keeps NaN: min / max return their second operand where either is NaN, so x goes
// second. Above kExpOverflow the result is +inf (see _math.h).
RNNKIT_INLINE F exp_v(F x_in) {
  const F x = Vec::min(Vec::set1(88.0f), Vec::max(Vec::set1(-87.0f), x_in));
  const F n = Vec::floor(Vec::fmadd(x, Vec::set1(1.44269504088896341f), Vec::set1(0.5f)));
  F r = Vec::fnmadd(n, Vec::set1(0.693359375f), x);
  r = Vec::fnmadd(n, Vec::set1(-2.12194440e-4f), r);
  F p = Vec::set1(1.9875691500e-4f);
  p = Vec::fmadd(p, r, Vec::set1(1.3981999507e-3f));
  p = Vec::fmadd(p, r, Vec::set1(8.3334519073e-3f));
  p = Vec::fmadd(p, r, Vec::set1(4.1665795894e-2f));
  p = Vec::fmadd(p, r, Vec::set1(1.6666665459e-1f));
  p = Vec::fmadd(p, r, Vec::set1(5.0000001201e-1f));
  p = Vec::fmadd(Vec::mul(p, r), r, Vec::add(r, Vec::set1(1.0f)));  // p r^2 + r + 1
  const F e = Vec::mul(p, Vec::pow2(n));
  return Vec::select(Vec::gt(x_in, Vec::set1(kExpOverflow)), Vec::set1(__builtin_huge_valf()), e);
}

RNNKIT_INLINE F sigmoid_v(F x) {
  const F one = Vec::set1(1.0f);
  return Vec::div(one, Vec::add(one, exp_v(Vec::sub(Vec::zero(), x))));  // 1 / (1 + e^-x)
}

// An odd polynomial for |x| < 0.625, else sign(x) (1 - 2 / (e^2|x| + 1)); both computed, one
// selected (branch-free).
RNNKIT_INLINE F tanh_v(F x) {
  const F a = Vec::abs(x);
  const F s = Vec::mul(x, x);
  F p = Vec::set1(-5.70498872745e-3f);
  p = Vec::fmadd(p, s, Vec::set1(2.06390887954e-2f));
  p = Vec::fmadd(p, s, Vec::set1(-5.37397155531e-2f));
  p = Vec::fmadd(p, s, Vec::set1(1.33314422036e-1f));
  p = Vec::fmadd(p, s, Vec::set1(-3.33332819422e-1f));
  const F small = Vec::fmadd(Vec::mul(p, s), x, x);  // x + p s x
  const F one = Vec::set1(1.0f), two = Vec::set1(2.0f);
  const F e = exp_v(Vec::mul(two, a));
  const F large = Vec::with_sign(Vec::sub(one, Vec::div(two, Vec::add(e, one))), x);
  return Vec::select(Vec::lt(a, Vec::set1(0.625f)), small, large);
}

// --- loads and stores of a block's units: all W lanes, or the first n (the last block) ------

template <bool kFull>
RNNKIT_INLINE F load_units(const float* p, int64_t n) {
  if constexpr (kFull) {
    return Vec::loadu(p);
  } else {
    return Vec::load_n(p, n);
  }
}

template <bool kFull>
RNNKIT_INLINE void store_units(float* p, F v, int64_t n) {
  if constexpr (kFull) {
    Vec::storeu(p, v);
  } else {
    Vec::store_n(p, v, n);
  }
}

// --- forward ----------------------------------------------------------------------------------

int64_t gate_blocks_floats(int64_t H) { return blocks_of(H, kW) * H * 4 * kW; }

int64_t z_floats(int64_t H) { return blocks_of(H, kW) * 4 * kW; }

// W_h (H, 4H) -> (P, H, 4W): block p, row k, [i f g o] x W units (zeros past unit H).
void pack_gate_blocks(const float* W_h, int64_t H, float* out) {
  const int64_t P = blocks_of(H, kW);
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t k = 0; k < H; ++k) {
      const float* src = W_h + k * 4 * H;  // row k of W_h
      float* dst = out + (p * H + k) * 4 * kW;
      for (int64_t g = 0; g < 4; ++g) {
        for (int64_t u = 0; u < kW; ++u) {
          const int64_t unit = p * kW + u;
          dst[g * kW + u] = unit < H ? src[g * H + unit] : 0.0f;
        }
      }
    }
  }
}

// The cell update of the n units (n = W but in the last block) from u0 of one row, from their
// z = h_prev @ W_h (no input part yet) for the gates i, f, g, o:
//
//   i, f, g, o = sigmoid(z_i + x_i), sigmoid(z_f + x_f), tanh(z_g + x_g), sigmoid(z_o + x_o)
//   c = f * c_prev + i * g
//   h = o * tanh(c)
//
// x may be the gates row itself (training, input part in it): everything is read before
// anything is written. kSave: the gates and tanh(c) are written too, for BPTT.
template <bool kSave, bool kFull>
RNNKIT_INLINE void cell_update(F zi, F zf, F zg, F zo, const FusedRow& row, int64_t u0, int64_t H,
                               int64_t n) {
  const float* x = row.x + u0;
  const F i = sigmoid_v(Vec::add(zi, load_units<kFull>(x, n)));
  const F f = sigmoid_v(Vec::add(zf, load_units<kFull>(x + H, n)));
  const F g = tanh_v(Vec::add(zg, load_units<kFull>(x + 2 * H, n)));
  const F o = sigmoid_v(Vec::add(zo, load_units<kFull>(x + 3 * H, n)));
  const F c = Vec::fmadd(f, load_units<kFull>(row.c_prev + u0, n), Vec::mul(i, g));
  const F tc = tanh_v(c);
  store_units<kFull>(row.c + u0, c, n);
  store_units<kFull>(row.h + u0, Vec::mul(o, tc), n);
  if constexpr (kSave) {
    float* G = row.gates + u0;
    store_units<kFull>(G, i, n);
    store_units<kFull>(G + H, f, n);
    store_units<kFull>(G + 2 * H, g, n);
    store_units<kFull>(G + 3 * H, o, n);
    store_units<kFull>(row.tanh_c + u0, tc, n);
  }
}

// z of R rows (1 to 6) for one block of W units: 4R accumulators (named variables: an array
// of them is kept in memory by GCC), stored at z[r * ldz + gate * W + u].
template <int R>
RNNKIT_INLINE void gate_tile(const FusedRow* rows, const float* __restrict block, int64_t H,
                             float* __restrict z, int64_t ldz) {
  static_assert(R >= 1 && R <= 6, "row tiles of 1 to 6 rows");
  constexpr int64_t B = 4 * kW;  // one k of the block
  if constexpr (R == 1) {  // one row: 4 chains of FMAs would wait on each other; 8, over k
    const float* a = rows[0].h_prev;  // even and odd, keep the units busy
    F e0 = Vec::zero(), e1 = e0, e2 = e0, e3 = e0;
    F o0 = e0, o1 = e0, o2 = e0, o3 = e0;
    int64_t k = 0;
    for (; k + 2 <= H; k += 2) {
      const float* w = block + k * B;
      const F x = Vec::broadcast(a + k), y = Vec::broadcast(a + k + 1);
      e0 = Vec::fmadd(x, Vec::load(w), e0);
      e1 = Vec::fmadd(x, Vec::load(w + kW), e1);
      e2 = Vec::fmadd(x, Vec::load(w + 2 * kW), e2);
      e3 = Vec::fmadd(x, Vec::load(w + 3 * kW), e3);
      o0 = Vec::fmadd(y, Vec::load(w + B), o0);
      o1 = Vec::fmadd(y, Vec::load(w + B + kW), o1);
      o2 = Vec::fmadd(y, Vec::load(w + B + 2 * kW), o2);
      o3 = Vec::fmadd(y, Vec::load(w + B + 3 * kW), o3);
    }
    if (k < H) {
      const float* w = block + k * B;
      const F x = Vec::broadcast(a + k);
      e0 = Vec::fmadd(x, Vec::load(w), e0);
      e1 = Vec::fmadd(x, Vec::load(w + kW), e1);
      e2 = Vec::fmadd(x, Vec::load(w + 2 * kW), e2);
      e3 = Vec::fmadd(x, Vec::load(w + 3 * kW), e3);
    }
    Vec::store(z, Vec::add(e0, o0));
    Vec::store(z + kW, Vec::add(e1, o1));
    Vec::store(z + 2 * kW, Vec::add(e2, o2));
    Vec::store(z + 3 * kW, Vec::add(e3, o3));
    return;
  }
  // rows past R read row 0's h_prev: their accumulators are never stored, and dropped
  const float* a0 = rows[0].h_prev;
  const float* a1 = rows[R > 1 ? 1 : 0].h_prev;
  const float* a2 = rows[R > 2 ? 2 : 0].h_prev;
  const float* a3 = rows[R > 3 ? 3 : 0].h_prev;
  const float* a4 = rows[R > 4 ? 4 : 0].h_prev;
  const float* a5 = rows[R > 5 ? 5 : 0].h_prev;
  F c00 = Vec::zero(), c01 = c00, c02 = c00, c03 = c00;
  F c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  F c20 = c00, c21 = c00, c22 = c00, c23 = c00;
  F c30 = c00, c31 = c00, c32 = c00, c33 = c00;
  F c40 = c00, c41 = c00, c42 = c00, c43 = c00;
  F c50 = c00, c51 = c00, c52 = c00, c53 = c00;
  for (int64_t k = 0; k < H; ++k) {
    const float* w = block + k * B;
    const F b0 = Vec::load(w), b1 = Vec::load(w + kW), b2 = Vec::load(w + 2 * kW),
            b3 = Vec::load(w + 3 * kW);
#define RNNKIT_GATE_ROW(r)                    \
  if constexpr (R > r) {                      \
    const F x = Vec::broadcast(a##r + k);     \
    c##r##0 = Vec::fmadd(x, b0, c##r##0);     \
    c##r##1 = Vec::fmadd(x, b1, c##r##1);     \
    c##r##2 = Vec::fmadd(x, b2, c##r##2);     \
    c##r##3 = Vec::fmadd(x, b3, c##r##3);     \
  }
    RNNKIT_GATE_ROW(0)
    RNNKIT_GATE_ROW(1)
    RNNKIT_GATE_ROW(2)
    RNNKIT_GATE_ROW(3)
    RNNKIT_GATE_ROW(4)
    RNNKIT_GATE_ROW(5)
#undef RNNKIT_GATE_ROW
  }
#define RNNKIT_STORE_ROW(r)                         \
  if constexpr (R > r) {                            \
    Vec::store(z + r * ldz, c##r##0);               \
    Vec::store(z + r * ldz + kW, c##r##1);          \
    Vec::store(z + r * ldz + 2 * kW, c##r##2);      \
    Vec::store(z + r * ldz + 3 * kW, c##r##3);      \
  }
  RNNKIT_STORE_ROW(0)
  RNNKIT_STORE_ROW(1)
  RNNKIT_STORE_ROW(2)
  RNNKIT_STORE_ROW(3)
  RNNKIT_STORE_ROW(4)
  RNNKIT_STORE_ROW(5)
#undef RNNKIT_STORE_ROW
}

// The rows left after the full tiles: 1 to kGateRows - 1 of them.
RNNKIT_INLINE void gate_tile_rest(int64_t rest, const FusedRow* rows, const float* block,
                                  int64_t H, float* z, int64_t ldz) {
  switch (rest) {
    case 1: gate_tile<1>(rows, block, H, z, ldz); break;
    case 2: gate_tile<2>(rows, block, H, z, ldz); break;
    case 3: if constexpr (kGateRows > 3) gate_tile<3>(rows, block, H, z, ldz); break;
    case 4: if constexpr (kGateRows > 4) gate_tile<4>(rows, block, H, z, ldz); break;
    case 5: if constexpr (kGateRows > 5) gate_tile<5>(rows, block, H, z, ldz); break;
    default: break;
  }
}

// One step of `count` rows: z = h_prev @ W_h for all of them (blocks outer, row tiles inner),
// into `z` (count rows of z_floats(H), 64-byte aligned, block layout), then the cell update of
// every row and block. Two passes, not one: the update's long chain of dependent operations
// (exp, division, then tanh of the new c) keeps the CPU waiting when run after each tile,
// while a pass of independent updates keeps its units busy.
template <bool kSave>
void fused_step(const FusedRow* rows, int64_t count, const float* packed, int64_t H,
                float* __restrict z) {
  const int64_t P = blocks_of(H, kW), ldz = z_floats(H);
  for (int64_t p = 0; p < P; ++p) {
    const float* block = packed + p * H * 4 * kW;
    float* zp = z + p * 4 * kW;
    int64_t i = 0;
    for (; i + kGateRows <= count; i += kGateRows) {
      gate_tile<kGateRows>(rows + i, block, H, zp + i * ldz, ldz);
    }
    gate_tile_rest(count - i, rows + i, block, H, zp + i * ldz, ldz);
  }
  const int64_t full = H / kW, tail = H - full * kW;  // full blocks, units of the last
  for (int64_t i = 0; i < count; ++i) {
    const float* zr = z + i * ldz;
#pragma GCC unroll 4
    for (int64_t p = 0; p < full; ++p) {
      const float* zb = zr + p * 4 * kW;
      cell_update<kSave, true>(Vec::load(zb), Vec::load(zb + kW), Vec::load(zb + 2 * kW),
                               Vec::load(zb + 3 * kW), rows[i], p * kW, H, kW);
    }
    if (tail > 0) {
      const float* zb = zr + full * 4 * kW;
      cell_update<kSave, false>(Vec::load(zb), Vec::load(zb + kW), Vec::load(zb + 2 * kW),
                                Vec::load(zb + 3 * kW), rows[i], full * kW, H, tail);
    }
  }
}

void step(const FusedRow* rows, int64_t count, const float* packed, int64_t H, float* z,
          bool save) {
  if (save) {
    fused_step<true>(rows, count, packed, H, z);
  } else {
    fused_step<false>(rows, count, packed, H, z);
  }
}

// --- the backward's product dh = dz @ W_h^T ----------------------------------------------------

constexpr int64_t kOut = 2 * kW;  // outputs (units of dh) per block: two vectors

int64_t transposed_blocks_floats(int64_t H) { return blocks_of(H, kOut) * 4 * H * kOut; }

// W_h (H, 4H) -> (Q, 4H, 2W): block q, row k: W_h[2W q + u, k], u = 0..2W-1 (W_h^T's columns
// of the block, row by row; zeros past unit H).
void pack_transposed_blocks(const float* W_h, int64_t H, float* out) {
  const int64_t H4 = 4 * H, Q = blocks_of(H, kOut);
  for (int64_t q = 0; q < Q; ++q) {
    for (int64_t u = 0; u < kOut; ++u) {
      const int64_t unit = q * kOut + u;
      const float* src = W_h + unit * H4;  // row `unit` of W_h
      for (int64_t k = 0; k < H4; ++k) out[(q * H4 + k) * kOut + u] = unit < H ? src[k] : 0.0f;
    }
  }
}

// The n outputs (0 < n <= 2W) of one row's block: a holds the first W, b the next.
RNNKIT_INLINE void store_outputs(float* C, F a, F b, int64_t n) {
  if (n == kOut) {
    Vec::storeu(C, a);
    Vec::storeu(C + kW, b);
  } else if (n > kW) {
    Vec::storeu(C, a);
    Vec::store_n(C + kW, b, n - kW);
  } else if (n == kW) {
    Vec::storeu(C, a);
  } else {
    Vec::store_n(C, a, n);
  }
}

// C rows (R = 1..6, n outputs from the block's first) = A rows (K) @ block (K, 2W); rows r of
// A and C at A + r * sa and C + r * sc. 2R accumulators, named.
template <int R>
RNNKIT_INLINE void transposed_tile(const float* A, int64_t sa, const float* __restrict block,
                                   int64_t K, float* C, int64_t sc, int64_t n) {
  static_assert(R >= 1 && R <= 6, "row tiles of 1 to 6 rows");
  F a0 = Vec::zero(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
  F a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0;
  for (int64_t k = 0; k < K; ++k) {
    const F w0 = Vec::load(block + k * kOut);
    const F w1 = Vec::load(block + k * kOut + kW);
#define RNNKIT_ROW(r)                         \
  if constexpr (R > r) {                      \
    const F x = Vec::broadcast(A + r * sa + k); \
    a##r = Vec::fmadd(x, w0, a##r);           \
    b##r = Vec::fmadd(x, w1, b##r);           \
  }
    RNNKIT_ROW(0)
    RNNKIT_ROW(1)
    RNNKIT_ROW(2)
    RNNKIT_ROW(3)
    RNNKIT_ROW(4)
    RNNKIT_ROW(5)
#undef RNNKIT_ROW
  }
#define RNNKIT_STORE(r) \
  if constexpr (R > r) store_outputs(C + r * sc, a##r, b##r, n);
  RNNKIT_STORE(0)
  RNNKIT_STORE(1)
  RNNKIT_STORE(2)
  RNNKIT_STORE(3)
  RNNKIT_STORE(4)
  RNNKIT_STORE(5)
#undef RNNKIT_STORE
}

void transposed_product(const float* dz, int64_t s_dz, int64_t count, const float* packed,
                        int64_t H, float* dh, int64_t s_dh) {
  const int64_t H4 = 4 * H;
  for (int64_t q = 0; q < blocks_of(H, kOut); ++q) {
    const float* block = packed + q * H4 * kOut;
    const int64_t n = H - q * kOut < kOut ? H - q * kOut : kOut;  // outputs of this block
    float* out = dh + q * kOut;
    int64_t i = 0;
    for (; i + 6 <= count; i += 6) {
      transposed_tile<6>(dz + i * s_dz, s_dz, block, H4, out + i * s_dh, s_dh, n);
    }
    const float* a = dz + i * s_dz;
    float* c = out + i * s_dh;
    switch (count - i) {
      case 5: transposed_tile<5>(a, s_dz, block, H4, c, s_dh, n); break;
      case 4: transposed_tile<4>(a, s_dz, block, H4, c, s_dh, n); break;
      case 3: transposed_tile<3>(a, s_dz, block, H4, c, s_dh, n); break;
      case 2: transposed_tile<2>(a, s_dz, block, H4, c, s_dh, n); break;
      case 1: transposed_tile<1>(a, s_dz, block, H4, c, s_dh, n); break;
      default: break;
    }
  }
}

// This instruction set's table (lstm_simd_avx2.cpp / lstm_simd_avx512.cpp return it).
constexpr LstmSimd kTable = {
    RNNKIT_SIMD_NAME,       kW,   &gate_blocks_floats,       &pack_gate_blocks,
    &z_floats,              &step, &transposed_blocks_floats, &pack_transposed_blocks,
    &transposed_product,
};

}  // namespace
}  // namespace rnnkit
