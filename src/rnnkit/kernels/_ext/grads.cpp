// The gradient and comparison ops of the LSTM's lookup path (rnnkit/kernels/_lstm_autograd.py,
// rnnkit/layers/recurrent.py):
//
//   scatter_rows  the gradient of a row lookup: dtable[u] = sum of dZ's rows that read row u
//   weight_grad   dW_h = sum over each row's real steps of h_rec^T dZ (skipping its shared
//                 padding in front)
//   equal_rows    whether two tensors hold the same bytes (optionally only some rows): the
//                 check that a kept vocabulary table is still valid
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstring>
#include <optional>
#include <vector>

#include "_loops.h"

namespace rnnkit {
namespace {

using at::Tensor;

// out (U, C) = sum of the rows src[k] (R, C) with index[k] == u: the gradient of a row lookup.
// Each thread owns a band of columns, so no two threads write the same element. With `start`
// (N,), sorted, the rows are (t, n), R = T * N, and only those with t >= start[n] are read
// (the others are the shared padding's, zero).
template <typename S>
Tensor scatter_rows_impl(const Tensor& src, const Tensor& index, int64_t U,
                         const int64_t* start, int64_t N) {
  const int64_t R = src.size(0), C = src.size(1);
  Tensor out = at::zeros({U, C}, src.options());
  const S* sp = src.data_ptr<S>();
  const int64_t* ip = index.data_ptr<int64_t>();
  S* op = out.data_ptr<S>();
  at::parallel_for(0, C, 64, [&](int64_t c0, int64_t c1) {
    int64_t active = N;
    for (int64_t k = 0; k < R; ++k) {
      if (start) {  // row n = k % N of step t = k / N
        const int64_t n = k % N;
        if (n == 0) {
          const int64_t t = k / N;
          for (active = 0; active < N && start[active] <= t; ++active) {}
        }
        if (n >= active) {
          k += N - n - 1;  // the rest of the step is in its padding
          continue;
        }
      }
      S* __restrict o = op + ip[k] * C;
      const S* __restrict s = sp + k * C;
      for (int64_t c = c0; c < c1; ++c) o[c] += s[c];
    }
  });
  return out;
}

Tensor scatter_rows(Tensor src, Tensor index, int64_t U, std::optional<Tensor> start) {
  TORCH_CHECK(src.dim() == 2 && src.is_contiguous() && src.device().is_cpu(),
              "rnnkit_ext: `src` expected a contiguous CPU (R, C) tensor");
  TORCH_CHECK(index.scalar_type() == at::kLong && index.is_contiguous() && index.dim() == 1 &&
                  index.size(0) == src.size(0),
              "rnnkit_ext: `index` expected a contiguous int64 (R,) tensor");
  TORCH_CHECK(index.numel() == 0 || (index.min().item<int64_t>() >= 0 &&
                                     index.max().item<int64_t>() < U),
              "rnnkit_ext: `index` out of range");
  const int64_t N = start ? start->numel() : 1;
  if (start) {
    TORCH_CHECK(N > 0 && src.size(0) % N == 0,
                "rnnkit_ext: `start` expected (N,) with the rows of `src` a multiple of N");
    check_start_values(*start, N, src.size(0) / N);
  }
  return AT_DISPATCH_FLOATING_TYPES(src.scalar_type(), "rnnkit_scatter_rows", [&] {
    return scatter_rows_impl<scalar_t>(src, index, U, start ? start->data_ptr<int64_t>() : nullptr,
                                       N);
  });
}

// dW_h (H, 4H) = sum over the real steps of h_rec[t, n]^T dZ[t, n]: h_rec (T, N, H), dZ
// (T, N, 4H), start (N,) sorted: row n's steps before start[n] are its shared padding (dZ is
// zero there) and are skipped. One GEMM per row over its own steps (uniformly strided in the
// time-major buffers), rows dealt to the threads, each summing into its own (H, 4H), then the
// threads' sums added.
template <typename S>
Tensor weight_grad_impl(const Tensor& h_rec, const Tensor& dZ, const int64_t* start) {
  const int64_t T = dZ.size(0), N = dZ.size(1), H4 = dZ.size(2), H = H4 / 4;
  const int64_t chunks = chunk_count(N);
  Tensor parts = at::zeros({chunks, H, H4}, dZ.options());
  const S* hp = h_rec.data_ptr<S>();
  const S* dp = dZ.data_ptr<S>();
  for_strided_chunks(N, [&](int64_t first, int64_t stride) {
    S* acc = parts.data_ptr<S>() + first * H * H4;
    for (int64_t n = first; n < N; n += stride) {
      const int64_t t0 = std::min(start[n], T), K = T - t0;
      if (K == 0) continue;
      const S* h = hp + (t0 * N + n) * H;   // K rows of H, stride N * H
      const S* d = dp + (t0 * N + n) * H4;  // K rows of 4H, stride N * 4H
      if (Blas<S>::gemm != nullptr) {
        // row-major acc (H, 4H) += h^T d  <=>  column-major acc^T (4H, H) += d^T h
        const char ta = 'N', tb = 'T';
        const int m = static_cast<int>(H4), nn = static_cast<int>(H), k = static_cast<int>(K);
        const int ld_d = static_cast<int>(N * H4), ld_h = static_cast<int>(N * H);
        const int ld_c = static_cast<int>(H4);
        const S one = S(1);
        Blas<S>::gemm(&ta, &tb, &m, &nn, &k, &one, d, &ld_d, h, &ld_h, &one, acc, &ld_c);
      } else {
        const auto opts = dZ.options();
        const Tensor a = at::from_blob(const_cast<S*>(h), {K, H}, {N * H, 1}, opts);
        const Tensor b = at::from_blob(const_cast<S*>(d), {K, H4}, {N * H4, 1}, opts);
        at::from_blob(acc, {H, H4}, opts).addmm_(a.t(), b);
      }
    }
  });
  return chunks == 1 ? parts[0] : parts.sum(0);
}

Tensor weight_grad(Tensor h_rec, Tensor dZ, Tensor start) {
  TORCH_CHECK(dZ.dim() == 3 && dZ.is_contiguous() && h_rec.dim() == 3 && h_rec.is_contiguous() &&
                  h_rec.size(0) == dZ.size(0) && h_rec.size(1) == dZ.size(1) &&
                  4 * h_rec.size(2) == dZ.size(2),
              "rnnkit_ext: `h_rec` (T, N, H) and `dZ` (T, N, 4H) expected, contiguous");
  check_input(h_rec, dZ, "h_rec");
  check_start_values(start, dZ.size(1), dZ.size(0));
  return AT_DISPATCH_FLOATING_TYPES(dZ.scalar_type(), "rnnkit_weight_grad", [&] {
    return weight_grad_impl<scalar_t>(h_rec, dZ, start.data_ptr<int64_t>());
  });
}

// Whether a and b (contiguous CPU, same shape and dtype) hold the same bytes; with `ids`, only
// their rows ids[k] (each distinct row compared once). Exact, and cheap enough for a check
// before every predict call (a kept table is valid while the weights it was made from are).
bool equal_rows(Tensor a, Tensor b, std::optional<Tensor> ids) {
  TORCH_CHECK(a.is_contiguous() && b.is_contiguous() && a.device().is_cpu() &&
                  b.device().is_cpu(),
              "rnnkit_ext: `a` and `b` expected contiguous CPU tensors");
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  const auto* pa = static_cast<const char*>(a.data_ptr());
  const auto* pb = static_cast<const char*>(b.data_ptr());
  if (!ids) return std::memcmp(pa, pb, a.nbytes()) == 0;
  TORCH_CHECK(a.dim() >= 1 && ids->scalar_type() == at::kLong && ids->is_contiguous(),
              "rnnkit_ext: `ids` expected a contiguous int64 tensor of rows of `a`");
  const int64_t R = a.size(0), n = ids->numel();
  const size_t row = R > 0 ? a.nbytes() / R : 0;
  const int64_t* ip = ids->data_ptr<int64_t>();
  std::vector<uint8_t> seen(R, 0);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t r = ip[k];
    TORCH_CHECK(r >= 0 && r < R, "rnnkit_ext: `ids` out of range");
    if (seen[r]) continue;
    seen[r] = 1;
    if (std::memcmp(pa + r * row, pb + r * row, row) != 0) return false;
  }
  return true;
}

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit_ext, m) {
  m.def("scatter_rows", &rnnkit::scatter_rows);
  m.def("weight_grad", &rnnkit::weight_grad);
  m.def("equal_rows", &rnnkit::equal_rows);
}
