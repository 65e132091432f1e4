"""Layers against torch.nn.RNN / LSTM / GRU with copied weights: outputs and gradients.

Every test runs each implementation that can serve the options (the reference loop, rnnkit's
kernel, PyTorch's native operator), so all paths are held to the same oracle.
"""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.layers import GRU, LSTM, Bidirectional, SimpleRNN

N, T, D, H = 4, 7, 5, 6
TOL = dict(atol=1e-5, rtol=1e-5)

KINDS = {
    "lstm": (LSTM, nn.LSTM, 2),
    "gru": (GRU, nn.GRU, 1),
    "simple_rnn": (SimpleRNN, nn.RNN, 1),
}


def impls(cell, masked=False):
    out = ["reference", "kernel"]  # rnnkit's kernel serves every cell and option
    if not masked:
        out.append("native")
    return out


def _rzn_to_zrn(w, dim):
    r, z, n = w.chunk(3, dim=dim)
    return torch.cat([z, r, n], dim=dim)


def copy_from_torch(layer, module, suffix="_l0"):
    """Put a torch.nn recurrent module's weights into an rnnkit layer (Keras layout)."""
    w_ih = getattr(module, f"weight_ih{suffix}").detach()
    w_hh = getattr(module, f"weight_hh{suffix}").detach()
    b_ih = getattr(module, f"bias_ih{suffix}").detach()
    b_hh = getattr(module, f"bias_hh{suffix}").detach()
    with torch.no_grad():
        if isinstance(layer, GRU):
            layer.W_x.copy_(_rzn_to_zrn(w_ih, 0).t())
            layer.W_h.copy_(_rzn_to_zrn(w_hh, 0).t())
            layer.b_x.copy_(_rzn_to_zrn(b_ih, 0))
            layer.b_h.copy_(_rzn_to_zrn(b_hh, 0))
        else:
            layer.W_x.copy_(w_ih.t())
            layer.W_h.copy_(w_hh.t())
            layer.b.copy_(b_ih + b_hh)


def torch_grads_in_our_layout(layer, module, suffix="_l0"):
    g_ih = getattr(module, f"weight_ih{suffix}").grad
    g_hh = getattr(module, f"weight_hh{suffix}").grad
    if isinstance(layer, GRU):
        return {
            "W_x": _rzn_to_zrn(g_ih, 0).t(),
            "W_h": _rzn_to_zrn(g_hh, 0).t(),
            "b_x": _rzn_to_zrn(getattr(module, f"bias_ih{suffix}").grad, 0),
            "b_h": _rzn_to_zrn(getattr(module, f"bias_hh{suffix}").grad, 0),
        }
    # b = bias_ih + bias_hh, so dL/db equals either one's gradient.
    return {"W_x": g_ih.t(), "W_h": g_hh.t(), "b": getattr(module, f"bias_ih{suffix}").grad}


def make_pair(kind, impl, **options):
    ours_cls, torch_cls, n_states = KINDS[kind]
    module = torch_cls(D, H, batch_first=True, **options.pop("torch", {}))
    layer = ours_cls(H, return_sequences=True, return_state=True, impl=impl, **options)
    layer.build((None, None, D))
    copy_from_torch(layer, module)
    return layer, module, n_states


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("with_initial_state", [False, True])
def test_matches_torch_outputs_and_gradients(kind, with_initial_state):
    for impl in impls(kind):
        layer, module, n_states = make_pair(kind, impl)
        x = torch.randn(N, T, D)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        states = [torch.randn(N, H) for _ in range(n_states)] if with_initial_state else None
        out = layer(x1, initial_state=states)
        y, finals = out[0], out[1:]
        hx = None
        if states is not None:
            hx = tuple(s.unsqueeze(0) for s in states) if n_states == 2 else states[0].unsqueeze(0)
        y_ref, h_ref = module(x2, hx)
        finals_ref = [s[0] for s in h_ref] if n_states == 2 else [h_ref[0]]
        torch.testing.assert_close(y, y_ref, **TOL, msg=f"{kind} {impl} outputs")
        for a, b in zip(finals, finals_ref):
            torch.testing.assert_close(a, b, **TOL, msg=f"{kind} {impl} final state")
        g = torch.randn_like(y)
        gs = [torch.randn(N, H) for _ in finals]
        torch.autograd.backward([y, *finals], [g, *gs])
        torch.autograd.backward([y_ref, *finals_ref], [g, *gs])
        torch.testing.assert_close(x1.grad, x2.grad, **TOL, msg=f"{kind} {impl} dx")
        for name, ref in torch_grads_in_our_layout(layer, module).items():
            torch.testing.assert_close(
                getattr(layer, name).grad, ref, **TOL, msg=f"{kind} {impl} d{name}"
            )


def _lengths_and_mask():
    lengths = torch.tensor([7, 3, 5, 1])
    mask = torch.arange(T) < lengths.unsqueeze(1)  # (N, T), padding at the end
    return lengths, mask


@pytest.mark.parametrize("kind", list(KINDS))
def test_masked_matches_packed_sequences(kind):
    lengths, mask = _lengths_and_mask()
    for impl in impls(kind, masked=True):
        layer, module, n_states = make_pair(kind, impl)
        x = torch.randn(N, T, D)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        out = layer(x1, mask=mask)
        y, h_T = out[0], out[1]
        packed = pack_padded_sequence(x2, lengths, batch_first=True, enforce_sorted=False)
        y_packed, h_ref = module(packed)
        y_ref, _ = pad_packed_sequence(y_packed, batch_first=True, total_length=T)
        h_ref = h_ref[0][0] if n_states == 2 else h_ref[0]
        torch.testing.assert_close(h_T, h_ref, **TOL)
        torch.testing.assert_close(y[mask], y_ref[mask], **TOL)  # real steps only
        # Padded steps repeat the last real output (Keras's convention).
        for n, length in enumerate(lengths.tolist()):
            for t in range(length, T):
                torch.testing.assert_close(y[n, t], y[n, length - 1])
        (h_T.sum() + y[mask].pow(2).sum()).backward()
        (h_ref.sum() + y_ref[mask].pow(2).sum()).backward()
        torch.testing.assert_close(x1.grad, x2.grad, **TOL)
        for name, ref in torch_grads_in_our_layout(layer, module).items():
            torch.testing.assert_close(getattr(layer, name).grad, ref, **TOL, msg=f"{impl} {name}")


def test_lengths_argument_equals_mask():
    lengths, mask = _lengths_and_mask()
    layer = LSTM(H, return_sequences=True)
    x = torch.randn(N, T, D)
    torch.testing.assert_close(layer(x, lengths=lengths), layer(x, mask=mask))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("masked", [False, True])
def test_bidirectional_matches_torch(kind, masked):
    ours_cls, torch_cls, n_states = KINDS[kind]
    lengths, mask = _lengths_and_mask()
    for impl in impls(kind, masked):
        module = torch_cls(D, H, batch_first=True, bidirectional=True)
        layer = Bidirectional(ours_cls(H, return_sequences=True, return_state=True, impl=impl))
        layer.build((None, None, D))
        copy_from_torch(layer.forward_layer, module, "_l0")
        copy_from_torch(layer.backward_layer, module, "_l0_reverse")
        x = torch.randn(N, T, D)
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        out = layer(x1, mask=mask if masked else None)
        y, states = out[0], out[1:]
        if masked:
            packed = pack_padded_sequence(x2, lengths, batch_first=True, enforce_sorted=False)
            y_p, h_ref = module(packed)
            y_ref, _ = pad_packed_sequence(y_p, batch_first=True, total_length=T)
        else:
            y_ref, h_ref = module(x2)
        h_ref = h_ref[0] if n_states == 2 else h_ref  # (2, N, H): forward, backward
        torch.testing.assert_close(y, y_ref, **TOL, msg=f"{kind} {impl}")  # padding: zeros
        torch.testing.assert_close(states[0], h_ref[0], **TOL)
        torch.testing.assert_close(states[n_states], h_ref[1], **TOL)
        y.pow(2).sum().backward()
        y_ref.pow(2).sum().backward()
        torch.testing.assert_close(x1.grad, x2.grad, **TOL)
        for name, ref in torch_grads_in_our_layout(
            layer.backward_layer, module, "_l0_reverse"
        ).items():
            torch.testing.assert_close(getattr(layer.backward_layer, name).grad, ref, **TOL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_stacked_matches_two_layer_torch(kind):
    ours_cls, torch_cls, _n_states = KINDS[kind]
    module = torch_cls(D, H, num_layers=2, batch_first=True)
    first = ours_cls(H, return_sequences=True)
    second = ours_cls(H)
    first.build((None, None, D))
    second.build((None, None, H))
    copy_from_torch(first, module, "_l0")
    copy_from_torch(second, module, "_l1")
    x = torch.randn(N, T, D)
    y = second(first(x))
    y_ref, _ = module(x)
    torch.testing.assert_close(y, y_ref[:, -1], **TOL)
    y.sum().backward()
    y_ref[:, -1].sum().backward()
    for name, ref in torch_grads_in_our_layout(first, module, "_l0").items():
        torch.testing.assert_close(getattr(first, name).grad, ref, **TOL)


def test_go_backwards_reverses_processing_order():
    layer = LSTM(H, return_sequences=True, go_backwards=True)
    fwd = LSTM(H, return_sequences=True)
    x = torch.randn(N, T, D)
    layer.build(x.shape)
    fwd.build(x.shape)
    fwd.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(x), fwd(x.flip(1)))
