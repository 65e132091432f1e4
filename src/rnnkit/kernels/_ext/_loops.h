// What the step loops of every cell share: the split of a step's rows over threads, argument
// checks.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

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

inline void check_input(const at::Tensor& t, const at::Tensor& like, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == like.scalar_type(), "rnnkit_ext: `",
              name, "` expected a CPU tensor of dtype ", like.scalar_type(), ", received ",
              t.scalar_type(), " on ", t.device());
}

}  // namespace rnnkit
