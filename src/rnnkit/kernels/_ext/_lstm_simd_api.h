// What lstm.cpp sees of the LSTM micro-kernels (_lstm_simd.h): one table of functions per
// instruction set built into the extension, plain pointers only (the kernels' translation
// units include no ATen, see _simd.h).
#pragma once

#include <cstdint>

namespace rnnkit {

// Where one row of a step reads and writes (float32).
struct FusedRow {
  const float* h_prev;  // (H)
  const float* x;       // (4H): the input part of z, x_t @ W_x + b
  const float* c_prev;  // (H)
  float* c;             // (H), may equal c_prev
  float* h;             // (H), not h_prev
  float* gates;         // (4H) post-activation, or null (inference)
  float* tanh_c;        // (H), or null (inference)
};

// The micro-kernels of one instruction set, for an LSTM of any H (a last, partial block of
// units runs on masked loads and stores).
struct LstmSimd {
  const char* isa;  // "avx2", "avx512"
  int64_t lanes;    // floats per vector
  // W_h (H, 4H) re-laid in blocks of `lanes` units, the four gates side by side: how many
  // floats, and the re-laying
  int64_t (*gate_blocks_floats)(int64_t H);
  void (*pack_gate_blocks)(const float* W_h, int64_t H, float* out);
  // floats of z scratch per row of a step (64-byte aligned rows)
  int64_t (*z_floats)(int64_t H);
  // one step of `count` rows: z = h_prev @ W_h fused with the gates; with `save`, the gates
  // (after their activations) and tanh(c) are written for BPTT
  void (*step)(const FusedRow* rows, int64_t count, const float* packed, int64_t H, float* z,
               bool save);
  // W_h^T in blocks of 2 * lanes outputs, for the backward's dh = dz @ W_h^T
  int64_t (*transposed_blocks_floats)(int64_t H);
  void (*pack_transposed_blocks)(const float* W_h, int64_t H, float* out);
  // dh (count rows of H, row i at dh + i * s_dh) = dz (count rows of 4H, at dz + i * s_dz)
  // @ W_h^T
  void (*transposed_product)(const float* dz, int64_t s_dz, int64_t count, const float* packed,
                             int64_t H, float* dh, int64_t s_dh);
};

// The tables built into this extension; null where that instruction set was not compiled
// (not an x86 compiler). Whether the CPU runs it is lstm.cpp's question (simd_for).
const LstmSimd* lstm_simd_avx2();
const LstmSimd* lstm_simd_avx512();

}  // namespace rnnkit
