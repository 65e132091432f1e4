// What the step loops of every cell share: the split of a batch's rows over threads, the GEMM
// of a step, argument checks.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>

namespace rnnkit {

// Rows (batch entries) per task when a step's pass is split over threads. A step has N rows;
// below this many rows per thread the fork/join costs more than it saves.
constexpr int64_t kRowsPerTask = 16;

// f(n) for every row n of a step, split over torch's intra-op threads.
template <typename F>
void for_rows(int64_t N, const F& f) {
  at::parallel_for(0, N, kRowsPerTask, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) f(n);
  });
}

// Fewest rows a thread's share gets (for_strided_chunks): below it the GEMMs are too thin to pay.
constexpr int64_t kMinChunkRows = 8;

// MKL told to use a fixed thread count would start threads of its own inside a chunk: each
// chunk holds it to one (weak: absent without MKL).
extern "C" int MKL_Set_Num_Threads_Local(int) __attribute__((weak));

// How many threads' shares for_strided_chunks makes of N rows.
inline int64_t chunk_count(int64_t N) {
  const int64_t threads = at::in_parallel_region() ? 1 : at::get_num_threads();
  return std::max<int64_t>(1, std::min(threads, N / kMinChunkRows));
}

// f(first, stride) for each intra-op thread: the thread's rows are first, first + stride, ...
// (dealt in turn, so rows sorted by their work share it evenly), each run through every step
// on its own thread. The rows of a batch never meet inside a recurrent layer, so a chunk needs
// no fork/join per step, and its per-step GEMMs (gemm_rm, called inside the parallel region)
// run single-threaded on their thread.
template <typename F>
void for_strided_chunks(int64_t N, const F& f) {
  const int64_t chunks = chunk_count(N);
  if (chunks == 1) {
    f(int64_t{0}, int64_t{1});
    return;
  }
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    const int before = MKL_Set_Num_Threads_Local ? MKL_Set_Num_Threads_Local(1) : 0;
    for (int64_t k = begin; k < end; ++k) f(k, chunks);
    if (MKL_Set_Num_Threads_Local) MKL_Set_Num_Threads_Local(before);
  });
}

// The Fortran BLAS that torch's CPU library exports (MKL in the x86 wheels). Weak: where torch
// was built without them they are null, and gemm_rm goes through ATen instead.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
            const float*, const int*, const float*, const int*, const float*, float*,
            const int*) __attribute__((weak));
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*,
            const double*, const int*, const double*, const int*, const double*, double*,
            const int*) __attribute__((weak));
}

template <typename S>
struct Blas;
template <>
struct Blas<float> {
  static constexpr auto gemm = &sgemm_;
};
template <>
struct Blas<double> {
  static constexpr auto gemm = &dgemm_;
};

// Fewest rows for which gemm_rm calls the BLAS; thinner products (one review at a time) run
// the loop below, which avoids the BLAS call's fixed cost (several microseconds a step).
constexpr int64_t kBlasMinRows = 5;

// Row-major C (M, Nc) = A (M, K) @ B (K, Nc) + beta * C, for a few rows: per row, four rows of
// B at a time are added into C's row, which stays in L1.
template <typename S>
inline void thin_gemm(int64_t M, int64_t Nc, int64_t K, const S* A, int64_t lda, const S* B,
                      int64_t ldb, S beta, S* C, int64_t ldc) {
  for (int64_t m = 0; m < M; ++m) {
    S* __restrict c = C + m * ldc;
    const S* a = A + m * lda;
    if (beta == S(0)) {
      for (int64_t n = 0; n < Nc; ++n) c[n] = S(0);
    } else if (beta != S(1)) {
      for (int64_t n = 0; n < Nc; ++n) c[n] *= beta;
    }
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
      const S a0 = a[k], a1 = a[k + 1], a2 = a[k + 2], a3 = a[k + 3];
      const S* __restrict b0 = B + k * ldb;
      const S* __restrict b1 = b0 + ldb;
      const S* __restrict b2 = b1 + ldb;
      const S* __restrict b3 = b2 + ldb;
      for (int64_t n = 0; n < Nc; ++n) c[n] += a0 * b0[n] + a1 * b1[n] + a2 * b2[n] + a3 * b3[n];
    }
    for (; k < K; ++k) {
      const S ak = a[k];
      const S* __restrict bk = B + k * ldb;
      for (int64_t n = 0; n < Nc; ++n) c[n] += ak * bk[n];
    }
  }
}

// Row-major C (M, Nc) = A (M, K) @ op(B) + beta * C, op(B) = B (K, Nc) or, with transpose_b,
// B^T for B stored (Nc, K); leading dimensions are row strides. Called inside
// for_strided_chunks' parallel region, the BLAS runs single-threaded on the calling thread.
template <typename S>
inline void gemm_rm(int64_t M, int64_t Nc, int64_t K, const S* A, int64_t lda, const S* B,
                    int64_t ldb, bool transpose_b, S beta, S* C, int64_t ldc) {
  if (M == 0) return;
  if (M < kBlasMinRows && !transpose_b) {
    thin_gemm<S>(M, Nc, K, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (Blas<S>::gemm != nullptr) {
    // row-major C = A op(B)  <=>  column-major C^T = op(B)^T A^T
    const char ta = transpose_b ? 'T' : 'N', tb = 'N';
    const int m = static_cast<int>(Nc), n = static_cast<int>(M), k = static_cast<int>(K);
    const int l_b = static_cast<int>(ldb), l_a = static_cast<int>(lda), l_c = static_cast<int>(ldc);
    const S one = S(1);
    Blas<S>::gemm(&ta, &tb, &m, &n, &k, &one, B, &l_b, A, &l_a, &beta, C, &l_c);
    return;
  }
  const auto opts = at::TensorOptions().dtype(c10::CppTypeToScalarType<S>::value);
  const at::Tensor a = at::from_blob(const_cast<S*>(A), {M, K}, {lda, 1}, opts);
  const at::Tensor b = transpose_b ? at::from_blob(const_cast<S*>(B), {Nc, K}, {ldb, 1}, opts).t()
                                   : at::from_blob(const_cast<S*>(B), {K, Nc}, {ldb, 1}, opts);
  at::Tensor c = at::from_blob(C, {M, Nc}, {ldc, 1}, opts);
  if (beta == S(0)) {
    at::mm_out(c, a, b);
  } else {
    c.addmm_(a, b);
  }
}

inline void check_input(const at::Tensor& t, const at::Tensor& like, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == like.scalar_type(), "rnnkit_ext: `",
              name, "` expected a CPU tensor of dtype ", like.scalar_type(), ", received ",
              t.scalar_type(), " on ", t.device());
}

// `start` (N,): non-decreasing first real steps in [0, T].
inline void check_start_values(const at::Tensor& start, int64_t N, int64_t T) {
  TORCH_CHECK(start.scalar_type() == at::kLong && start.is_contiguous() && start.dim() == 1 &&
                  start.size(0) == N,
              "rnnkit_ext: `start` expected a contiguous int64 (N,) tensor");
  const int64_t* sp = start.data_ptr<int64_t>();
  for (int64_t n = 0; n < N; ++n) {
    TORCH_CHECK(sp[n] >= 0 && sp[n] <= T && (n == 0 || sp[n] >= sp[n - 1]),
                "rnnkit_ext: `start` expected non-decreasing values in [0, T]");
  }
}

}  // namespace rnnkit
