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

// Beyond this, exp overflows float: exp_approx returns +inf, as std::exp and torch.exp do.
constexpr float kExpOverflow = 88.72283935546875f;  // ln(FLT_MAX), rounded down to a float

// exp(x) for float, Cephes expf: x = n ln2 + r, |r| <= ln2 / 2, exp(r) by a degree-6
// polynomial, 2^n from the exponent bits. x is clamped to where 2^n is a normal float; the
// clamp keeps NaN (x is the operand returned when the comparison is false, so NaN goes on
// through the polynomial), and above kExpOverflow the result is +inf, so that sigmoid(-inf)
// is 0 and tanh(+-inf) is +-1 exactly, as in torch.
RNNKIT_INLINE float exp_approx(float x) {
  const float in = x;
  x = x < -87.0f ? -87.0f : x;  // NaN < -87 is false: NaN stays
  x = x > 88.0f ? 88.0f : x;
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
  // n is NaN when x is: its bits then do not matter, p is NaN; avoid the undefined cast
  const std::int32_t bits = ((n == n ? static_cast<std::int32_t>(n) : 0) + 127) << 23;
  const float e = p * std::bit_cast<float>(bits);
  return in > kExpOverflow ? HUGE_VALF : e;
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
