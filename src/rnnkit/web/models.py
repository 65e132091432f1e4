"""The models ``rnnkit serve`` finds under ``--models``: which command saved a folder, read from
the files that command writes there, each loaded with its task's own loader.

=================  ===============================================  ==========================
task               the folder holds                                 written by
=================  ===============================================  ==========================
``sentiment``      ``sentiment.json``                               ``rnnkit sentiment train``
``language_model`` ``language_model.json`` (``"task"``)             ``rnnkit textgen train``
``forecast``       ``forecast.json`` (``"task"``) + weights         ``rnnkit forecast``
``translate``      ``translator.json`` (``"task"``)                 ``rnnkit translate train``
``lab``            ``gradients.json`` / ``memory-*.json`` (``lab``)  ``rnnkit lab``
=================  ===============================================  ==========================

A model's metrics come from the report its command wrote one folder up (``metrics.json``, or
``forecast.json`` for a forecast run), read only when that folder is inside ``--models``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

SEARCH_DEPTH = 3  # folders below models_dir searched for saved models
TASKS = ("sentiment", "language_model", "forecast", "translate", "lab")
LABELS = {
    "sentiment": "sentiment model",
    "language_model": "language model",
    "forecast": "forecaster",
    "translate": "translator",
    "lab": "lab output",
}
"""How messages name a model of each task (``no language model is loaded``)."""

MODEL_LOCK = threading.Lock()
"""Held by every call into a model: one model call at a time, with all the CPU threads.
rnnkit keeps caches on layers and the forecaster switches PyTorch's process-wide thread count
inside its predict, so two calls at once are not safe in general; on a few cores they would
only share the same threads anyway."""


@dataclass
class LoadedModel:
    name: str  # the folder, relative to models_dir
    task: str
    path: Path
    model: object  # the task's estimator; None for a lab output
    metrics: dict | None = None
    report: dict | None = field(default=None, repr=False)  # the run's report, where read
    files: dict[str, Path] = field(default_factory=dict, repr=False)  # lab: PNGs served
    batcher: object = field(default=None, repr=False)
    lock: threading.Lock = field(default=MODEL_LOCK, repr=False)

    def call(self, method: str, *args, **kwargs):
        """``model.method(*args, **kwargs)`` under :data:`MODEL_LOCK`."""
        with self.lock:
            return getattr(self.model, method)(*args, **kwargs)

    def positive_probability(self, texts: list[str]):
        return self.call("positive_probability", texts)

    def trajectory(self, text: str):
        return self.call("trajectory", text)

    def describe(self) -> dict:
        """What ``GET /api/models`` says of this model."""
        out = {"name": self.name, "task": self.task, "metrics": self.metrics}
        if self.task == "lab":
            out["plots"] = {k: f"/api/lab/{self.name}/{k}" for k in sorted(self.files)}
            return out
        out["config"] = _config_of(self)
        return out


def _config_of(m: LoadedModel) -> dict:
    model = m.model
    if m.task == "sentiment":
        return model.get_params()
    config = model.config.to_dict()
    if m.task == "language_model":
        config["vocabulary"] = model.vocab_.size
    if m.task == "forecast":
        config.update(
            season_length=model.season_length_,
            lookback=model.lookback_,
            trained_horizon=model.horizon_,
            series=model.series_info_.get("name"),
        )
    return config


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def task_of(folder: Path) -> str | None:
    """Which command saved ``folder`` (a key of :data:`TASKS` but ``lab``), or None."""
    from ..tasks.forecast.forecaster import TASK_FILE as FORECAST
    from ..tasks.forecast.forecaster import WEIGHTS_FILE
    from ..tasks.language_model.language_model import TASK_FILE as LM
    from ..tasks.sentiment.classifier import TASK_FILE as SENTIMENT
    from ..tasks.translate.translator import TASK_FILE as TRANSLATE

    if (folder / SENTIMENT).is_file():
        return "sentiment"
    for task, file, key in (
        ("language_model", LM, "language_model"),
        ("translate", TRANSLATE, "translate"),
        ("forecast", FORECAST, "forecast"),
    ):
        data = _read_json(folder / file) if (folder / file).is_file() else None
        if isinstance(data, dict) and data.get("task") == key:
            # a forecast run's report is also forecast.json: the model has its weights beside
            if task != "forecast" or (folder / WEIGHTS_FILE).is_file():
                return task
    return None


def lab_files(folder: Path) -> dict[str, Path]:
    """The plots ``rnnkit lab`` wrote in ``folder``: ``{"gradients.png": path, ...}``, each
    beside its JSON report (``"lab": "gradients"`` or ``"memory"``)."""
    found = {}
    for report in sorted(folder.glob("*.json")):
        stem = report.stem
        kind = (
            "gradients" if stem == "gradients" else "memory" if stem.startswith("memory-") else None
        )
        if kind is None:
            continue
        data = _read_json(report)
        png = report.with_suffix(".png")
        if isinstance(data, dict) and data.get("lab") == kind and png.is_file():
            if png.resolve().is_relative_to(folder.resolve()):
                found[png.name] = png.resolve()
    return found


def _load(task: str, path: Path):
    if task == "sentiment":
        from ..tasks.sentiment import SentimentClassifier

        return SentimentClassifier.load(path)
    if task == "language_model":
        from ..tasks.language_model import LanguageModel

        return LanguageModel.load(path)
    if task == "forecast":
        from ..tasks.forecast import Forecaster

        return Forecaster.load(path)
    from ..tasks.translate import Translator

    return Translator.load(path)


def _report(task: str, model_dir: Path, root: Path) -> tuple[dict | None, dict | None]:
    """(metrics, the whole report) from the run report one folder up, when inside ``root``."""
    parent = model_dir.parent
    if model_dir == root or not parent.is_relative_to(root):
        return None, None
    if task == "forecast":
        data = _read_json(parent / "forecast.json")
        if not (isinstance(data, dict) and data.get("task") == "forecast" and "backtest" in data):
            return None, None
        return data["backtest"].get("summary"), data
    data = _read_json(parent / "metrics.json")
    if not isinstance(data, dict) or not isinstance(data.get("test"), dict):
        return None, None
    if task == "sentiment":
        return data["test"], data
    if task == "language_model":
        if data.get("task") != "textgen":
            return None, None
        return {k: data[k] for k in ("valid", "test", "baseline") if k in data}, data
    return {k: data[k] for k in ("test", "baselines") if k in data}, data  # translate


def find_models(models_dir: Path, skipped: list | None = None) -> list[LoadedModel]:
    """Every saved model and lab output under ``models_dir`` (at most :data:`SEARCH_DEPTH`
    folders down), each model loaded with its task's own loader (safetensors + JSON); links
    that lead outside ``models_dir`` are skipped. A folder that says it is a model but does not
    load is left out, with ``(folder, message)`` appended to ``skipped``."""
    root = Path(models_dir).resolve()
    found = []
    folders = [root]
    for _ in range(SEARCH_DEPTH + 1):
        next_level = []
        for folder in folders:
            real = folder.resolve()
            if not real.is_relative_to(root):
                continue
            name = str(folder.relative_to(root)) if folder != root else root.name
            task = task_of(real)
            if task is not None:
                try:
                    model = _load(task, real)
                except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
                    if skipped is not None:
                        skipped.append((name, str(e).splitlines()[0][:300]))
                    continue
                metrics, report = _report(task, real, root)
                found.append(LoadedModel(name, task, real, model, metrics, report))
                continue
            plots = lab_files(real)
            if plots:
                reports = {
                    p.with_suffix(".json").name: _read_json(p.with_suffix(".json"))
                    for p in plots.values()
                }
                metrics = {k: _lab_summary(v) for k, v in reports.items()}
                found.append(LoadedModel(name, "lab", real, None, metrics, files=plots))
            try:
                next_level += sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
        folders = next_level
    return found


def _lab_summary(report: dict) -> dict:
    """The settings of a lab report and its headline figure (the fall over 100 steps)."""
    out = {"lab": report.get("lab"), "settings": report.get("settings")}
    if "init_fall_100" in report:
        out["init_fall_100"] = report["init_fall_100"]
    return out
