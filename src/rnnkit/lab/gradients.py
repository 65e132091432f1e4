"""How the gradient fades with distance: the readout of each cell, at initialisation and after a
short training, and the Jacobian of one step along a sequence.

The model is the adding problem's (:func:`rnnkit.lab.tasks.adding_problem`): a recurrent layer
reading ``(N, T, 2)`` and a Dense(1) on its last output, the loss (MSE) at the last step. The
readout (:func:`rnnkit.lab.record_gradients`) gives dLoss/dh_t of every step from the layer's
own backward pass; the lab reports its norm (the mean over the batch of the rows' L2 norms) at
*distance* ``k`` from the loss, ``k = T - t`` for the state after step ``t`` (distance 1 is the
last state, distance ``T`` the first).

Summaries of a profile (:func:`summarize`): the norm at distances 1, 10, 50, 100, 200; the
decay per step, ``exp`` of the slope of a least-squares line through ``log(norm)`` against the
distance (0.9 means the gradient shrinks by 10 % a step, 1.0 that it holds); and the first
distance where the norm falls below 1e-6 of its value at distance 1 (None if it never does).

The Jacobian view (:func:`jacobian_norms`): the spectral norm (largest singular value) of the
one-step Jacobian along the same sequence, ``dh_t/dh_{t-1}`` for the simple RNN and the GRU, and
``d(h_t, c_t)/d(h_{t-1}, c_{t-1})`` for the LSTM (its state is both), averaged over the first
rows of the batch. The gradient at distance ``k`` is bounded by the product of ``k`` of them:
norms below 1 all along mean a vanishing gradient.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from .. import functional as F
from .cells import CellSpec, cell_seed, specs
from .readout import record_gradients
from .tasks import adding_problem

DISTANCES = (1, 10, 50, 100, 200)
FLOOR = 1e-6
"""The fraction of the norm at distance 1 below which a gradient counts as vanished."""


@dataclass
class Profile:
    """One cell at one stage ('init' or 'trained'): per-distance norms (index ``k - 1`` for
    distance ``k``), the Jacobian's spectral norm per step (index ``t - 1`` for step ``t``,
    ``t = 1 .. T-1``) and the summary (:func:`summarize`)."""

    cell: str
    stage: str
    dh: list[float]
    dc: list[float] | None
    dx: list[float]
    jacobian: list[float]
    summary: dict
    loss: float
    train_steps: int = 0
    train_seconds: float = 0.0


@dataclass
class GradientReport:
    """What :func:`gradient_profiles` measured: its settings and one :class:`Profile` per cell
    and stage; :meth:`to_dict` is the JSON the CLI writes."""

    settings: dict
    profiles: list[Profile] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"settings": self.settings, "profiles": [asdict(p) for p in self.profiles]}

    def profile(self, cell: str, stage: str = "init") -> Profile:
        for p in self.profiles:
            if p.cell == cell and p.stage == stage:
                return p
        raise KeyError(f"no profile for cell {cell!r} at stage {stage!r}")

    def fall(self, cell: str, steps: int = 100, stage: str = "init") -> float:
        """How many times the norm shrinks from distance 1 to distance ``1 + steps``."""
        dh = self.profile(cell, stage).dh
        if steps + 1 > len(dh):
            raise ValueError(f"fall: `steps` expected at most {len(dh) - 1}, received {steps}.")
        far = dh[steps]
        return math.inf if far == 0 else dh[0] / far


def by_distance(norms_per_step: list[float]) -> list[float]:
    """Per-step norms (step ``t = 0 .. T-1``) -> per-distance (distance ``k = 1 .. T``)."""
    return list(reversed(norms_per_step))


def summarize(dh: list[float], distances=DISTANCES, floor: float = FLOOR) -> dict:
    """The table's numbers for one profile (norms per distance, index ``k - 1``)."""
    at = {str(k): (dh[k - 1] if k <= len(dh) else None) for k in distances}
    below = None
    ref = dh[0] if dh else 0.0
    for k, v in enumerate(dh, start=1):
        if ref > 0 and v < floor * ref:
            below = k
            break
    return {"at": at, "decay_per_step": decay_rate(dh), "below_floor_at": below}


def decay_rate(dh: list[float]) -> float | None:
    """``exp(slope)`` of the least-squares line through ``(k, log norm_k)`` over the distances
    with a positive, finite norm (None with fewer than two)."""
    points = [(k, math.log(v)) for k, v in enumerate(dh, 1) if v > 0 and math.isfinite(v)]
    if len(points) < 2:
        return None
    n = len(points)
    mk = sum(k for k, _ in points) / n
    ml = sum(lv for _, lv in points) / n
    var = sum((k - mk) ** 2 for k, _ in points)
    cov = sum((k - mk) * (lv - ml) for k, lv in points)
    return math.exp(cov / var)


def _model(spec: CellSpec, units: int, seq_len: int):
    from ..layers import Dense
    from ..models import Sequential

    layer = spec.layer(units, input_shape=(None, 2), max_length=seq_len)
    model = Sequential([layer, Dense(1)])
    return model, layer


def readout(layer, model, x: Tensor, y: Tensor) -> tuple[dict, float]:
    """The per-step norms of one backward pass of the MSE at the last step (the model's
    parameters' gradients are computed too, then dropped)."""
    model.zero_grad(set_to_none=True)
    with record_gradients(layer) as rec:
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return rec.norms(), loss.detach().item()


def jacobian_norms(spec: CellSpec, layer, x: Tensor, rows: int = 4) -> list[float]:
    """The spectral norm of the one-step Jacobian at steps ``t = 1 .. T-1`` along ``x`` (the
    state the step reads is the layer's own, from the reference cells with its weights),
    averaged over the first ``rows`` rows."""
    x = x[:rows].detach()
    N, T, _ = x.shape
    H = layer.units
    W_x, W_h = layer.W_x.detach(), layer.W_h.detach()

    if spec.cell == "lstm":
        b = None if layer.b is None else layer.b.detach()

        def step(x_t, s):  # s = [h | c] (2H,)
            h, c = F.lstm_cell(x_t[None], s[None, :H], s[None, H:], W_x, W_h, b)
            return torch.cat((h, c), dim=1)[0]

        state = x.new_zeros(N, 2 * H)
    elif spec.cell == "gru":
        b_x = None if layer.b_x is None else layer.b_x.detach()
        b_h = None if (layer.b_h is None or not layer.reset_after) else layer.b_h.detach()

        def step(x_t, s):
            return F.gru_cell(x_t[None], s[None], W_x, W_h, b_x, b_h, layer.reset_after)[0]

        state = x.new_zeros(N, H)
    else:
        b = None if layer.b is None else layer.b.detach()

        def step(x_t, s):
            return F.rnn_cell(x_t[None], s[None], W_x, W_h, b, spec.activation)[0]

        state = x.new_zeros(N, H)

    advance = torch.func.vmap(step)
    with torch.no_grad():
        states = []  # the state each step t = 1 .. T-1 reads: the one after step t-1
        for t in range(T - 1):
            state = advance(x[:, t], state)
            states.append(state)
        S = state.shape[1]
        reads = torch.stack(states, dim=1).reshape(-1, S)  # (N * (T-1), S)
        inputs = x[:, 1:].reshape(N * (T - 1), -1)  # (N * (T-1), D)
        # every step's Jacobian in one batched call: (N * (T-1), S, S)
        J = torch.func.vmap(torch.func.jacrev(step, argnums=1))(inputs, reads)
        spectral = torch.linalg.matrix_norm(J, ord=2).view(N, T - 1)  # (N, T-1)
    return spectral.mean(dim=0).tolist()


def _train(model, spec_seed: int, seq_len: int, steps: int, batch: int, lr: float):
    from ..models.optimizers import Adam

    x, y = adding_problem(steps * batch, seq_len, seed=spec_seed)
    model.compile(optimizer=Adam(learning_rate=lr, global_clipnorm=1.0), loss="mse")
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def gradient_profiles(
    cells="rnn,lstm,gru",
    activations="tanh,relu,sigmoid",
    *,
    seq_len: int = 200,
    units: int = 32,
    batch: int = 32,
    train_steps: int = 100,
    lr: float = 1e-3,
    seed: int = 0,
    recurrent_init: str = "orthogonal",
    forget_bias: bool = True,
    gate_init: str = "keras",
    jacobian_rows: int = 4,
    progress=None,
) -> GradientReport:
    """Measure every cell: the readout and the Jacobian view on one batch of the adding problem
    at ``seq_len``, at initialisation and (``train_steps`` > 0) after ``train_steps`` Adam
    steps on the adding problem (batches of ``batch``, gradients clipped to global norm 1).

    ``progress``: called with a line of text as each cell is done (the CLI prints it).
    Reproducible: the same ``seed`` gives the same weights, data and numbers.
    """
    from ..utils import set_random_seed

    settings = dict(
        cells=cells,
        activations=activations,
        seq_len=seq_len,
        units=units,
        batch=batch,
        train_steps=train_steps,
        lr=lr,
        seed=seed,
        recurrent_init=recurrent_init,
        forget_bias=forget_bias,
        gate_init=gate_init,
        loss="mse of Dense(1) on the last output, adding problem",
    )
    report = GradientReport(settings)
    x, y = adding_problem(batch, seq_len, seed=10_000 + seed)  # the probe batch
    variants = specs(
        cells,
        activations,
        recurrent_init=recurrent_init,
        forget_bias=forget_bias,
        gate_init=gate_init,
    )
    for spec in variants:
        set_random_seed(cell_seed(seed, spec.name))  # the same weights in any list of cells
        model, layer = _model(spec, units, seq_len)
        stages = [("init", 0)] + ([("trained", train_steps)] if train_steps > 0 else [])
        for stage, steps in stages:
            seconds = 0.0
            if steps:
                seconds = _train(model, cell_seed(seed, spec.name) + 1, seq_len, steps, batch, lr)
            model.train()
            norms, loss = readout(layer, model, x, y)
            dh = by_distance(norms["dh"])
            profile = Profile(
                cell=spec.name,
                stage=stage,
                dh=dh,
                dc=by_distance(norms["dc"]) if "dc" in norms else None,
                dx=by_distance(norms["dx"]),
                jacobian=jacobian_norms(spec, layer, x, jacobian_rows),
                summary=summarize(dh),
                loss=loss,
                train_steps=steps,
                train_seconds=round(seconds, 2),
            )
            report.profiles.append(profile)
            if progress is not None:
                progress(f"{spec.name:<14} {stage:<8} loss {loss:.4f}")
    return report


def format_table(report: GradientReport) -> str:
    """The table the CLI prints: one row per cell and stage."""
    head = ["cell", "stage"] + [f"|dh| @{k}" for k in DISTANCES] + ["decay/step", "<1e-6 at"]
    rows = [head]
    for p in report.profiles:
        s = p.summary
        cells = [p.cell, p.stage]
        cells += ["-" if s["at"][str(k)] is None else f"{s['at'][str(k)]:.2e}" for k in DISTANCES]
        rate = s["decay_per_step"]
        cells.append("-" if rate is None else f"{rate:.4f}")
        cells.append("never" if s["below_floor_at"] is None else str(s["below_floor_at"]))
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
