// The LSTM micro-kernels (_lstm_simd.h) for AVX2 + FMA: 8 lanes. Compiled for that instruction
// set whatever the extension's flags; run only where the CPU has it (lstm.cpp, simd_for).
#include "_lstm_simd_api.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>  // before the target pragma: its own functions carry their targets

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define RNNKIT_SIMD_WIDTH 8
#define RNNKIT_SIMD_NAME "avx2"
#include "_lstm_simd.h"
#pragma GCC pop_options

const rnnkit::LstmSimd* rnnkit::lstm_simd_avx2() { return &kTable; }
#else
const rnnkit::LstmSimd* rnnkit::lstm_simd_avx2() { return nullptr; }
#endif
