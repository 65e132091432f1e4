// The step loops of rnnkit's whole-sequence LSTM (rnnkit/kernels/lstm.py), forward and backward,
// in C++: per step one GEMM and one fused pass over the step's (N, 4H) gates, in place of about
// ten torch ops (forward) and fourteen (backward) per step. The GEMMs with W_h run on the SIMD
// micro-kernels of _lstm_simd.h where they serve (float32 on a CPU with AVX2 + FMA or
// AVX-512: the best variant the CPU runs, chosen at run time, see `simd_for`), else on the
// BLAS. The weight and table gradients of the lookup path (weight_grad, scatter_rows) are in
// grads.cpp.
//
// Same buffers, layout and equations as the Python loops (rnnkit/kernels/_lstm_loops.py;
// "reference" is rnnkit.functional's loop, which both are tested against): everything is time-major, in processing order, packed [i | f | g | o],
//
//   z = x_t @ W_x + b + h_rec @ W_h,  h_rec = h_prev (* recurrent_mask)
//   i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
//   c = f * c_prev + i * g
//   h = o * tanh(c)
//
// and a padded step (mask false) keeps h, c and repeats the previous output.
//
// The input part of z comes either precomputed, (T, N, 4H), or as a lookup: row where[t, n] of
// a table (U, 4H) that holds x @ W_x + b for each distinct token of the batch (an Embedding
// feeding the LSTM). The batch's rows are dealt to the threads, each share run through all
// steps on its own thread (for_strided_chunks): rows never meet in an LSTM.
//
// Three loops: forward (saves what BPTT needs), backward, and infer (no grad: only h and c of
// the current step, plus the outputs if asked).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "_loops.h"
#include "_lstm_simd_api.h"
#include "_math.h"

namespace rnnkit {
namespace {

using at::Tensor;

// --- which SIMD micro-kernels run -------------------------------------------------------------
//
// Every variant is compiled into the extension (lstm_simd_avx2.cpp, lstm_simd_avx512.cpp);
// the best one the CPU supports runs, capped by `simd_select` (RNNKIT_ISA, read by the Python
// loader): 2 = avx512, 1 = avx2, 0 = generic (no micro-kernels: the BLAS and the scalar loops).

constexpr const char* kIsaNames[] = {"generic", "avx2", "avx512"};
std::atomic<int> g_isa_cap{2};

// The first CPU feature that variant `level` needs and this CPU lacks, or "" if it has them all.
const char* missing_feature(int level) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (level >= 1) {
    if (!__builtin_cpu_supports("avx2")) return "avx2";
    if (!__builtin_cpu_supports("fma")) return "fma";
  }
  if (level >= 2) {
    if (!__builtin_cpu_supports("avx512f")) return "avx512f";
    if (!__builtin_cpu_supports("avx512dq")) return "avx512dq";
    if (!__builtin_cpu_supports("avx512bw")) return "avx512bw";
    if (!__builtin_cpu_supports("avx512vl")) return "avx512vl";
  }
  return "";
#else
  return level == 0 ? "" : "x86-64";
#endif
}

const LstmSimd* simd_table(int level) {
  if (level == 2) return lstm_simd_avx512();
  if (level == 1) return lstm_simd_avx2();
  return nullptr;
}

// The micro-kernels this process runs (null: generic), the best the CPU has under the cap.
const LstmSimd* active_simd() {
  static const int best = [] {
    for (int level = 2; level > 0; --level) {
      if (simd_table(level) != nullptr && *missing_feature(level) == '\0') return level;
    }
    return 0;
  }();
  return simd_table(std::min(best, g_isa_cap.load()));
}

// The micro-kernels for a call on W_h: float32 only (double runs the generic loops).
const LstmSimd* simd_for(const Tensor& W_h) {
  return W_h.scalar_type() == at::kFloat ? active_simd() : nullptr;
}

int isa_level(const std::string& name) {
  for (int level = 0; level < 3; ++level) {
    if (name == kIsaNames[level]) return level;
  }
  TORCH_CHECK(name == "auto", "rnnkit_ext: `isa` expected one of 'auto', 'avx512', 'avx2', ",
              "'generic', received '", name, "'");
  return 2;
}

// The active variant's name: "avx512", "avx2" or "generic".
std::string simd_isa() {
  const LstmSimd* simd = active_simd();
  return simd ? simd->isa : "generic";
}

// Caps the variant at `name` ("auto": the best the CPU has); returns the one now active.
std::string simd_select(std::string name) {
  g_isa_cap.store(isa_level(name));
  return simd_isa();
}

// The CPU feature variant `name` needs and this CPU lacks ("" if it runs here), or why it
// cannot run ("not built" where this compiler did not build it).
std::string simd_missing(std::string name) {
  const int level = isa_level(name);
  if (level > 0 && simd_table(level) == nullptr) return "not built";
  return missing_feature(level);
}

// W_h re-laid for a variant's micro-kernels (gate blocks, or transposed blocks for the
// backward), kept across calls: a call with the same bytes in W_h (compared exactly, 7 us at
// H = 128 against 30 us to re-lay it) and the same variant reuses it. A few small ones only.
constexpr int64_t kPackCacheBytes = 1 << 20;  // W_h up to 1 MiB: H <= 256
constexpr size_t kPackCacheEntries = 4;

struct PackedWeights {
  const LstmSimd* simd;
  bool transposed;
  Tensor source;  // a copy of the W_h it was made from
  Tensor packed;
};

Tensor packed_weights(const LstmSimd* simd, const Tensor& W_h, bool transposed) {
  const int64_t H = W_h.size(0);
  auto pack = [&] {
    const int64_t floats = transposed ? simd->transposed_blocks_floats(H)
                                      : simd->gate_blocks_floats(H);
    Tensor packed = at::empty({floats}, W_h.options());  // 64-byte aligned
    (transposed ? simd->pack_transposed_blocks : simd->pack_gate_blocks)(
        W_h.data_ptr<float>(), H, packed.data_ptr<float>());
    return packed;
  };
  if (static_cast<int64_t>(W_h.nbytes()) > kPackCacheBytes) return pack();
  static std::mutex lock;
  static std::vector<PackedWeights> kept;  // most recent last
  std::lock_guard<std::mutex> guard(lock);
  for (size_t k = 0; k < kept.size(); ++k) {
    const PackedWeights& e = kept[k];
    if (e.simd == simd && e.transposed == transposed && e.source.sizes() == W_h.sizes() &&
        std::memcmp(e.source.data_ptr(), W_h.data_ptr(), W_h.nbytes()) == 0) {
      Tensor packed = e.packed;
      std::rotate(kept.begin() + k, kept.begin() + k + 1, kept.end());
      return packed;
    }
  }
  Tensor packed = pack();
  if (kept.size() == kPackCacheEntries) kept.erase(kept.begin());
  kept.push_back({simd, transposed, W_h.clone(), packed});
  return packed;
}

// Where the input part of z comes from: gates[t, n] already holds it, or table[where[t, n]].
template <typename S>
struct InputPart {
  const S* table = nullptr;       // (U, 4H), or null: z holds x_t @ W_x + b already
  const int64_t* where = nullptr;  // (T, N), time-major, processing order
  const S* z_x = nullptr;         // (T, N, 4H) to read (infer), or null
  int64_t N = 0, H4 = 0;
  // the input part of row n at step t, or null where z holds it already
  RNNKIT_INLINE const S* row(int64_t t, int64_t n) const {
    if (table) return table + where[t * N + n] * H4;
    if (z_x) return z_x + (t * N + n) * H4;
    return nullptr;
  }
  bool in_z() const { return table == nullptr && z_x == nullptr; }
  // Ask for the table row of step t, row n, ahead of use: they are scattered over the
  // table, where the hardware prefetcher cannot guess them. Called before the step's GEMM,
  // which gives them time to arrive.
  RNNKIT_INLINE void prefetch_row(int64_t t, int64_t n) const {
    if (!table) return;
    constexpr int64_t kLine = 64 / sizeof(S);
    const S* r = table + where[t * N + n] * H4;
    for (int64_t k = 0; k < H4; k += kLine) __builtin_prefetch(r + k);
  }
};

template <typename S>
InputPart<S> input_part(const std::optional<Tensor>& table, const std::optional<Tensor>& where,
                        const S* z_x, int64_t N, int64_t H4) {
  InputPart<S> in;
  if (table) {
    in.table = table->data_ptr<S>();
    in.where = where->data_ptr<int64_t>();
  }
  in.z_x = z_x;
  in.N = N;
  in.H4 = H4;
  return in;
}

// One LSTM step of one row, the cell's equations: z (4H) holds h_rec @ W_h (and the input part
// where z_x is null); adds the input part z_x, then
//
//   i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
//   c = f * c_prev + i * g
//   h = o * tanh(c)
//
// kSave (training): the gates go over z and tanh(c) to tanh_c, for BPTT. Without (inference)
// only c and h are written, and c may be c_prev itself (updated in place).
template <bool kSave, typename S>
RNNKIT_INLINE void cell_row(S* __restrict z, const S* __restrict z_x, const S* c_prev, S* c,
                            S* __restrict tanh_c, S* __restrict h, int64_t H) {
  if (z_x) {
    for (int64_t k = 0; k < 4 * H; ++k) z[k] += z_x[k];
  }
  S* __restrict zi = z;
  S* __restrict zf = z + H;
  S* __restrict zg = z + 2 * H;
  S* __restrict zo = z + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const S i = sigmoid(zi[j]), f = sigmoid(zf[j]), g = tanh_(zg[j]), o = sigmoid(zo[j]);
    const S c_new = f * c_prev[j] + i * g;
    const S tc = tanh_(c_new);
    if constexpr (kSave) {
      zi[j] = i;
      zf[j] = f;
      zg[j] = g;
      zo[j] = o;
      tanh_c[j] = tc;
    }
    c[j] = c_new;
    h[j] = o * tc;
  }
}

// The shared padding in front (see infer_impl), saved for BPTT: the states after k padded
// steps, k = 0..L, on one row (prefix_hc [0]: h, [1]: c), and the gates and tanh(c) of step k.
template <typename S>
struct Prefix {
  int64_t L = 0, H = 0;
  S* h = nullptr;
  S* c = nullptr;
  S* gates = nullptr;
  S* tanh_c = nullptr;
  Tensor hc, g, tc;  // owners

  Prefix(int64_t L_, int64_t H_, const Tensor& h0, const Tensor& c0, const S* Wh,
         const S* pad, bool save) : L(L_), H(H_) {
    const auto opts = h0.options();
    hc = at::empty({2, L + 1, H}, opts);
    h = hc.data_ptr<S>();
    c = h + (L + 1) * H;
    g = at::empty({save ? L : 0, 4 * H}, opts);
    tc = at::empty({save ? L : 0, H}, opts);
    if (L == 0) return;
    const S* h0p = h0.data_ptr<S>();
    const S* c0p = c0.data_ptr<S>();
    std::copy(h0p, h0p + H, h);
    std::copy(c0p, c0p + H, c);
    std::vector<S> scratch(save ? 0 : 5 * H);  // z and tanh(c) of a step, when not saved
    for (int64_t k = 1; k <= L; ++k) {
      S* z = save ? g.data_ptr<S>() + (k - 1) * 4 * H : scratch.data();
      S* t_c = save ? tc.data_ptr<S>() + (k - 1) * H : scratch.data() + 4 * H;
      gemm_rm<S>(1, 4 * H, H, h + (k - 1) * H, H, Wh, 4 * H, false, S(0), z, 4 * H);
      cell_row<true, S>(z, pad, c + (k - 1) * H, c + k * H, t_c, h + k * H, H);
    }
    if (save) {
      gates = g.data_ptr<S>();
      tanh_c = tc.data_ptr<S>();
    }
  }
  // row n of an (N, H) pair of buffers takes the state after k padded steps
  void join(S* hn, S* cn, int64_t k) const {
    std::copy(h + k * H, h + (k + 1) * H, hn);
    std::copy(c + k * H, c + (k + 1) * H, cn);
  }
};

// With the shared padding (`start`, sorted): the thread's rows i >= active whose first real
// step has come by step t join the batch (`join(n)` gives row n the prefix state it starts
// from); returns how many rows of the thread's share run step t. Without `start`, all of them.
template <typename Join>
RNNKIT_INLINE int64_t admit(int64_t active, int64_t rows, int64_t first, int64_t stride,
                            int64_t t, const int64_t* start, const Join& join) {
  if (!start) return rows;
  for (; active < rows && start[first + stride * active] <= t; ++active) {
    const int64_t n = first + stride * active;
    if (start[n] > 0) join(n);
  }
  return active;
}

// Forward, saving for BPTT: gates (T, N, 4H) in place (its input part in it, or zeros and a
// lookup), h_seq and c_seq (T + 1, N, H; [t] is the state before step t), tanh(c), h_rec (what
// W_h multiplied) and the outputs y_seq; with `start`, the prefix's buffers (see infer_impl
// for `start`: a row's steps before start[n] are the shared padding, and hold its states).
template <typename S>
std::vector<Tensor> forward_impl(Tensor gates, const InputPart<S>& in, const Tensor& h0,
                                 const Tensor& c0, const Tensor& W_h,
                                 const std::optional<Tensor>& mask,
                                 const std::optional<Tensor>& recurrent_mask,
                                 const int64_t* start, int64_t pad_row) {
  const int64_t T = gates.size(0), N = gates.size(1), H = gates.size(2) / 4;
  const auto opts = gates.options();
  Tensor h_seq = at::empty({T + 1, N, H}, opts);
  Tensor c_seq = at::empty({T + 1, N, H}, opts);
  Tensor tanh_c = at::empty({T, N, H}, opts);
  h_seq[0].copy_(h0);
  c_seq[0].copy_(c0);
  const bool masked = mask.has_value(), dropped = recurrent_mask.has_value();
  Tensor rm = dropped ? recurrent_mask->contiguous() : Tensor();
  Tensor h_rec = dropped ? at::empty({T, N, H}, opts) : h_seq.narrow(0, 0, T);
  Tensor y_seq = masked ? at::empty({T, N, H}, opts) : h_seq.narrow(0, 1, T);
  Tensor m_seq = masked ? mask->contiguous() : Tensor();  // (T, N, 1) bool

  S* G = gates.data_ptr<S>();
  S* hs = h_seq.data_ptr<S>();
  S* cs = c_seq.data_ptr<S>();
  S* tcs = tanh_c.data_ptr<S>();
  S* hr = h_rec.data_ptr<S>();
  S* ys = masked ? y_seq.data_ptr<S>() : nullptr;
  const S* Wh = W_h.data_ptr<S>();
  const S* rmp = dropped ? rm.data_ptr<S>() : nullptr;
  const bool* ms = masked ? m_seq.data_ptr<bool>() : nullptr;
  const int64_t NH = N * H, H4 = 4 * H;
  const S beta = in.in_z() ? S(1) : S(0);  // add to z's input part, or overwrite the zeros
  const int64_t L = (start && N > 0) ? std::min(start[N - 1], T) : 0;
  const Prefix<S> prefix(L, H, h_seq[0][0], c_seq[0][0], Wh,
                         L > 0 ? in.table + pad_row * H4 : nullptr, true);

  // float32 without mask or recurrent dropout: the fused SIMD step (W_h re-laid, or kept)
  const LstmSimd* simd = (!masked && !dropped) ? simd_for(W_h) : nullptr;
  const Tensor packed = simd ? packed_weights(simd, W_h, false) : Tensor();
  for_strided_chunks(N, [&](int64_t first, int64_t stride) {
    const int64_t rows = (N - first + stride - 1) / stride;  // n = first + stride * i
    // after step t: the rows still in the shared padding take its state
    auto active_done = [&](int64_t t, int64_t active) {
      for (int64_t i = active; i < rows; ++i) {
        const int64_t n = first + stride * i;
        prefix.join(hs + (t + 1) * NH + n * H, cs + (t + 1) * NH + n * H, t + 1);
      }
    };
    if (dropped) {  // h_rec[0] = h0 * recurrent_mask; later steps write h_rec[t + 1]
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t r = (first + stride * i) * H;
        for (int64_t j = 0; j < H; ++j) hr[r + j] = hs[r + j] * rmp[r + j];
      }
    }
    std::vector<FusedRow> step(simd ? rows : 0);
    Tensor z_fused = at::empty({simd ? rows * simd->z_floats(H) : 0}, opts);  // z, unit blocks
    int64_t active = 0;  // rows i < active have joined
    for (int64_t t = 0; t < T; ++t) {
      active = admit(active, rows, first, stride, t, start, [&](int64_t n) {
        prefix.join(hs + t * NH + n * H, cs + t * NH + n * H, t);
      });
      S* zt = G + t * N * H4;
      for (int64_t i = 0; i < active; ++i) in.prefetch_row(t, first + stride * i);
      const S* h_prev = hs + t * NH;
      const S* c_prev = cs + t * NH;
      S* h = hs + (t + 1) * NH;
      S* c = cs + (t + 1) * NH;
      S* tc = tcs + t * NH;
      if constexpr (std::is_same_v<S, float>) {
        if (simd) {
          for (int64_t i = 0; i < active; ++i) {
            const int64_t n = first + stride * i, r = n * H;
            const S* x = in.in_z() ? zt + n * H4 : in.row(t, n);
            step[i] = {h_prev + r, x, c_prev + r, c + r, h + r, zt + n * H4, tc + r};
          }
          simd->step(step.data(), active, packed.data_ptr<S>(), H, z_fused.data_ptr<S>(), true);
          active_done(t, active);
          continue;
        }
      }
      gemm_rm<S>(active, H4, H, hr + t * NH + first * H, stride * H, Wh, H4, false, beta,
                 zt + first * H4, stride * H4);
      S* y = masked ? ys + t * NH : nullptr;
      S* h_rec_next = (dropped && t + 1 < T) ? hr + (t + 1) * NH : nullptr;
      for (int64_t i = 0; i < active; ++i) {
        const int64_t n = first + stride * i, r = n * H;
        cell_row<true, S>(zt + n * H4, in.row(t, n), c_prev + r, c + r, tc + r, h + r, H);
        if (masked) {  // a padded step keeps the state and repeats the output
          if (ms[t * N + n]) {
            for (int64_t j = 0; j < H; ++j) y[r + j] = h[r + j];
          } else {
            for (int64_t j = 0; j < H; ++j) {
              y[r + j] = t > 0 ? y[r + j - NH] : S(0);
              h[r + j] = h_prev[r + j];
              c[r + j] = c_prev[r + j];
            }
          }
        }
        if (h_rec_next) {
          for (int64_t j = 0; j < H; ++j) h_rec_next[r + j] = h[r + j] * rmp[r + j];
        }
      }
      active_done(t, active);
    }
  });
  return {h_seq, c_seq, tanh_c, h_rec, y_seq, gates, prefix.hc, prefix.g, prefix.tc};
}

// Forward without saving (no grad): per step only z of the chunk's rows, h and c in place.
// Returns h_T, c_T and, with `sequences`, y_seq (T, N, H).
//
// `start` (N,), non-decreasing, optional: row n reads table row `pad_row` at its steps before
// start[n] (padding in front), and those steps are the same for every row, which all begin
// from the same initial state: their states s_1, s_2, ... are computed once, on one row, and
// row n joins at step start[n] from s_start[n]. Rows are dealt to the threads in turn
// (n = k, k + chunks, ...), so each thread's active rows at a step are the first ones of its
// share, one strided GEMM.
template <typename S>
std::vector<Tensor> infer_impl(const InputPart<S>& in, int64_t T, const Tensor& h0,
                               const Tensor& c0, const Tensor& W_h,
                               const std::optional<Tensor>& mask, bool sequences,
                               const int64_t* start, int64_t pad_row) {
  const int64_t N = h0.size(0), H = h0.size(1), H4 = 4 * H;
  const auto opts = h0.options();
  Tensor h_T = h0.clone(at::MemoryFormat::Contiguous);
  Tensor c_T = c0.clone(at::MemoryFormat::Contiguous);
  Tensor y_seq = sequences ? at::empty({T, N, H}, opts) : at::empty({0}, opts);
  Tensor z = at::empty({N, H4}, opts);
  const bool masked = mask.has_value();
  Tensor m_seq = masked ? mask->contiguous() : Tensor();
  S* hp = h_T.data_ptr<S>();
  S* cp = c_T.data_ptr<S>();
  S* zp = z.data_ptr<S>();
  S* ys = sequences ? y_seq.data_ptr<S>() : nullptr;
  const S* Wh = W_h.data_ptr<S>();
  const bool* ms = masked ? m_seq.data_ptr<bool>() : nullptr;
  const int64_t NH = N * H;

  // the shared padding in front: its states, once
  const int64_t L = (start && N > 0) ? std::min(start[N - 1], T) : 0;
  const Prefix<S> prefix(L, H, h_T[0], c_T[0], Wh, L > 0 ? in.table + pad_row * H4 : nullptr,
                         false);
  auto join = [&](int64_t n, int64_t k) { prefix.join(hp + n * H, cp + n * H, k); };

  if constexpr (std::is_same_v<S, float>) {
    const LstmSimd* simd = masked ? nullptr : simd_for(W_h);
    if (simd) {
      // h in two buffers, in turn (every unit block reads all of h_prev); c in place
      const Tensor packed = packed_weights(simd, W_h, false);
      Tensor h_alt = at::empty({N, H}, opts);
      S* hb[2] = {hp, h_alt.data_ptr<S>()};
      for_strided_chunks(N, [&](int64_t first, int64_t stride) {
        const int64_t rows = (N - first + stride - 1) / stride;  // n = first + stride * i
        std::vector<FusedRow> step(rows);
        Tensor z = at::empty({rows * simd->z_floats(H)}, opts);  // this thread's z, unit blocks
        int64_t active = 0;  // rows i < active have joined
        for (int64_t t = 0; t < T; ++t) {
          S* prev = hb[t & 1];
          S* next = hb[(t + 1) & 1];
          active = admit(active, rows, first, stride, t, start, [&](int64_t n) {
            prefix.join(prev + n * H, cp + n * H, t);
          });
          for (int64_t i = 0; i < active; ++i) in.prefetch_row(t, first + stride * i);
          for (int64_t i = 0; i < active; ++i) {
            const int64_t n = first + stride * i, r = n * H;
            step[i] = {prev + r, in.row(t, n), cp + r, cp + r, next + r, nullptr, nullptr};
          }
          simd->step(step.data(), active, packed.data_ptr<S>(), H, z.data_ptr<S>(), false);
          if (ys) {
            for (int64_t i = 0; i < active; ++i) {
              const int64_t r = (first + stride * i) * H;
              std::copy(next + r, next + r + H, ys + t * NH + r);
            }
          }
        }
        S* last = hb[T & 1];
        for (int64_t i = active; i < rows; ++i) {  // padding only
          const int64_t n = first + stride * i;
          prefix.join(last + n * H, cp + n * H, L);
        }
        if (last != hp) {
          for (int64_t i = 0; i < rows; ++i) {
            const int64_t r = (first + stride * i) * H;
            std::copy(last + r, last + r + H, hp + r);
          }
        }
      });
      return {h_T, c_T, y_seq};
    }
  }

  for_strided_chunks(N, [&](int64_t first, int64_t stride) {
    const int64_t rows = (N - first + stride - 1) / stride;  // n = first + stride * i
    int64_t active = 0;  // rows i < active have joined
    for (int64_t t = 0; t < T; ++t) {
      active = admit(active, rows, first, stride, t, start, [&](int64_t n) { join(n, t); });
      for (int64_t i = 0; i < active; ++i) in.prefetch_row(t, first + stride * i);
      gemm_rm<S>(active, H4, H, hp + first * H, stride * H, Wh, H4, false, S(0),
                 zp + first * H4, stride * H4);
      for (int64_t i = 0; i < active; ++i) {
        const int64_t n = first + stride * i, r = n * H;
        S* y = ys ? ys + t * NH + r : nullptr;
        if (masked && !ms[t * N + n]) {  // padded: the state stays, the output repeats
          if (y) {
            for (int64_t j = 0; j < H; ++j) y[j] = t > 0 ? y[j - NH] : S(0);
          }
          continue;
        }
        cell_row<false, S>(zp + n * H4, in.row(t, n), cp + r, cp + r, nullptr, hp + r, H);
        if (y) {
          for (int64_t j = 0; j < H; ++j) y[j] = hp[r + j];
        }
      }
    }
    for (int64_t i = active; i < rows; ++i) join(first + stride * i, L);  // padding only
  });
  return {h_T, c_T, y_seq};
}

// One backward step of one real row: dz (4H) from dh (into h_t) and dc_next (into c_t from
// step t+1); dc_next becomes dLoss/dc_{t-1} in place.
template <typename S>
RNNKIT_INLINE void backward_row(const S* __restrict G, const S* __restrict c_prev,
                                const S* __restrict tanh_c, const S* __restrict dh,
                                S* __restrict dc_next, S* __restrict dz, int64_t H) {
  const S* __restrict gi = G;
  const S* __restrict gf = G + H;
  const S* __restrict gg = G + 2 * H;
  const S* __restrict go = G + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const S i = gi[j], f = gf[j], g = gg[j], o = go[j], tc = tanh_c[j], d_h = dh[j];
    const S dc = dc_next[j] + d_h * o * (S(1) - tc * tc);  // into c_t, also through h
    dz[j] = dc * g * i * (S(1) - i);                          // into z_i
    dz[H + j] = dc * c_prev[j] * f * (S(1) - f);              // into z_f
    dz[2 * H + j] = dc * i * (S(1) - g * g);                  // into z_g
    dz[3 * H + j] = d_h * tc * o * (S(1) - o);                // into z_o
    dc_next[j] = dc * f;                                      // into c_{t-1}
  }
}

// The gradient readout: a copy of a row's dLoss/dh_t (or dLoss/dc_t) into the record.
template <typename S>
RNNKIT_INLINE void record_passing(const S* __restrict from, S* __restrict to, int64_t H) {
  for (int64_t j = 0; j < H; ++j) to[j] = from[j];
}

// The gradient readout of a real row's cell: dLoss/dc_t, what backward_row calls `dc` (from
// step t+1, and through h = o * tanh(c)), written before backward_row overwrites dc_next.
template <typename S>
RNNKIT_INLINE void record_cell(const S* __restrict G, const S* __restrict tanh_c,
                               const S* __restrict dh, const S* __restrict dc_next,
                               S* __restrict dc, int64_t H) {
  const S* __restrict go = G + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    dc[j] = dc_next[j] + dh[j] * go[j] * (S(1) - tanh_c[j] * tanh_c[j]);
  }
}

// BPTT: dZ (T, N, 4H), dLoss/dh0 and dLoss/dc0. `dy` (N, T, H) may be absent: no gradient
// reached the outputs (only the final state is used). With `start` (see forward_impl), dZ is
// zero on the shared padding, whose own dz come back as dZ_prefix (L, 4H): what reaches a
// row's state at its first real step (and its outputs before it) is summed per padded step
// over the rows, then carried back through the prefix once. dLoss/dh0 and dLoss/dc0 of a row
// that starts late are zero: the caller's initial state takes no gradient then.
template <typename S>
std::vector<Tensor> backward_impl(const Tensor& W_h, const Tensor& gates, const Tensor& c_seq,
                                  const Tensor& tanh_c, const std::optional<Tensor>& mask,
                                  const std::optional<Tensor>& recurrent_mask,
                                  std::optional<Tensor> dy, const Tensor& dh_T,
                                  const Tensor& dc_T, const int64_t* start,
                                  const std::optional<Tensor>& prefix_hc,
                                  const std::optional<Tensor>& prefix_gates,
                                  const std::optional<Tensor>& prefix_tanh_c,
                                  const std::optional<Tensor>& record_dh,
                                  const std::optional<Tensor>& record_dc) {
  const int64_t T = gates.size(0), N = gates.size(1), H = gates.size(2) / 4, H4 = 4 * H;
  const auto opts = gates.options();
  const bool has_dy = dy.has_value();
  if (has_dy && dy->stride(2) != 1) dy = dy->contiguous();  // (N, T, H), any row strides
  Tensor dZ = at::empty({T, N, H4}, opts);
  Tensor dh_next = dh_T.clone(at::MemoryFormat::Contiguous);  // dLoss/dh_t from after t
  Tensor dc_next = dc_T.clone(at::MemoryFormat::Contiguous);
  Tensor dh = at::empty({N, H}, opts);  // into h_t from y_t and step t+1
  const bool masked = mask.has_value(), dropped = recurrent_mask.has_value();
  Tensor dh_rec = (masked || dropped) ? at::empty({N, H}, opts) : dh_next;  // into h_rec
  Tensor dy_carry = masked ? at::zeros({N, H}, opts) : Tensor();  // from padded repeats of y_t
  Tensor rm = dropped ? recurrent_mask->contiguous() : Tensor();
  Tensor m_seq = masked ? mask->contiguous() : Tensor();
  const int64_t L = start ? prefix_gates->size(0) : 0;
  const int64_t chunks = chunk_count(N);
  // per thread: what reaches the prefix states, [chunk][0: h, 1: c][k]
  Tensor d_prefix = at::zeros({chunks, 2, L + 1, H}, opts);
  Tensor dZ_prefix = at::zeros({L, H4}, opts);

  const S* Wh = W_h.data_ptr<S>();
  const S* Gs = gates.data_ptr<S>();
  const S* cs = c_seq.data_ptr<S>();
  const S* tcs = tanh_c.data_ptr<S>();
  const S* dyp = has_dy ? dy->data_ptr<S>() : nullptr;
  const int64_t dy_sn = has_dy ? dy->stride(0) : 0, dy_st = has_dy ? dy->stride(1) : 0;
  S* dZs = dZ.data_ptr<S>();
  S* dhn = dh_next.data_ptr<S>();
  S* dcn = dc_next.data_ptr<S>();
  S* dhp = dh.data_ptr<S>();
  S* dhr = dh_rec.data_ptr<S>();
  S* carry = masked ? dy_carry.data_ptr<S>() : nullptr;
  const S* rmp = dropped ? rm.data_ptr<S>() : nullptr;
  const bool* ms = masked ? m_seq.data_ptr<bool>() : nullptr;
  const int64_t NH = N * H;
  // the gradient readout (grad_hook), when asked: dLoss/dh_t and dLoss/dc_t, (T, N, H) each
  S* rec_h = record_dh ? record_dh->data_ptr<S>() : nullptr;
  S* rec_c = record_dc ? record_dc->data_ptr<S>() : nullptr;

  // dh (rows of H) = dz (rows of 4H) @ W_h^T: the SIMD micro-kernel where it serves (W_h
  // re-laid, or kept), else the BLAS
  const LstmSimd* simd = simd_for(W_h);
  const Tensor packed_t = simd ? packed_weights(simd, W_h, true) : Tensor();
  auto dh_product = [&](int64_t count, const S* dz, int64_t s_dz, S* dh, int64_t s_dh) {
    if constexpr (std::is_same_v<S, float>) {
      if (simd) {
        return simd->transposed_product(dz, s_dz, count, packed_t.data_ptr<S>(), H, dh, s_dh);
      }
    }
    gemm_rm<S>(count, H, H4, dz, s_dz, Wh, H4, true, S(0), dh, s_dh);
  };
  for_strided_chunks(N, [&](int64_t first, int64_t stride) {
    const int64_t rows = (N - first + stride - 1) / stride;  // n = first + stride * i
    S* dp_h = d_prefix.data_ptr<S>() + first * 2 * (L + 1) * H;
    S* dp_c = dp_h + (L + 1) * H;
    int64_t active = rows;  // rows i < active run step t; the others are in the padding
    for (int64_t t = T - 1; t >= 0; --t) {
      for (; active > 0 && start && start[first + stride * (active - 1)] > t; --active) {
        // the row's state before its first real step is the prefix's: hand its gradient on
        const int64_t n = first + stride * (active - 1), k = start[n], r = n * H;
        for (int64_t j = 0; j < H; ++j) {
          dp_h[k * H + j] += dhn[r + j];
          dp_c[k * H + j] += dcn[r + j];
          dhn[r + j] = S(0);
          dcn[r + j] = S(0);
        }
      }
      const S* G = Gs + t * N * H4;
      const S* c_prev = cs + t * NH;
      const S* tc = tcs + t * NH;
      S* dz = dZs + t * N * H4;
      for (int64_t i = active; i < rows; ++i) {  // in the padding: no dz; y_t is the prefix's
        const int64_t n = first + stride * i;
        for (int64_t k = 0; k < H4; ++k) dz[n * H4 + k] = S(0);
        if (has_dy) {
          const S* dy_t = dyp + n * dy_sn + t * dy_st;
          for (int64_t j = 0; j < H; ++j) dp_h[(t + 1) * H + j] += dy_t[j];
        }
      }
      for (int64_t i = 0; i < active; ++i) {
        const int64_t n = first + stride * i, r = n * H;
        const S* dy_t = has_dy ? dyp + n * dy_sn + t * dy_st : nullptr;
        S* d_h = dhp + r;
        if (!masked) {
          for (int64_t j = 0; j < H; ++j) d_h[j] = dhn[r + j] + (dy_t ? dy_t[j] : S(0));
        } else {  // padded step: the state and the output pass through, the cell gets nothing
          const bool m = ms[t * N + n];
          S* cr = carry + r;
          for (int64_t j = 0; j < H; ++j) {
            const S dyt = (dy_t ? dy_t[j] : S(0)) + cr[j];  // into y_t: from y_t and repeats
            cr[j] = m ? S(0) : dyt;  // into y_{t-1}, which padding repeated
            d_h[j] = dhn[r + j] + dyt;  // into the cell's h_t (real rows only)
          }
          if (!m) {
            for (int64_t k = 0; k < H4; ++k) dz[n * H4 + k] = S(0);
            if (rec_h) record_passing(dhn + r, rec_h + t * NH + r, H);  // h_t = h_{t-1}
            if (rec_c) record_passing(dcn + r, rec_c + t * NH + r, H);  // c_t = c_{t-1}
            continue;  // dc_next, dh_next pass through unchanged
          }
        }
        if (rec_h) record_passing(d_h, rec_h + t * NH + r, H);
        if (rec_c) record_cell(G + n * H4, tc + r, d_h, dcn + r, rec_c + t * NH + r, H);
        backward_row<S>(G + n * H4, c_prev + r, tc + r, d_h, dcn + r, dz + n * H4, H);
      }
      // into h_rec of step t, through z = ... + h_rec @ W_h: dh_rec = dz @ W_h^T
      dh_product(active, dz + first * H4, stride * H4, dhr + first * H, stride * H);
      if (masked || dropped) {  // into h_{t-1}: through h_prev * recurrent_mask, or pass-through
        for (int64_t i = 0; i < active; ++i) {
          const int64_t n = first + stride * i;
          if (masked && !ms[t * N + n]) continue;  // padded: dh_next passes through
          const int64_t r = n * H;
          for (int64_t j = 0; j < H; ++j) {
            dhn[r + j] = dropped ? dhr[r + j] * rmp[r + j] : dhr[r + j];
          }
        }
      }
    }
  });

  if (L > 0) {  // back through the shared padding, once, with what every row handed on
    Tensor d_sum = d_prefix.sum(0);  // (2, L + 1, H)
    const S* dph = d_sum.data_ptr<S>();
    const S* dpc = dph + (L + 1) * H;
    const S* p_c = prefix_hc->data_ptr<S>() + (L + 1) * H;
    const S* p_g = prefix_gates->data_ptr<S>();
    const S* p_tc = prefix_tanh_c->data_ptr<S>();
    S* dzp = dZ_prefix.data_ptr<S>();
    std::vector<S> dh_k(H), dh_carry(H, S(0)), dc_carry(H, S(0));
    for (int64_t k = L; k >= 1; --k) {  // step k of the prefix made state k from state k - 1
      for (int64_t j = 0; j < H; ++j) {
        dh_k[j] = dph[k * H + j] + dh_carry[j];
        dc_carry[j] += dpc[k * H + j];
      }
      backward_row<S>(p_g + (k - 1) * H4, p_c + (k - 1) * H, p_tc + (k - 1) * H, dh_k.data(),
                      dc_carry.data(), dzp + (k - 1) * H4, H);
      dh_product(1, dzp + (k - 1) * H4, H4, dh_carry.data(), H);
    }
  }
  return {dZ, dh_next, dc_next, dZ_prefix};
}

void check_lookup(const std::optional<Tensor>& table, const std::optional<Tensor>& where,
                  int64_t T, int64_t N, int64_t H4, const Tensor& like) {
  TORCH_CHECK(table.has_value() == where.has_value(),
              "rnnkit_ext: `table` and `where` go together");
  if (!table) return;
  check_input(*table, like, "table");
  TORCH_CHECK(table->dim() == 2 && table->size(1) == H4 && table->is_contiguous(),
              "rnnkit_ext: `table` expected a contiguous (U, 4H) tensor");
  TORCH_CHECK(where->scalar_type() == at::kLong && where->is_contiguous() &&
                  where->dim() == 2 && where->size(0) == T && where->size(1) == N,
              "rnnkit_ext: `where` expected a contiguous int64 (T, N) tensor");
}

void check_start(const std::optional<Tensor>& start, int64_t pad_row,
                 const std::optional<Tensor>& table, int64_t N, int64_t T, bool plain) {
  if (!start) return;
  TORCH_CHECK(table && plain, "rnnkit_ext: `start` expected with a table and without masks");
  TORCH_CHECK(pad_row >= 0 && pad_row < table->size(0), "rnnkit_ext: `pad_row` out of range");
  check_start_values(*start, N, T);
}

std::vector<Tensor> lstm_forward(Tensor gates, std::optional<Tensor> table,
                                 std::optional<Tensor> where, Tensor h0, Tensor c0, Tensor W_h,
                                 std::optional<Tensor> mask,
                                 std::optional<Tensor> recurrent_mask,
                                 std::optional<Tensor> start, int64_t pad_row) {
  TORCH_CHECK(gates.dim() == 3 && gates.is_contiguous() && gates.size(2) % 4 == 0,
              "rnnkit_ext: `gates` expected a contiguous (T, N, 4H) tensor");
  for (const auto& [t, name] : {std::pair{&h0, "h0"}, {&c0, "c0"}, {&W_h, "W_h"}}) {
    check_input(*t, gates, name);
  }
  TORCH_CHECK(W_h.is_contiguous(), "rnnkit_ext: `W_h` expected a contiguous tensor");
  if (recurrent_mask) check_input(*recurrent_mask, gates, "recurrent_mask");
  check_lookup(table, where, gates.size(0), gates.size(1), gates.size(2), gates);
  check_start(start, pad_row, table, gates.size(1), gates.size(0), !mask && !recurrent_mask);
  return AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_lstm_forward", [&] {
    const auto in = input_part<scalar_t>(table, where, nullptr, gates.size(1), gates.size(2));
    return forward_impl<scalar_t>(gates, in, h0, c0, W_h, mask, recurrent_mask,
                                  start ? start->data_ptr<int64_t>() : nullptr, pad_row);
  });
}

std::vector<Tensor> lstm_infer(std::optional<Tensor> z_x, std::optional<Tensor> table,
                               std::optional<Tensor> where, Tensor h0, Tensor c0, Tensor W_h,
                               std::optional<Tensor> mask, bool sequences,
                               std::optional<Tensor> start, int64_t pad_row) {
  TORCH_CHECK(z_x.has_value() != table.has_value(),
              "rnnkit_ext: lstm_infer takes either `z_x` or `table` and `where`");
  TORCH_CHECK(h0.dim() == 2 && W_h.is_contiguous() && W_h.size(1) == 4 * h0.size(1),
              "rnnkit_ext: `W_h` expected a contiguous (H, 4H) tensor");
  for (const auto& [t, name] : {std::pair{&c0, "c0"}, {&W_h, "W_h"}}) check_input(*t, h0, name);
  const int64_t N = h0.size(0), H4 = 4 * h0.size(1);
  int64_t T = 0;
  if (z_x) {
    check_input(*z_x, h0, "z_x");
    TORCH_CHECK(z_x->dim() == 3 && z_x->is_contiguous() && z_x->size(1) == N &&
                    z_x->size(2) == H4,
                "rnnkit_ext: `z_x` expected a contiguous (T, N, 4H) tensor");
    T = z_x->size(0);
  } else {
    T = where->dim() == 2 ? where->size(0) : 0;
    check_lookup(table, where, T, N, H4, h0);
  }
  check_start(start, pad_row, table, N, T, !sequences && !mask);
  return AT_DISPATCH_FLOATING_TYPES(h0.scalar_type(), "rnnkit_lstm_infer", [&] {
    const auto in = input_part<scalar_t>(table, where, z_x ? z_x->data_ptr<scalar_t>() : nullptr,
                                         N, H4);
    return infer_impl<scalar_t>(in, T, h0, c0, W_h, mask, sequences,
                                start ? start->data_ptr<int64_t>() : nullptr, pad_row);
  });
}

// Whether the forward and inference loops run W_h through the fused SIMD step (float32, on a
// CPU with AVX2 + FMA or AVX-512, not capped to generic) where no mask or recurrent dropout is
// given; the backward's product runs on its micro-kernel then too.
bool lstm_fused(Tensor W_h) { return simd_for(W_h) != nullptr; }

std::vector<Tensor> lstm_backward(Tensor W_h, Tensor gates, Tensor c_seq, Tensor tanh_c,
                                  std::optional<Tensor> mask,
                                  std::optional<Tensor> recurrent_mask,
                                  std::optional<Tensor> dy, Tensor dh_T, Tensor dc_T,
                                  std::optional<Tensor> start, std::optional<Tensor> prefix_hc,
                                  std::optional<Tensor> prefix_gates,
                                  std::optional<Tensor> prefix_tanh_c,
                                  std::optional<Tensor> record_dh,
                                  std::optional<Tensor> record_dc) {
  TORCH_CHECK(gates.dim() == 3 && gates.is_contiguous() && c_seq.is_contiguous() &&
                  tanh_c.is_contiguous() && W_h.is_contiguous(),
              "rnnkit_ext: the saved buffers must be contiguous");
  for (const auto& [t, name] : {std::pair{&W_h, "W_h"}, {&dh_T, "dh_T"}, {&dc_T, "dc_T"}}) {
    check_input(*t, gates, name);
  }
  if (dy) check_input(*dy, gates, "dy");
  TORCH_CHECK(!start || (prefix_hc && prefix_gates && prefix_tanh_c && !mask && !recurrent_mask),
              "rnnkit_ext: `start` needs the prefix buffers of the forward, and no masks");
  for (const auto* record : {&record_dh, &record_dc}) {
    if (!record->has_value()) continue;
    check_input(**record, gates, "record");
    TORCH_CHECK(!start && (*record)->is_contiguous() && (*record)->dim() == 3 &&
                    (*record)->size(0) == gates.size(0) && (*record)->size(1) == gates.size(1) &&
                    (*record)->size(2) == gates.size(2) / 4,
                "rnnkit_ext: a record expected a contiguous (T, N, H) tensor, without `start`");
  }
  return AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_lstm_backward", [&] {
    return backward_impl<scalar_t>(W_h, gates, c_seq, tanh_c, mask, recurrent_mask, dy, dh_T,
                                   dc_T, start ? start->data_ptr<int64_t>() : nullptr,
                                   prefix_hc, prefix_gates, prefix_tanh_c, record_dh, record_dc);
  });
}

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit_ext, m) {
  m.def("lstm_fused", &rnnkit::lstm_fused);
  m.def("lstm_forward", &rnnkit::lstm_forward);
  m.def("lstm_infer", &rnnkit::lstm_infer);
  m.def("lstm_backward", &rnnkit::lstm_backward);
  m.def("simd_isa", &rnnkit::simd_isa);
  m.def("simd_select", &rnnkit::simd_select);
  m.def("simd_missing", &rnnkit::simd_missing);
}
