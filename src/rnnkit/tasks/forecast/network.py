"""The forecasting network and its training loop: rnnkit recurrent layers -> Dense -> a mean and
a scale per forecast step, trained by the Gaussian negative log-likelihood.

Why a Gaussian output rather than quantile (pinball) losses: one output head gives the point
forecast (the mean) and an interval at any level from the same network (80% and 95% without
retraining); its quantiles never cross; the members of an ensemble combine by their moments
(mean of means, variance = mean variance + variance of the means); and the interval width can
be calibrated afterwards with one factor. The price is a symmetric interval in the scaled
space (after the log transform, a skewed one in the data's units).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from ...layers import GRU, LSTM, Dense
from .config import ForecastConfig

CELLS = {"lstm": LSTM, "gru": GRU}
MIN_SCALE = 1e-3  # the smallest standard deviation the network may output (scaled units)


class ForecastNet(nn.Module):
    """``(N, T, C)`` windows -> means ``(N, H)`` and standard deviations ``(N, H)``.

    ``layers`` recurrent layers of ``units`` (the last returns its final state), then one
    ``Dense(2 H)``: the first ``H`` outputs are the means, the softplus of the others (plus
    :data:`MIN_SCALE`) the standard deviations, both in scaled units.
    """

    def __init__(self, config: ForecastConfig, n_inputs: int, horizon: int):
        super().__init__()
        cell = CELLS[config.cell]
        self.horizon = horizon
        self.recurrent = nn.ModuleList(
            cell(
                config.units,
                return_sequences=k < config.layers - 1,
                dropout=config.dropout,
                input_shape=(None, n_inputs if k == 0 else config.units),
            )
            for k in range(config.layers)
        )
        self.head = Dense(2 * horizon, input_shape=(config.units,))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = x  # (N, T, C)
        for layer in self.recurrent:
            h = layer(h)  # (N, T, units), the last layer (N, units)
        out = self.head(h)  # (N, 2H)
        mean, raw = out[:, : self.horizon], out[:, self.horizon :]  # (N, H) each
        scale = nn.functional.softplus(raw) + MIN_SCALE
        return mean, scale


@contextlib.contextmanager
def one_thread():
    """Run PyTorch on one thread inside the block (restored after it). These networks are
    tiny (tens of units, windows of tens of steps): a second thread only adds synchronisation,
    and on a busy machine it made a GRU's backward pass 170 times slower (4,065 ms against
    23 ms for 60 windows of 24 steps, 2 cores shared by 8 processes)."""
    before = torch.get_num_threads()
    if before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before > 1:
            torch.set_num_threads(before)


def gaussian_nll(mean: torch.Tensor, scale: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``target`` under N(mean, scale^2), without the constant."""
    return (torch.log(scale) + 0.5 * ((target - mean) / scale) ** 2).mean()


def train_member(
    config: ForecastConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    seed: int,
    device=None,
) -> tuple[ForecastNet, dict]:
    """Train one network from ``seed`` with Adam, early-stopped on the validation loss; returns
    it with the best epoch's weights and ``{"epochs", "best_epoch", "val_loss"}`` (on
    ``device``: default the CPU)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ForecastNet(config, x_train.shape[2], y_train.shape[1]).to(device or "cpu")
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    on = next(net.parameters()).device
    xt = torch.as_tensor(x_train, dtype=torch.float32, device=on)
    yt = torch.as_tensor(y_train, dtype=torch.float32, device=on)
    xv = torch.as_tensor(x_val, dtype=torch.float32, device=on)
    yv = torch.as_tensor(y_val, dtype=torch.float32, device=on)
    best, best_epoch, best_state, epoch = float("inf"), -1, None, -1
    for epoch in range(config.epochs):
        net.train()
        order = rng.permutation(len(xt))
        for start in range(0, len(order), config.batch_size):
            batch = torch.as_tensor(order[start : start + config.batch_size], device=on)
            mean, scale = net(xt[batch])
            loss = gaussian_nll(mean, scale, yt[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            val = float(gaussian_nll(*net(xv), yv))
        if val < best - 1e-6:
            best, best_epoch = val, epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        elif epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net, {"epochs": epoch + 1, "best_epoch": best_epoch + 1, "val_loss": best}


def run(net: ForecastNet, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and standard deviations ``(N, H)`` (float64) of windows ``x`` ``(N, T, C)``."""
    with torch.no_grad():
        on = next(net.parameters()).device
        mean, scale = net(torch.as_tensor(x, dtype=torch.float32, device=on))
    return mean.double().cpu().numpy(), scale.double().cpu().numpy()
