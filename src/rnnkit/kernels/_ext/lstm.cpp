// The step loops of rnnkit's whole-sequence LSTM (rnnkit/kernels/lstm.py), forward and backward,
// in C++: per step one GEMM through ATen (MKL / oneDNN) and one fused pass over the step's
// (N, 4H) gates, in place of about ten torch ops (forward) and fourteen (backward) per step.
//
// Same buffers, layout and equations as the Python loops in lstm.py, which stay the reference
// implementation: everything is time-major, in processing order, packed [i | f | g | o],
//
//   z = x_t @ W_x + b + h_rec @ W_h,  h_rec = h_prev (* recurrent_mask)
//   i, f, g, o = sigmoid(z_i), sigmoid(z_f), tanh(z_g), sigmoid(z_o)
//   c = f * c_prev + i * g
//   h = o * tanh(c)
//
// and a padded step (mask false) keeps h, c and repeats the previous output.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <optional>
#include <vector>

#include "_loops.h"
#include "_math.h"

namespace rnnkit {
namespace {

using at::Tensor;

// One forward step of one row: gates in place over z (4H), c, tanh(c), h.
template <typename S>
RNNKIT_INLINE void forward_row(S* __restrict z, const S* __restrict c_prev, S* __restrict c,
                        S* __restrict tanh_c, S* __restrict h, int64_t H) {
  S* __restrict zi = z;
  S* __restrict zf = z + H;
  S* __restrict zg = z + 2 * H;
  S* __restrict zo = z + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const S i = sigmoid(zi[j]), f = sigmoid(zf[j]), g = tanh_(zg[j]), o = sigmoid(zo[j]);
    const S c_new = f * c_prev[j] + i * g;
    const S tc = tanh_(c_new);
    zi[j] = i;
    zf[j] = f;
    zg[j] = g;
    zo[j] = o;
    c[j] = c_new;
    tanh_c[j] = tc;
    h[j] = o * tc;
  }
}

template <typename S>
std::vector<Tensor> forward_impl(Tensor gates, const Tensor& h0, const Tensor& c0,
                                 const Tensor& W_h, const std::optional<Tensor>& mask,
                                 const std::optional<Tensor>& recurrent_mask) {
  const int64_t T = gates.size(0), N = gates.size(1), H = gates.size(2) / 4;
  const auto opts = gates.options();
  Tensor h_seq = at::empty({T + 1, N, H}, opts);  // h_seq[t] is h_prev of step t
  Tensor c_seq = at::empty({T + 1, N, H}, opts);
  Tensor tanh_c = at::empty({T, N, H}, opts);
  h_seq[0].copy_(h0);
  c_seq[0].copy_(c0);
  const bool masked = mask.has_value(), dropped = recurrent_mask.has_value();
  Tensor rm = dropped ? recurrent_mask->contiguous() : Tensor();
  // what W_h multiplies: h_prev, or h_prev * recurrent_mask
  Tensor h_rec = dropped ? at::empty({T, N, H}, opts) : h_seq.narrow(0, 0, T);
  Tensor y_seq = masked ? at::empty({T, N, H}, opts) : h_seq.narrow(0, 1, T);
  Tensor m_seq = masked ? mask->contiguous() : Tensor();  // (T, N, 1) bool

  S* G = gates.data_ptr<S>();
  S* hs = h_seq.data_ptr<S>();
  S* cs = c_seq.data_ptr<S>();
  S* tcs = tanh_c.data_ptr<S>();
  S* hr = h_rec.data_ptr<S>();
  S* ys = masked ? y_seq.data_ptr<S>() : nullptr;
  const S* rmp = dropped ? rm.data_ptr<S>() : nullptr;
  const bool* ms = masked ? m_seq.data_ptr<bool>() : nullptr;
  const int64_t NH = N * H;
  if (dropped) {  // h_rec[0] = h0 * recurrent_mask; later steps write h_rec[t + 1] themselves
    for (int64_t k = 0; k < NH; ++k) hr[k] = hs[k] * rmp[k];
  }

  for (int64_t t = 0; t < T; ++t) {
    Tensor z = gates[t];  // (N, 4H), holds x_t @ W_x + b
    z.addmm_(h_rec[t], W_h);  // z += h_rec @ W_h
    S* zt = G + t * N * 4 * H;
    const S* h_prev = hs + t * NH;
    const S* c_prev = cs + t * NH;
    S* h = hs + (t + 1) * NH;
    S* c = cs + (t + 1) * NH;
    S* tc = tcs + t * NH;
    S* y = masked ? ys + t * NH : nullptr;
    S* h_rec_next = (dropped && t + 1 < T) ? hr + (t + 1) * NH : nullptr;
    for_rows(N, [&](int64_t n) {
      const int64_t r = n * H;
      forward_row<S>(zt + n * 4 * H, c_prev + r, c + r, tc + r, h + r, H);
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
    });
  }
  return {h_seq, c_seq, tanh_c, h_rec, y_seq};
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

template <typename S>
std::vector<Tensor> backward_impl(const Tensor& W_h, const Tensor& gates, const Tensor& c_seq,
                                  const Tensor& tanh_c, const std::optional<Tensor>& mask,
                                  const std::optional<Tensor>& recurrent_mask, Tensor dy,
                                  const Tensor& dh_T, const Tensor& dc_T) {
  const int64_t T = gates.size(0), N = gates.size(1), H = gates.size(2) / 4;
  const auto opts = gates.options();
  if (dy.stride(2) != 1) dy = dy.contiguous();  // (N, T, H), any row strides
  Tensor dZ = at::empty({T, N, 4 * H}, opts);  // dLoss/dz of every step
  Tensor dh_next = dh_T.clone(at::MemoryFormat::Contiguous);  // dLoss/dh_t from after t
  Tensor dc_next = dc_T.clone(at::MemoryFormat::Contiguous);
  Tensor dh = at::empty({N, H}, opts);  // into h_t from y_t and step t+1
  const bool masked = mask.has_value(), dropped = recurrent_mask.has_value();
  Tensor dh_rec = (masked || dropped) ? at::empty({N, H}, opts) : dh_next;  // into h_rec
  Tensor dy_carry = masked ? at::zeros({N, H}, opts) : Tensor();  // from padded repeats of y_t
  Tensor rm = dropped ? recurrent_mask->contiguous() : Tensor();
  Tensor m_seq = masked ? mask->contiguous() : Tensor();
  const Tensor W_hT = W_h.t();  // (4H, H)

  const S* Gs = gates.data_ptr<S>();
  const S* cs = c_seq.data_ptr<S>();
  const S* tcs = tanh_c.data_ptr<S>();
  const S* dyp = dy.data_ptr<S>();
  const int64_t dy_sn = dy.stride(0), dy_st = dy.stride(1);
  S* dZs = dZ.data_ptr<S>();
  S* dhn = dh_next.data_ptr<S>();
  S* dcn = dc_next.data_ptr<S>();
  S* dhp = dh.data_ptr<S>();
  S* dhr = dh_rec.data_ptr<S>();
  S* carry = masked ? dy_carry.data_ptr<S>() : nullptr;
  const S* rmp = dropped ? rm.data_ptr<S>() : nullptr;
  const bool* ms = masked ? m_seq.data_ptr<bool>() : nullptr;
  const int64_t NH = N * H;

  for (int64_t t = T - 1; t >= 0; --t) {
    const S* G = Gs + t * N * 4 * H;
    const S* c_prev = cs + t * NH;
    const S* tc = tcs + t * NH;
    S* dz = dZs + t * N * 4 * H;
    for_rows(N, [&](int64_t n) {
      const int64_t r = n * H;
      const S* dy_t = dyp + n * dy_sn + t * dy_st;
      S* d_h = dhp + r;
      if (!masked) {
        for (int64_t j = 0; j < H; ++j) d_h[j] = dhn[r + j] + dy_t[j];
      } else {  // padded step: the state and the output pass through, the cell gets nothing
        const bool m = ms[t * N + n];
        S* cr = carry + r;
        for (int64_t j = 0; j < H; ++j) {
          const S dyt = dy_t[j] + cr[j];  // into y_t: from y_t and its repeats
          cr[j] = m ? S(0) : dyt;          // into y_{t-1}, which padding repeated
          d_h[j] = dhn[r + j] + dyt;       // into the cell's h_t (real rows only)
        }
        if (!m) {
          for (int64_t k = 0; k < 4 * H; ++k) dz[n * 4 * H + k] = S(0);
          return;  // dc_next, dh_next pass through unchanged
        }
      }
      backward_row<S>(G + n * 4 * H, c_prev + r, tc + r, d_h, dcn + r, dz + n * 4 * H, H);
    });
    // into h_rec of step t, through z = ... + h_rec @ W_h
    at::mm_out(dh_rec, dZ[t], W_hT);
    if (masked || dropped) {  // into h_{t-1}: through h_prev * recurrent_mask, or pass-through
      for (int64_t n = 0; n < N; ++n) {
        if (masked && !ms[t * N + n]) continue;  // padded: dh_next passes through
        const int64_t r = n * H;
        for (int64_t j = 0; j < H; ++j) {
          dhn[r + j] = dropped ? dhr[r + j] * rmp[r + j] : dhr[r + j];
        }
      }
    }
  }
  return {dZ, dh_next, dc_next};
}

std::vector<Tensor> lstm_forward(Tensor gates, Tensor h0, Tensor c0, Tensor W_h,
                                 std::optional<Tensor> mask,
                                 std::optional<Tensor> recurrent_mask) {
  TORCH_CHECK(gates.dim() == 3 && gates.is_contiguous() && gates.size(2) % 4 == 0,
              "rnnkit_ext: `gates` expected a contiguous (T, N, 4H) tensor");
  for (const auto& [t, name] : {std::pair{&h0, "h0"}, {&c0, "c0"}, {&W_h, "W_h"}}) {
    check_input(*t, gates, name);
  }
  if (recurrent_mask) check_input(*recurrent_mask, gates, "recurrent_mask");
  return AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_lstm_forward", [&] {
    return forward_impl<scalar_t>(gates, h0, c0, W_h, mask, recurrent_mask);
  });
}

std::vector<Tensor> lstm_backward(Tensor W_h, Tensor gates, Tensor c_seq, Tensor tanh_c,
                                  std::optional<Tensor> mask,
                                  std::optional<Tensor> recurrent_mask, Tensor dy, Tensor dh_T,
                                  Tensor dc_T) {
  TORCH_CHECK(gates.dim() == 3 && gates.is_contiguous() && c_seq.is_contiguous() &&
                  tanh_c.is_contiguous(),
              "rnnkit_ext: the saved buffers must be contiguous");
  for (const auto& [t, name] : {std::pair{&W_h, "W_h"}, {&dy, "dy"}, {&dh_T, "dh_T"},
                                {&dc_T, "dc_T"}}) {
    check_input(*t, gates, name);
  }
  return AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_lstm_backward", [&] {
    return backward_impl<scalar_t>(W_h, gates, c_seq, tanh_c, mask, recurrent_mask, dy, dh_T,
                                   dc_T);
  });
}

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit_ext, m) {
  m.def("lstm_forward", &rnnkit::lstm_forward);
  m.def("lstm_backward", &rnnkit::lstm_backward);
}
