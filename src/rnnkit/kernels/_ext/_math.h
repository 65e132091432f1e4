// Element functions for the fused step loops: sigmoid and tanh.
//
// float: branch-free polynomial formulas (Cephes's expf and tanhf) that the compiler
// vectorises inside the loops over a row, accurate to about 2e-7 relative (the loops are
// tested against torch to 1e-5). double: the C library's functions (exact to rounding; used
// by gradcheck, not timed).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

// Inlined into the row loops, or those loops are not vectorised.
#define RNNKIT_INLINE inline __attribute__((always_inline))

namespace rnnkit {

// exp(x) for float, Cephes expf: x = n ln2 + r, |r| <= ln2 / 2, exp(r) by a degree-6
// polynomial, 2^n from the exponent bits. x is clamped to where 2^n is a normal float.
RNNKIT_INLINE float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

RNNKIT_INLINE float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// tanh for float, Cephes tanhf: an odd polynomial for |x| < 0.625, where 1 - 2 / (e^2x + 1)
// would lose relative accuracy, else that formula. Both are computed and one is selected,
// so the loop stays branch-free.
RNNKIT_INLINE float tanh_approx(float x) {
  const float a = std::fabs(x);
  const float s = x * x;
  float p = -5.70498872745e-3f;
  p = p * s + 2.06390887954e-2f;
  p = p * s - 5.37397155531e-2f;
  p = p * s + 1.33314422036e-1f;
  p = p * s - 3.33332819422e-1f;
  const float small = p * s * x + x;
  const float large = std::copysign(1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f), x);
  return a < 0.625f ? small : large;
}

RNNKIT_INLINE float tanh_(float x) { return tanh_approx(x); }
RNNKIT_INLINE double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
RNNKIT_INLINE double tanh_(double x) { return std::tanh(x); }

}  // namespace rnnkit
