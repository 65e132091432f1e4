"""``rnnkit serve``: the page and the HTTP API for saved models (:mod:`rnnkit.web`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, option
from ._common import max_threads, subparser


@dataclass
class ServeRun(Config):
    models: str = option(
        "runs",
        "folder searched (3 levels down) for what rnnkit's commands save: sentiment train, "
        "textgen train, forecast, translate train (their model/ folders, with the run's "
        "metrics beside) and lab (its plots); nothing outside it is read",
        metavar="DIR",
    )
    host: str = option(
        "127.0.0.1", "address to listen on (0.0.0.0 serves other machines)", metavar="HOST"
    )
    port: int = option(8000, "port to listen on", low=1, high=65535)
    batch_window_ms: float = option(
        5.0,
        "sentiment requests arriving within this many milliseconds are predicted as one "
        "batch (0: each request on its own)",
        low=0.0,
        high=1000.0,
    )
    threads: int | None = option(
        None,
        "CPU threads for the models; default: all cores but one, which is left to the HTTP "
        "side (on 2 shared cores, 1 model thread served 510 sentiment requests/s against 323 "
        "with 2, whose second thread spun against the event loop)",
        low=1,
        high=max_threads,
    )
    max_texts: int = option(64, "most texts in one request", low=1)
    max_chars: int = option(20_000, "most characters in one text", low=1)
    max_generate: int = option(1_000, "most tokens one /api/generate request may ask for", low=1)


def cmd_serve(args) -> int:
    import uvicorn

    from ..web import Limits, create_app

    run = ServeRun.from_args(args)
    models = Path(run.models)
    if not models.is_dir():
        args.parser.error(f"argument --models: expected a folder, received {run.models!r}")
    import torch

    torch.set_num_threads(run.threads or default_threads())
    limits = Limits(max_texts=run.max_texts, max_chars=run.max_chars, max_generate=run.max_generate)
    app = create_app(models, limits=limits, batch_window_ms=run.batch_window_ms)
    loaded = app.state.models
    for name, why in app.state.skipped:
        print(f"skipped {name!r}: {why}")
    if not loaded:
        args.parser.error(
            f"argument --models: expected saved rnnkit models under {run.models!r}, found none "
            "(train one: rnnkit sentiment train --out runs/sentiment, or rnnkit textgen train, "
            "rnnkit forecast, rnnkit translate train)"
        )
    for m in loaded:
        print(f"serving {m.task} {m.name!r} from {m.path}")
    print(f"page: http://{run.host}:{run.port}/  API: http://{run.host}:{run.port}/docs")
    uvicorn.run(app, host=run.host, port=run.port, log_level="warning")
    return 0


def default_threads() -> int:
    """All cores but one (at least one): the other runs the event loop and HTTP."""
    return max(1, (os.cpu_count() or 1) - 1)


def register(sub) -> None:
    """Add ``rnnkit serve``."""
    p = subparser(
        sub,
        "serve",
        "serve saved models: a page to try them and an HTTP API (sentiment word by word, next "
        "words and streamed generation, forecasts, translation with attention, the lab's plots)",
        cmd_serve,
    )
    ServeRun.add_arguments(p)
