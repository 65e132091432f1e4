// The step loops of rnnkit's whole-sequence GRU (rnnkit/kernels/gru.py), forward and backward,
// in C++: per step the recurrent GEMMs through ATen and fused passes over the step's gates.
//
// Same buffers, layout and equations as the Python loops in gru.py (time-major, processing
// order, gates packed [z | r | n] as Keras):
//
//   a = x_t @ W_x + b_x,  h_rec = h_prev (* recurrent_mask)
//   reset_after:  hp = h_rec @ W_h + b_h
//                 z, r = sigmoid(a_z + hp_z), sigmoid(a_r + hp_r);  n = tanh(a_n + r * hp_n)
//   reset before: z, r = sigmoid(a_zr + h_rec @ W_hzr);  n = tanh(a_n + (r * h_rec) @ W_hn)
//   h = z * h_prev + (1 - z) * n
//
// and a padded step (mask false) keeps h and repeats the previous output.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <optional>
#include <vector>

#include "_loops.h"
#include "_math.h"

namespace rnnkit {
namespace {

using at::Tensor;

// After the cell of row r computed h: apply the mask, write y and the next step's h_rec.
template <typename S>
RNNKIT_INLINE void finish_row(bool masked, bool real, int64_t t, const S* h_prev, S* h, S* y,
                              int64_t NH, S* h_rec_next, const S* rm, int64_t H) {
  if (masked) {  // a padded step keeps the state and repeats the output
    if (real) {
      for (int64_t j = 0; j < H; ++j) y[j] = h[j];
    } else {
      for (int64_t j = 0; j < H; ++j) {
        y[j] = t > 0 ? y[j - NH] : S(0);
        h[j] = h_prev[j];
      }
    }
  }
  if (h_rec_next) {
    for (int64_t j = 0; j < H; ++j) h_rec_next[j] = h[j] * rm[j];
  }
}

// Forward, reset_after, one row: the gates in place over a (z, r, n slices), h.
template <typename S>
RNNKIT_INLINE void forward_row_after(S* __restrict a_z, S* __restrict a_r, S* __restrict a_n,
                                     const S* __restrict hp_z, const S* __restrict hp_r,
                                     const S* __restrict hp_n, const S* __restrict h_prev,
                                     S* __restrict h, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const S z = sigmoid(a_z[j] + hp_z[j]);
    const S r = sigmoid(a_r[j] + hp_r[j]);
    const S n = tanh_(a_n[j] + r * hp_n[j]);
    a_z[j] = z;
    a_r[j] = r;
    a_n[j] = n;
    h[j] = n + z * (h_prev[j] - n);  // z * h_prev + (1 - z) * n
  }
}

// Backward, reset_after, one real row: dLoss/da and dLoss/dhp from dh; dh * z.
template <typename S>
RNNKIT_INLINE void backward_row_after(const S* __restrict g_z, const S* __restrict g_r,
                                      const S* __restrict g_n, const S* __restrict hp_n,
                                      const S* __restrict h_prev, const S* __restrict dh,
                                      S* __restrict da_z, S* __restrict da_r,
                                      S* __restrict da_n, S* __restrict dhp_z,
                                      S* __restrict dhp_r, S* __restrict dhp_n,
                                      S* __restrict dh_z, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const S z = g_z[j], r = g_r[j], n = g_n[j], d = dh[j];
    const S dz = (h_prev[j] - n) * d * z * (S(1) - z);  // into a_z (and hp_z)
    const S dn = (d - d * z) * (S(1) - n * n);          // into a_n
    const S dr = dn * hp_n[j] * r * (S(1) - r);         // into a_r (and hp_r), through r * hp_n
    da_z[j] = dz;
    da_r[j] = dr;
    da_n[j] = dn;
    dhp_z[j] = dz;
    dhp_r[j] = dr;
    dhp_n[j] = dn * r;  // into hp_n, through r * hp_n
    dh_z[j] = d * z;    // into h_prev, through z * h_prev
  }
}

// Backward, reset before, one real row: dLoss/da_z, dLoss/da_n from dh; dh * z.
template <typename S>
RNNKIT_INLINE void backward_row_before(const S* __restrict g_z, const S* __restrict g_n,
                                       const S* __restrict h_prev, const S* __restrict dh,
                                       S* __restrict da_z, S* __restrict da_n,
                                       S* __restrict dh_z, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const S z = g_z[j], n = g_n[j], d = dh[j];
    da_z[j] = (h_prev[j] - n) * d * z * (S(1) - z);
    da_n[j] = (d - d * z) * (S(1) - n * n);
    dh_z[j] = d * z;
  }
}

template <typename S>
std::vector<Tensor> forward_impl(Tensor gates, const Tensor& h0, const Tensor& W_h,
                                 const std::optional<Tensor>& b_h,
                                 const std::optional<Tensor>& mask,
                                 const std::optional<Tensor>& recurrent_mask, bool reset_after) {
  const int64_t T = gates.size(0), N = gates.size(1), H = gates.size(2) / 3;
  const auto opts = gates.options();
  Tensor h_seq = at::empty({T + 1, N, H}, opts);  // h_seq[t] is h_prev of step t
  h_seq[0].copy_(h0);
  const bool masked = mask.has_value(), dropped = recurrent_mask.has_value();
  Tensor rm = dropped ? recurrent_mask->contiguous() : Tensor();
  Tensor h_rec = dropped ? at::empty({T, N, H}, opts) : h_seq.narrow(0, 0, T);
  Tensor y_seq = masked ? at::empty({T, N, H}, opts) : h_seq.narrow(0, 1, T);
  Tensor m_seq = masked ? mask->contiguous() : Tensor();  // (T, N, 1) bool
  // reset_after: hp = h_rec @ W_h + b_h (T, N, 3H); else rh = r * h_rec (T, N, H)
  Tensor saved = at::empty({T, N, reset_after ? 3 * H : H}, opts);
  const Tensor W_hzr = W_h.narrow(1, 0, 2 * H), W_hn = W_h.narrow(1, 2 * H, H);

  S* G = gates.data_ptr<S>();
  S* hs = h_seq.data_ptr<S>();
  S* hr = h_rec.data_ptr<S>();
  S* sv = saved.data_ptr<S>();
  S* ys = masked ? y_seq.data_ptr<S>() : nullptr;
  const S* rmp = dropped ? rm.data_ptr<S>() : nullptr;
  const bool* ms = masked ? m_seq.data_ptr<bool>() : nullptr;
  const int64_t NH = N * H, H3 = 3 * H;
  if (dropped) {
    for (int64_t k = 0; k < NH; ++k) hr[k] = hs[k] * rmp[k];
  }

  for (int64_t t = 0; t < T; ++t) {
    Tensor a = gates[t];  // (N, 3H), holds x_t @ W_x + b_x
    S* at_ = G + t * N * H3;
    const S* h_prev = hs + t * NH;
    S* h = hs + (t + 1) * NH;
    const S* h_rec_t = hr + t * NH;
    S* h_rec_next = (dropped && t + 1 < T) ? hr + (t + 1) * NH : nullptr;
    S* y = masked ? ys + t * NH : nullptr;
    if (reset_after) {
      Tensor hp = saved[t];  // (N, 3H)
      if (b_h) {
        at::addmm_out(hp, *b_h, h_rec[t], W_h);
      } else {
        at::mm_out(hp, h_rec[t], W_h);
      }
      const S* hpt = sv + t * N * H3;
      for_rows(N, [&](int64_t n) {
        S* ar = at_ + n * H3;
        const S* hpr = hpt + n * H3;
        const int64_t r0 = n * H;
        forward_row_after<S>(ar, ar + H, ar + 2 * H, hpr, hpr + H, hpr + 2 * H, h_prev + r0,
                             h + r0, H);
        finish_row<S>(masked, masked && ms[t * N + n], t, h_prev + r0, h + r0,
                      masked ? y + r0 : nullptr, NH, h_rec_next ? h_rec_next + r0 : nullptr,
                      rmp ? rmp + r0 : nullptr, H);
      });
    } else {
      Tensor a_zr = a.narrow(1, 0, 2 * H), a_n = a.narrow(1, 2 * H, H);
      a_zr.addmm_(h_rec[t], W_hzr);  // a_zr + h_rec @ W_hzr
      S* rh = sv + t * NH;
      for_rows(N, [&](int64_t n) {
        S* __restrict ar = at_ + n * H3;
        const S* __restrict hrr = h_rec_t + n * H;
        S* __restrict rhr = rh + n * H;
        for (int64_t j = 0; j < H; ++j) {
          const S z = sigmoid(ar[j]), r = sigmoid(ar[H + j]);
          ar[j] = z;
          ar[H + j] = r;
          rhr[j] = r * hrr[j];
        }
      });
      a_n.addmm_(saved[t], W_hn);  // a_n + (r * h_rec) @ W_hn
      for_rows(N, [&](int64_t n) {
        S* __restrict ar = at_ + n * H3;
        const int64_t r0 = n * H;
        const S* __restrict hp_r = h_prev + r0;
        S* __restrict h_r = h + r0;
        for (int64_t j = 0; j < H; ++j) {
          const S nn = tanh_(ar[2 * H + j]), z = ar[j];
          ar[2 * H + j] = nn;
          h_r[j] = nn + z * (hp_r[j] - nn);
        }
        finish_row<S>(masked, masked && ms[t * N + n], t, h_prev + r0, h + r0,
                      masked ? y + r0 : nullptr, NH, h_rec_next ? h_rec_next + r0 : nullptr,
                      rmp ? rmp + r0 : nullptr, H);
      });
    }
  }
  return {h_seq, h_rec, saved, y_seq};
}

template <typename S>
std::vector<Tensor> backward_impl(const Tensor& W_h, const Tensor& gates, const Tensor& h_seq,
                                  const Tensor& h_rec, const Tensor& saved,
                                  const std::optional<Tensor>& mask,
                                  const std::optional<Tensor>& recurrent_mask, bool reset_after,
                                  Tensor dy, const Tensor& dh_T,
                                  const std::optional<Tensor>& record_dh) {
  const int64_t T = gates.size(0), N = gates.size(1), H = gates.size(2) / 3;
  const auto opts = gates.options();
  if (dy.stride(2) != 1) dy = dy.contiguous();  // (N, T, H), any row strides
  Tensor dA = at::empty({T, N, 3 * H}, opts);  // dLoss/da, a = x_t @ W_x + b_x
  Tensor dHP = reset_after ? at::empty({T, N, 3 * H}, opts) : Tensor();  // dLoss/dhp
  Tensor dh_next = dh_T.clone(at::MemoryFormat::Contiguous);
  Tensor dh = at::empty({N, H}, opts);
  Tensor dhz = at::empty({N, H}, opts);  // dh * z: into h_prev through z * h_prev
  Tensor dh_rec = at::empty({N, H}, opts);
  const bool masked = mask.has_value(), dropped = recurrent_mask.has_value();
  Tensor dy_carry = masked ? at::zeros({N, H}, opts) : Tensor();
  Tensor rm = dropped ? recurrent_mask->contiguous() : Tensor();
  Tensor m_seq = masked ? mask->contiguous() : Tensor();
  const Tensor W_hT = W_h.t();                           // (3H, H)
  const Tensor W_hzrT = W_h.narrow(1, 0, 2 * H).t();     // (2H, H)
  const Tensor W_hnT = W_h.narrow(1, 2 * H, H).t();      // (H, H)

  const S* Gs = gates.data_ptr<S>();
  const S* hs = h_seq.data_ptr<S>();
  const S* hr = h_rec.data_ptr<S>();
  const S* sv = saved.data_ptr<S>();
  const S* dyp = dy.data_ptr<S>();
  const int64_t dy_sn = dy.stride(0), dy_st = dy.stride(1);
  S* dAs = dA.data_ptr<S>();
  S* dHPs = reset_after ? dHP.data_ptr<S>() : nullptr;
  S* dhn = dh_next.data_ptr<S>();
  S* dhp = dh.data_ptr<S>();
  S* dhzp = dhz.data_ptr<S>();
  S* dhr = dh_rec.data_ptr<S>();
  S* carry = masked ? dy_carry.data_ptr<S>() : nullptr;
  const S* rmp = dropped ? rm.data_ptr<S>() : nullptr;
  const bool* ms = masked ? m_seq.data_ptr<bool>() : nullptr;
  const int64_t NH = N * H, H3 = 3 * H;
  S* rec_h = record_dh ? record_dh->data_ptr<S>() : nullptr;  // the gradient readout, if asked

  for (int64_t t = T - 1; t >= 0; --t) {
    const S* G = Gs + t * N * H3;
    const S* h_prev = hs + t * NH;
    const S* h_rec_t = hr + t * NH;
    S* da = dAs + t * N * H3;
    S* dhp_t = reset_after ? dHPs + t * N * H3 : nullptr;
    const S* hp_t = reset_after ? sv + t * N * H3 : nullptr;
    for_rows(N, [&](int64_t n) {
      const int64_t r0 = n * H;
      const S* dy_t = dyp + n * dy_sn + t * dy_st;
      S* __restrict d_h = dhp + r0;
      bool real = true;
      if (!masked) {
        for (int64_t j = 0; j < H; ++j) d_h[j] = dhn[r0 + j] + dy_t[j];
      } else {  // padded step: the state and the output pass through, the cell gets nothing
        real = ms[t * N + n];
        S* cr = carry + r0;
        for (int64_t j = 0; j < H; ++j) {
          const S dyt = dy_t[j] + cr[j];  // into y_t: from y_t and its repeats
          cr[j] = real ? S(0) : dyt;       // into y_{t-1}, which padding repeated
          d_h[j] = dhn[r0 + j] + dyt;
        }
      }
      if (rec_h) {  // the gradient readout: dLoss/dh_t (a padded step's h_t is h_{t-1})
        S* __restrict rec = rec_h + t * NH + r0;
        for (int64_t j = 0; j < H; ++j) rec[j] = real ? d_h[j] : dhn[r0 + j];
      }
      S* __restrict dar = da + n * H3;
      S* __restrict dhzr = dhzp + r0;
      if (!real) {
        for (int64_t k = 0; k < H3; ++k) dar[k] = S(0);
        if (reset_after) {
          for (int64_t k = 0; k < H3; ++k) dhp_t[n * H3 + k] = S(0);
        }
        return;
      }
      const S* __restrict gr = G + n * H3;
      const S* __restrict hpr = h_prev + r0;
      if (reset_after) {
        S* dhpr = dhp_t + n * H3;
        backward_row_after<S>(gr, gr + H, gr + 2 * H, hp_t + n * H3 + 2 * H, hpr, d_h, dar,
                              dar + H, dar + 2 * H, dhpr, dhpr + H, dhpr + 2 * H, dhzr, H);
      } else {  // da_r follows once dh_rec is known
        backward_row_before<S>(gr, gr + 2 * H, hpr, d_h, dar, dar + 2 * H, dhzr, H);
      }
    });
    if (reset_after) {
      at::mm_out(dh_rec, dHP[t], W_hT);  // into h_rec, through hp = h_rec @ W_h + b_h
    } else {
      Tensor da_t = dA[t];
      at::mm_out(dh_rec, da_t.narrow(1, 2 * H, H), W_hnT);  // into r * h_rec
      for_rows(N, [&](int64_t n) {
        const int64_t r0 = n * H;
        const S* __restrict gr = G + n * H3;
        const S* __restrict hrr = h_rec_t + r0;
        S* __restrict dar = da + n * H3;
        S* __restrict dhrr = dhr + r0;
        for (int64_t j = 0; j < H; ++j) {
          const S r = gr[H + j];
          dar[H + j] = dhrr[j] * hrr[j] * r * (S(1) - r);  // into a_r, through r * h_rec
          dhrr[j] *= r;                                     // into h_rec, through r * h_rec
        }
      });
      dh_rec.addmm_(da_t.narrow(1, 0, 2 * H), W_hzrT);  // into h_rec, through h_rec @ W_hzr
    }
    // into h_{t-1}: through z * h_prev and h_rec (* recurrent_mask), or pass-through
    for (int64_t n = 0; n < N; ++n) {
      if (masked && !ms[t * N + n]) continue;
      const int64_t r0 = n * H;
      for (int64_t j = 0; j < H; ++j) {
        dhn[r0 + j] = dhzp[r0 + j] + (dropped ? dhr[r0 + j] * rmp[r0 + j] : dhr[r0 + j]);
      }
    }
  }
  if (!reset_after) dHP = at::empty({0}, opts);
  return {dA, dHP, dh_next};
}

std::vector<Tensor> gru_forward(Tensor gates, Tensor h0, Tensor W_h, std::optional<Tensor> b_h,
                                std::optional<Tensor> mask,
                                std::optional<Tensor> recurrent_mask, bool reset_after) {
  TORCH_CHECK(gates.dim() == 3 && gates.is_contiguous() && gates.size(2) % 3 == 0,
              "rnnkit_ext: `gates` expected a contiguous (T, N, 3H) tensor");
  check_input(h0, gates, "h0");
  check_input(W_h, gates, "W_h");
  if (b_h) check_input(*b_h, gates, "b_h");
  if (recurrent_mask) check_input(*recurrent_mask, gates, "recurrent_mask");
  return AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_gru_forward", [&] {
    return forward_impl<scalar_t>(gates, h0, W_h, b_h, mask, recurrent_mask, reset_after);
  });
}

std::vector<Tensor> gru_backward(Tensor W_h, Tensor gates, Tensor h_seq, Tensor h_rec,
                                 Tensor saved, std::optional<Tensor> mask,
                                 std::optional<Tensor> recurrent_mask, bool reset_after,
                                 Tensor dy, Tensor dh_T, std::optional<Tensor> record_dh) {
  TORCH_CHECK(gates.is_contiguous() && h_seq.is_contiguous() && h_rec.is_contiguous() &&
                  saved.is_contiguous(),
              "rnnkit_ext: the saved buffers must be contiguous");
  check_input(W_h, gates, "W_h");
  check_input(dy, gates, "dy");
  check_input(dh_T, gates, "dh_T");
  if (record_dh) {
    check_input(*record_dh, gates, "record_dh");
    TORCH_CHECK(record_dh->is_contiguous() && record_dh->dim() == 3 &&
                    record_dh->size(0) == gates.size(0) && record_dh->size(1) == gates.size(1) &&
                    record_dh->size(2) == gates.size(2) / 3,
                "rnnkit_ext: `record_dh` expected a contiguous (T, N, H) tensor");
  }
  return AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_gru_backward", [&] {
    return backward_impl<scalar_t>(W_h, gates, h_seq, h_rec, saved, mask, recurrent_mask,
                                   reset_after, dy, dh_T, record_dh);
  });
}

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit_ext, m) {
  m.def("gru_forward", &rnnkit::gru_forward);
  m.def("gru_backward", &rnnkit::gru_backward);
}
