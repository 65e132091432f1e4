"""``rnnkit serve``: an HTTP API and a page for the models rnnkit's commands save.

The app (FastAPI, run by uvicorn) loads every saved model under one folder at start and serves

- ``GET /``: the page (plain HTML / JS / CSS from ``web/static``, no build step);
- ``GET /healthz``; ``GET /api/models``: what is loaded, with the metrics saved beside it;
- ``POST /api/sentiment`` ``{"texts": [...], "explain": false, "model": null}``: label and
  probability per text; with ``explain``, the words and the running probability after each.

Serving for load. Requests that arrive within ``batch_window_ms`` of each other are answered by
one ``positive_probability`` call on all their texts (:class:`Batcher`): one batch of 32 reviews
costs little more than one review. A model is only ever called from its batcher's one worker
thread, so concurrent requests never run a model (or rnnkit's per-thread caches) twice at once.

Limits and safety. Request bodies over ``max_body_bytes`` get 413, texts over ``max_chars`` or
more than ``max_texts`` per request get 422 naming the limit; models are read only from inside
``models_dir`` (links leading out are skipped) and only through rnnkit's own loaders
(safetensors + JSON, never pickle); an error inside a model is a 500 with a one-line message,
never a stack trace; :func:`rnnkit.cli.serve` binds to 127.0.0.1 unless told otherwise.
"""

# no `from __future__ import annotations`: FastAPI reads the request model of each endpoint
# from its annotation, which must be the class itself (it is defined inside create_app).
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

STATIC = Path(__file__).with_name("static")
SEARCH_DEPTH = 3  # folders below models_dir searched for saved models


@dataclass
class Limits:
    max_body_bytes: int = 1 << 20  # 1 MiB per request
    max_texts: int = 64
    max_chars: int = 20_000  # per text


@dataclass
class LoadedModel:
    name: str  # the folder, relative to models_dir
    task: str
    path: Path
    model: object
    metrics: dict | None = None
    batcher: "Batcher | None" = field(default=None, repr=False)
    # every call into the model holds it: the batcher's and the word-by-word ones
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def positive_probability(self, texts: list[str]):
        with self.lock:
            return self.model.positive_probability(texts)

    def trajectory(self, text: str):
        with self.lock:
            return self.model.trajectory(text)


class Batcher:
    """Dynamic batching: texts submitted within ``window_s`` of the first waiting one are
    predicted together by ``predict(texts) -> probabilities`` in one worker thread."""

    def __init__(self, predict, window_s: float = 0.005, max_batch: int = 256):
        self.predict, self.window_s, self.max_batch = predict, window_s, max_batch
        self._queue: list[tuple[list[str], asyncio.Future, asyncio.AbstractEventLoop]] = []
        self._lock = threading.Condition()
        self.calls = 0  # predict calls made (for tests and the load benchmark)
        self._thread = threading.Thread(target=self._run, name="rnnkit-batcher", daemon=True)
        self._thread.start()

    async def submit(self, texts: list[str]):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._queue.append((texts, future, loop))
            self._lock.notify()
        return await future

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    self._lock.wait()
            if self.window_s:
                time.sleep(self.window_s)  # let the requests of this moment join
            with self._lock:
                batch, n = [], 0
                while self._queue and (not batch or n + len(self._queue[0][0]) <= self.max_batch):
                    item = self._queue.pop(0)
                    batch.append(item)
                    n += len(item[0])
            texts = [t for item in batch for t in item[0]]
            try:
                proba = self.predict(texts)
                self.calls += 1
                error = None
            except Exception as e:  # reported to each waiting request, the worker goes on
                error = e
            start = 0
            for item_texts, future, loop in batch:
                if error is None:
                    part = proba[start : start + len(item_texts)]
                    loop.call_soon_threadsafe(_resolve, future, part, None)
                else:
                    loop.call_soon_threadsafe(_resolve, future, None, error)
                start += len(item_texts)


def _resolve(future: asyncio.Future, value, error) -> None:
    if future.done():  # the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def find_models(models_dir: Path) -> list[LoadedModel]:
    """Every saved model under ``models_dir`` (at most :data:`SEARCH_DEPTH` folders down),
    loaded with its task's own loader; links that lead outside ``models_dir`` are skipped."""
    from ..tasks.sentiment import TASK_FILE, SentimentClassifier

    root = models_dir.resolve()
    found = []
    folders = [root]
    for _ in range(SEARCH_DEPTH + 1):
        next_level = []
        for folder in folders:
            real = folder.resolve()
            if not real.is_relative_to(root):
                continue
            if (real / TASK_FILE).is_file():
                name = str(folder.relative_to(root)) if folder != root else root.name
                model = SentimentClassifier.load(real)
                metrics = _metrics_beside(real)
                found.append(LoadedModel(name, "sentiment", real, model, metrics))
                continue
            try:
                next_level += sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
        folders = next_level
    return found


def _metrics_beside(model_dir: Path) -> dict | None:
    """The test metrics ``rnnkit sentiment train`` wrote next to the model (``../metrics.json``)."""
    report = model_dir.parent / "metrics.json"
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        return data.get("test") if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def create_app(models_dir, *, limits: Limits | None = None, batch_window_ms: float = 5.0):
    """The ASGI app serving the models under ``models_dir`` (see the module documentation)."""
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse
    from pydantic import BaseModel, Field

    limits = limits or Limits()
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ValueError(f"serve: `models` expected a folder, received {str(models_dir)!r}")
    models = find_models(models_dir)
    for m in models:
        m.batcher = Batcher(m.positive_probability, window_s=batch_window_ms / 1000)
    by_task: dict[str, list[LoadedModel]] = {}
    for m in models:
        by_task.setdefault(m.task, []).append(m)

    app = FastAPI(
        title="rnnkit",
        description="Recurrent networks trained with rnnkit: sentiment read word by word.",
        version=_version(),
    )

    class SentimentRequest(BaseModel):
        texts: list[str] = Field(min_length=1, max_length=limits.max_texts)
        explain: bool = False
        model: str | None = None

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > limits.max_body_bytes):
            return JSONResponse(
                {"detail": f"request body over the limit of {limits.max_body_bytes:,} bytes"},
                status_code=413,
            )
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = [
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(errors)}, status_code=422)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):  # no stack trace to the client
        return JSONResponse({"detail": f"{type(exc).__name__}: {exc}"[:300]}, status_code=500)

    def pick(task: str, name: str | None) -> LoadedModel:
        candidates = by_task.get(task, [])
        if not candidates:
            raise HTTPException(404, f"no {task} model is loaded")
        if name is None:
            return candidates[0]
        for m in candidates:
            if m.name == name:
                return m
        known = ", ".join(repr(m.name) for m in candidates)
        raise HTTPException(404, f"no {task} model named {name!r}; loaded: {known}")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "models": len(models)}

    @app.get("/api/models")
    async def list_models():
        return [
            {"name": m.name, "task": m.task, "metrics": m.metrics, "config": m.model.get_params()}
            for m in models
        ]

    @app.post("/api/sentiment")
    async def sentiment(body: SentimentRequest):
        for k, text in enumerate(body.texts):
            if len(text) > limits.max_chars:
                raise HTTPException(
                    422, f"texts.{k}: over the limit of {limits.max_chars:,} characters"
                )
            if not text.strip():
                raise HTTPException(422, f"texts.{k}: empty text")
        m = pick("sentiment", body.model)
        proba = await m.batcher.submit(list(body.texts))
        results = []
        for text, p in zip(body.texts, proba):
            item = {"label": "positive" if p > 0.5 else "negative", "probability": float(p)}
            if body.explain:
                words, traj = await asyncio.to_thread(m.trajectory, text)
                item["words"], item["trajectory"] = words, [float(q) for q in traj]
            results.append(item)
        return {"model": m.name, "results": results}

    app.state.models = models
    return app


def _version() -> str:
    from .. import __version__

    return __version__
