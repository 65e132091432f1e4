"""Where a simple RNN forgets what an LSTM remembers: each cell trained on a long-dependency task
(:mod:`rnnkit.lab.tasks`) at each length, within a fixed time budget, then tested.

Each run builds an rnnkit ``Sequential`` (an Embedding first for token tasks, the recurrent
layer, a Dense head), compiles it with Adam (``lr``; gradients clipped to global norm
``clipnorm`` unless clipping is off) and trains it with ``fit`` until ``minutes_per_run`` (from
the end of the first batch) or ``max_steps`` batches are spent: the synthetic tasks on fresh
batches all along (chunks of :data:`CHUNK` batches), imdb-distance on its training reviews,
epoch after epoch. Then it is tested on held-out data drawn with another seed:

* adding: test MSE (lower is better); the "always answer 1" baseline is 1/6 = 0.167;
* recall: test accuracy; chance is 1 / keys;
* imdb-distance: test accuracy; chance is 0.5.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch

from .cells import CellSpec, _flag, _listed, cell_seed, parse_list, specs
from .config import TASKS
from .tasks import RecallAlphabet, adding_problem, imdb_distance, recall

CHUNK = 50
"""Batches of fresh synthetic data per ``fit`` call."""


@dataclass
class MemoryRun:
    """One cell at one length: the test loss and metric (``metric_name`` 'mse' or
    'accuracy'), the task's baseline for that metric, and what training took."""

    cell: str
    length: int
    loss: float
    metric_name: str
    metric: float
    baseline: float
    steps: int
    seconds: float


@dataclass
class MemoryReport:
    """What :func:`memory_experiment` measured; :meth:`to_dict` is the JSON the CLI writes."""

    settings: dict
    runs: list[MemoryRun] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"settings": self.settings, "runs": [asdict(r) for r in self.runs]}

    @property
    def cells(self) -> list[str]:
        return list(dict.fromkeys(r.cell for r in self.runs))

    @property
    def lengths(self) -> list[int]:
        return sorted({r.length for r in self.runs})

    def value(self, cell: str, length: int) -> float | None:
        for r in self.runs:
            if r.cell == cell and r.length == length:
                return r.metric
        return None


class _Budget:
    """A fit callback that stops training at a deadline or after a number of batches, across
    several ``fit`` calls. The clock starts after the first batch, so one-time costs (loading
    the compiled loops, first-call allocations) do not eat a short budget."""

    def __init__(self, seconds: float, max_steps: int | None):
        from ..models import Callback

        budget = self

        class Stop(Callback):
            def on_train_batch_end(self, batch, logs=None):
                budget.steps += 1
                if budget.deadline is None:
                    budget.deadline = time.perf_counter() + budget.seconds
                if budget.spent:
                    self.model.stop_training = True

        self.seconds = seconds
        self.deadline: float | None = None
        self.max_steps = max_steps
        self.steps = 0
        self.callback = Stop()

    @property
    def spent(self) -> bool:
        if self.max_steps is not None and self.steps >= self.max_steps:
            return True
        return self.deadline is not None and time.perf_counter() >= self.deadline


def _head(task: str, keys: int):
    from ..layers import Dense

    if task == "adding":
        return Dense(1), "mse", []
    if task == "recall":
        return Dense(keys, activation="softmax"), "sparse_categorical_crossentropy", ["accuracy"]
    return Dense(1, activation="sigmoid"), "binary_crossentropy", ["accuracy"]


def _model(
    task: str, spec: CellSpec, units: int, vocabulary: int, embed: int, keys: int, steps: int
):
    from ..layers import Embedding
    from ..models import Sequential

    head, loss, metrics = _head(task, keys)
    if task == "adding":
        layers = [spec.layer(units, input_shape=(None, 2), max_length=steps), head]
    else:
        layers = [Embedding(vocabulary, embed), spec.layer(units, max_length=steps), head]
    return Sequential(layers), loss, metrics


def memory_experiment(
    task: str = "adding",
    lengths=(10, 50, 100, 200, 400),
    cells="rnn,lstm,gru",
    activations="tanh",
    *,
    minutes_per_run: float = 5.0,
    max_steps: int | None = None,
    units: int = 64,
    batch: int = 32,
    lr: float = 1e-3,
    clip="on",
    clipnorm: float = 1.0,
    forget_bias="1",
    gate_init="keras",
    recurrent_init="orthogonal",
    seed: int = 0,
    n_test: int = 1000,
    keys: int = 8,
    embed: int = 16,
    review_len: int = 50,
    num_words: int = 5000,
    n_train: int | None = None,
    data_dir=None,
    progress=None,
) -> MemoryReport:
    """Train every cell (and every variant: ``clip``, ``forget_bias``, ``gate_init``,
    ``recurrent_init`` may be lists to compare, e.g. ``clip='on,off'``) at every length; see the module docstring.

    ``lengths`` are sequence lengths (adding, recall) or the number of filler tokens after the
    review (imdb-distance). ``progress`` is called with a line as each run ends. Reproducible:
    the same ``seed`` gives the same weights and data (the budget in minutes makes the number
    of steps depend on the machine; ``max_steps`` alone does not).
    """
    from ..models.optimizers import Adam
    from ..utils import set_random_seed

    parse_list("memory_experiment", "task", [task], TASKS)
    lengths = parse_list("memory_experiment", "lengths", _listed(lengths), kind=int)
    clips = [_flag("clip", c) for c in _listed(clip)]
    settings = dict(
        task=task,
        lengths=lengths,
        cells=cells,
        activations=activations,
        minutes_per_run=minutes_per_run,
        max_steps=max_steps,
        units=units,
        batch=batch,
        lr=lr,
        clip=clips,
        clipnorm=clipnorm,
        forget_bias=forget_bias,
        gate_init=gate_init,
        recurrent_init=recurrent_init,
        seed=seed,
        n_test=n_test,
    )
    alphabet = RecallAlphabet(keys=keys)
    if task == "recall":
        settings["keys"] = keys
    if task == "imdb-distance":
        settings.update(review_len=review_len, num_words=num_words, n_train=n_train)
    report = MemoryReport(settings)
    variants = specs(
        cells,
        activations,
        recurrent_init=recurrent_init,
        forget_bias=forget_bias,
        gate_init=gate_init,
    )
    for length in lengths:
        data = _data(task, length, seed, n_test, alphabet, review_len, num_words, n_train, data_dir)
        for spec in variants:
            for clipped in clips:
                name = spec.name + ("" if clipped else "-noclip")
                set_random_seed(cell_seed(seed, spec.name))  # the same in any list
                steps = length + (review_len if task == "imdb-distance" else 0)  # of a sequence
                model, loss, metrics = _model(
                    task, spec, units, data["vocabulary"], embed, keys, steps
                )
                optimizer = Adam(learning_rate=lr, global_clipnorm=clipnorm if clipped else None)
                model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
                budget = _Budget(minutes_per_run * 60, max_steps)
                start = time.perf_counter()
                data_seed = cell_seed(seed, spec.name) + length  # clip on and off: same data
                _fit(model, task, data, length, data_seed, batch, budget, alphabet)
                seconds = time.perf_counter() - start
                run = _test(model, task, data, name, length, budget.steps, seconds, alphabet)
                report.runs.append(run)
                if progress is not None:
                    progress(
                        f"{name:<18} length {length:<5} {run.metric_name} {run.metric:.4f} "
                        f"(baseline {run.baseline:.3f}; {run.steps} steps, {seconds:.0f} s)"
                    )
    return report


def _data(task, length, seed, n_test, alphabet, review_len, num_words, n_train, data_dir):
    if task == "adding":
        x, y = adding_problem(n_test, length, seed=10_000 + seed)
        return {"test": (x, y), "vocabulary": 0}
    if task == "recall":
        x, y = recall(n_test, length, seed=10_000 + seed, alphabet=alphabet)
        return {"test": (x, y), "vocabulary": alphabet.size}
    train, test, vocabulary = imdb_distance(
        length,
        review_len=review_len,
        num_words=num_words,
        n_train=n_train,
        n_test=n_test,
        data_dir=data_dir,
        seed=seed,
    )
    return {"train": train, "test": test, "vocabulary": vocabulary}


def _fit(model, task, data, length, seed, batch, budget: _Budget, alphabet):
    g = torch.Generator()
    g.manual_seed(seed)
    while not budget.spent:
        if task == "imdb-distance":
            x, y = data["train"]
        elif task == "adding":
            x, y = adding_problem(CHUNK * batch, length, seed=g)
        else:
            x, y = recall(CHUNK * batch, length, seed=g, alphabet=alphabet)
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, callbacks=[budget.callback])


def _test(model, task, data, name, length, steps, seconds, alphabet) -> MemoryRun:
    x, y = data["test"]
    result = model.evaluate(x, y, batch_size=256, verbose=0, return_dict=True)
    loss = float(result["loss"])
    if task == "adding":
        metric_name, metric = "mse", loss
        baseline = float(((y - 1.0) ** 2).mean())  # always answer 1
    else:
        metric_name, metric = "accuracy", float(result["accuracy"])
        if task == "recall":
            baseline = 1.0 / alphabet.keys
        else:
            majority = float(y.mean())
            baseline = max(majority, 1.0 - majority)
    return MemoryRun(name, length, loss, metric_name, metric, baseline, steps, round(seconds, 2))


def format_table(report: MemoryReport) -> str:
    """Cells down, lengths across: the test metric of each run."""
    if not report.runs:
        return "(no runs)"
    metric = report.runs[0].metric_name
    head = [f"cell \\ length ({metric})"] + [str(n) for n in report.lengths]
    rows = [head]
    for cell in report.cells:
        row = [cell]
        for n in report.lengths:
            v = report.value(cell, n)
            row.append("-" if v is None else f"{v:.4f}")
        rows.append(row)
    base = sorted({r.baseline for r in report.runs})
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(
        f"baseline ({'always 1' if metric == 'mse' else 'chance'}): "
        + ", ".join(f"{b:.3f}" for b in base)
    )
    return "\n".join(lines)
