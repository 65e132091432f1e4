// The LSTM micro-kernels (_lstm_simd.h) for AVX-512 (F, DQ, BW, VL): 16 lanes, 32 registers.
// Compiled for that instruction set whatever the extension's flags; run only where the CPU has
// it (lstm.cpp, simd_for), so a build on any x86 machine holds it.
#include "_lstm_simd_api.h"

#if defined(__x86_64__) || defined(__i386__)
// GCC 12's AVX-512 headers warn that their _mm512_undefined_* values "may be used
// uninitialized" once inlined at -O3 -Wall (GCC bug 105593, a false positive: those values
// are undefined on purpose); not a warning about this code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>  // before the target pragma: its own functions carry their targets

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,fma")
#define RNNKIT_SIMD_WIDTH 16
#define RNNKIT_SIMD_NAME "avx512"
#include "_lstm_simd.h"
#pragma GCC pop_options
#pragma GCC diagnostic pop

const rnnkit::LstmSimd* rnnkit::lstm_simd_avx512() { return &kTable; }
#else
const rnnkit::LstmSimd* rnnkit::lstm_simd_avx512() { return nullptr; }
#endif
