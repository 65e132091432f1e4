"""``rnnkit serve``: an HTTP API and a page for the models rnnkit's commands save.

The app (FastAPI, run by uvicorn) loads every saved model under one folder at start
(:mod:`rnnkit.web.models` says how each is recognised) and serves

- ``GET /``: the page (plain HTML / JS / CSS from ``web/static``, no build step);
- ``GET /healthz``; ``GET /api/models``: what is loaded, with the metrics saved beside it;
- ``POST /api/sentiment`` ``{"texts": [...], "explain": false, "model": null}``: label and
  probability per text; with ``explain``, the words and the running probability after each;
- ``POST /api/next-word`` ``{"text", "k": 5}``: the likeliest next tokens of a language model;
- ``POST /api/generate`` ``{"prompt", "length", "temperature", "top_k", "top_p", "seed"}``:
  sampled text, streamed token by token as server-sent events (``data: {"token": ...}``, then
  ``event: end`` with the whole text);
- ``POST /api/forecast`` ``{"series" | "name", "horizon", "level"}``: the forecast with its
  interval after the given values (``series``) or after the saved series (``name``, or
  neither), with the baselines of the run that saved the model when it continues that series;
- ``POST /api/translate`` ``{"texts", "beam", "attention": true}``: translations, each with
  the attention weights of its greedy decoding;
- ``GET /api/lab/{name}/{file}``: the plots ``rnnkit lab`` wrote (listed in ``/api/models``).

Every endpoint taking ``"model"`` picks a loaded model by its folder name (default: the first of
its task); 404 names what is loaded when none fits.

Serving for load. Sentiment requests that arrive together are answered by one
``positive_probability`` call on all their texts (:class:`~rnnkit.web.batcher.Batcher`). Every
call into a model holds :data:`~rnnkit.web.models.MODEL_LOCK` (one model call at a time, with
all the CPU threads; rnnkit's per-layer caches and the forecaster's thread switch are not safe
under concurrent calls). Generation takes the lock for each token, so other requests are
answered between the tokens of a long generation.

Limits and safety. Request bodies over ``max_body_bytes`` get 413, texts over ``max_chars``,
more than ``max_texts`` per request, and out-of-range numbers get 422 naming the field; models
are read only from inside ``models_dir`` (links leading out are skipped) and only through
rnnkit's own loaders (safetensors + JSON, never pickle); an error inside a model is a 500 with a
one-line message, never a stack trace; :func:`rnnkit.cli.serve` binds to 127.0.0.1 unless told
otherwise.
"""

# no `from __future__ import annotations`: FastAPI reads the request model of each endpoint
# from its annotation, which must be the class itself (it is defined inside create_app).
import asyncio
import json
import math
from dataclasses import dataclass
from pathlib import Path

from .batcher import Batcher
from .models import LABELS, LoadedModel, find_models

STATIC = Path(__file__).with_name("static")
PAGE_FILES = {"page.js": "text/javascript", "page.css": "text/css"}


@dataclass
class Limits:
    max_body_bytes: int = 1 << 20  # 1 MiB per request
    max_texts: int = 64
    max_chars: int = 20_000  # per text
    max_generate: int = 1_000  # tokens per generation
    max_series: int = 100_000  # values in a forecast request
    max_horizon: int = 1_000
    max_beam: int = 10


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, by its Content-Length or, sent in
    chunks, as it is read."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit
        self.message = json.dumps(
            {"detail": f"request body over the limit of {limit:,} bytes"}
        ).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for key, value in scope["headers"]:
            if key == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    return await self._reject(send)
                return await self.app(scope, receive, send)  # h11 holds the client to it
        seen, started = 0, False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _BodyTooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send):
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": self.message})


class SentimentFastPath:
    """ASGI middleware: a well-formed ``POST /api/sentiment`` (JSON ``{"texts": [...]}`` with
    texts within the limits, ``explain`` false, a loaded ``model`` or none) is answered here,
    without FastAPI's routing, validation and encoder, which cost about as much CPU as the
    model's share of a batch. Anything else, errors included, goes on to the FastAPI endpoint
    with the same body, so every message stays the endpoint's own."""

    def __init__(self, app, answer):
        self.app, self.answer = app, answer  # answer(body: bytes) -> bytes | None (awaitable)

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] != "http"
            or scope["path"] != "/api/sentiment"
            or scope["method"] != "POST"
            or (b"content-type", b"application/json") not in scope["headers"]
        ):
            return await self.app(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        reply = await self.answer(body)
        if reply is not None:
            headers = [(b"content-type", b"application/json")]
            headers.append((b"content-length", str(len(reply)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": reply})
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(models_dir, *, limits: Limits | None = None, batch_window_ms: float = 5.0):
    """The ASGI app serving the models under ``models_dir`` (see the module documentation).
    ``app.state.models``: what was loaded; ``app.state.skipped``: ``(folder, why)`` of the
    folders that say they hold a model but did not load."""
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
    from pydantic import BaseModel, Field

    limits = limits or Limits()
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ValueError(f"serve: `models` expected a folder, received {str(models_dir)!r}")
    skipped: list[tuple[str, str]] = []
    models = find_models(models_dir, skipped)
    for m in models:
        if m.task == "sentiment":
            m.batcher = Batcher(m.positive_probability, window_s=batch_window_ms / 1000)
    by_task: dict[str, list[LoadedModel]] = {}
    for m in models:
        by_task.setdefault(m.task, []).append(m)

    app = FastAPI(
        title="rnnkit",
        description="Recurrent networks trained with rnnkit: sentiment read word by word, "
        "next words and generation, forecasts with intervals, translation with attention.",
        version=_version(),
    )
    sentiment_models = {m.name: m for m in by_task.get("sentiment", [])}

    async def fast_sentiment(body: bytes) -> bytes | None:
        """The reply to a well-formed request without explanations, else None."""
        try:
            request = json.loads(body)
        except ValueError:
            return None
        if not isinstance(request, dict) or not request.keys() <= {"texts", "explain", "model"}:
            return None
        texts, name = request.get("texts"), request.get("model")
        if request.get("explain", False) is not False or not isinstance(texts, list):
            return None
        if not 0 < len(texts) <= limits.max_texts or not sentiment_models:
            return None
        for text in texts:
            if type(text) is not str or len(text) > limits.max_chars or not text.strip():
                return None
        m = next(iter(sentiment_models.values())) if name is None else sentiment_models.get(name)
        if m is None:
            return None
        reply = sentiment_reply(m, texts, await m.batcher.submit(texts))
        app.state.fast_path_answers += 1
        return _dumps(reply)

    app.add_middleware(SentimentFastPath, answer=fast_sentiment)
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)  # the outer one

    class SentimentRequest(BaseModel):
        texts: list[str] = Field(min_length=1, max_length=limits.max_texts)
        explain: bool = False
        model: str | None = None

    class NextWordRequest(BaseModel):
        text: str
        k: int = Field(5, ge=1, le=100)
        model: str | None = None

    class GenerateRequest(BaseModel):
        prompt: str = ""
        length: int = Field(100, ge=1, le=limits.max_generate)
        temperature: float = Field(1.0, gt=0, le=100)
        top_k: int | None = Field(None, ge=1)
        top_p: float | None = Field(None, gt=0, le=1)
        seed: int | None = Field(None, ge=0, lt=2**63)
        model: str | None = None

    class ForecastRequest(BaseModel):
        series: list[float] | None = Field(None, min_length=1, max_length=limits.max_series)
        name: str | None = None
        horizon: int | None = Field(None, ge=1, le=limits.max_horizon)
        level: float = Field(80.0, gt=0, lt=100)
        model: str | None = None

    class TranslateRequest(BaseModel):
        texts: list[str] = Field(min_length=1, max_length=limits.max_texts)
        beam: int = Field(1, ge=1, le=limits.max_beam)
        attention: bool = True
        model: str | None = None

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = [
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(errors)}, status_code=422)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):  # no stack trace to the client
        return JSONResponse({"detail": _one_line(exc)}, status_code=500)

    def pick(task: str, name: str | None) -> LoadedModel:
        candidates = by_task.get(task, [])
        label = LABELS[task]
        if not candidates:
            raise HTTPException(404, f"no {label} is loaded")
        if name is None:
            return candidates[0]
        for m in candidates:
            if m.name == name:
                return m
        known = ", ".join(repr(m.name) for m in candidates)
        raise HTTPException(404, f"no {label} named {name!r}; loaded: {known}")

    def check_text(field: str, text: str) -> None:
        if len(text) > limits.max_chars:
            raise HTTPException(422, f"{field}: over the limit of {limits.max_chars:,} characters")
        if not text.strip():
            raise HTTPException(422, f"{field}: empty text")

    async def call(m: LoadedModel, field: str, method: str, *args, **kwargs):
        """``m.model.method(...)`` in a worker thread; its ValueError (the input refused by the
        model, e.g. only unknown words) is a 422 naming ``field``."""
        try:
            return await asyncio.to_thread(m.call, method, *args, **kwargs)
        except ValueError as e:
            raise HTTPException(422, f"{field}: {_one_line(e, with_type=False)}") from None

    def json_response(content) -> Response:
        return Response(_dumps(content), media_type="application/json")

    # -- the page -----------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in PAGE_FILES:
            raise HTTPException(404, f"no page file named {name!r}")
        return FileResponse(STATIC / name, media_type=PAGE_FILES[name])

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "models": len(models)}

    @app.get("/api/models")
    async def list_models():
        return json_response([m.describe() for m in models])

    # -- sentiment ----------------------------------------------------------------------------
    @app.post("/api/sentiment")
    async def sentiment(body: SentimentRequest):
        for k, text in enumerate(body.texts):
            check_text(f"texts.{k}", text)
        m = pick("sentiment", body.model)
        reply = sentiment_reply(m, body.texts, await m.batcher.submit(body.texts))
        if body.explain:
            for text, item in zip(body.texts, reply["results"]):
                words, traj = await asyncio.to_thread(m.trajectory, text)
                item["words"], item["trajectory"] = words, traj.tolist()
        return json_response(reply)

    # -- language model -----------------------------------------------------------------------
    @app.post("/api/next-word")
    async def next_word(body: NextWordRequest):
        check_text("text", body.text)
        m = pick("language_model", body.model)
        ranked = await call(m, "text", "next_words", body.text, body.k)
        words = [{"token": t, "probability": q} for t, q in ranked]
        return json_response({"model": m.name, "level": m.model.vocab_.level, "words": words})

    @app.post("/api/generate")
    async def generate(body: GenerateRequest):
        if len(body.prompt) > limits.max_chars:
            raise HTTPException(422, f"prompt: over the limit of {limits.max_chars:,} characters")
        m = pick("language_model", body.model)
        args = (body.prompt, body.length, body.temperature, body.top_k, body.top_p, body.seed)
        pieces = await call(m, "prompt", "stream", *args)

        async def events():
            text = []
            try:
                while True:
                    piece = await asyncio.to_thread(_next_locked, m, pieces)
                    if piece is None:
                        break
                    text.append(piece)
                    yield "data: " + _dumps({"token": piece}).decode() + "\n\n"
                end = {"model": m.name, "text": "".join(text), "tokens": len(text)}
                yield "event: end\ndata: " + _dumps(end).decode() + "\n\n"
            except Exception as e:  # the stream has started: the error is its last event
                yield "event: error\ndata: " + _dumps({"detail": _one_line(e)}).decode() + "\n\n"

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    # -- forecast -----------------------------------------------------------------------------
    @app.post("/api/forecast")
    async def forecast(body: ForecastRequest):
        if body.series is not None and body.name is not None:
            raise HTTPException(422, "body: give `series` or `name`, not both")
        if body.series is not None and not all(math.isfinite(v) for v in body.series):
            raise HTTPException(422, "series: expected finite numbers, received NaN or Inf")
        if body.name is not None:
            m = pick_series(body.name, body.model)
        else:
            m = pick("forecast", body.model)
        f = m.model
        horizon = body.horizon or f.horizon_
        level = body.level
        fc = await call(
            m,
            "series" if body.series is not None else "horizon",
            "predict",
            horizon,
            history=body.series,
            intervals=True,
            level=level,
        )
        if body.series is not None:
            history, periods = body.series[-max(4 * f.season_length_, 3 * horizon) :], None
            series_name = None
        else:
            # the saved series' last values, 12 digits (exp(log) noise)
            history = [float(f"{v:.12g}") for v in f.recent_history().tolist()]
            periods = f.series_info_.get("periods")
            periods = list(periods[-len(history) :]) if periods else None
            series_name = f.series_info_.get("name")
        out = {
            "model": m.name,
            "series": series_name,
            "history": history,
            "history_periods": periods,
            "forecast": fc.to_dict(),
            "baselines": {} if body.series is not None else _baselines(m, horizon),
        }
        return json_response(out)

    def pick_series(name: str, model: str | None) -> LoadedModel:
        if model is not None:
            m = pick("forecast", model)
            if m.model.series_info_.get("name") != name:
                saved = m.model.series_info_.get("name")
                raise HTTPException(
                    404, f"name: the forecaster {m.name!r} was saved with the series {saved!r}"
                )
            return m
        pick("forecast", None)  # 404 when none is loaded
        for m in by_task["forecast"]:
            if m.model.series_info_.get("name") == name:
                return m
        known = ", ".join(repr(m.model.series_info_.get("name")) for m in by_task["forecast"])
        raise HTTPException(404, f"no forecaster of the series {name!r}; loaded: {known}")

    # -- translate ----------------------------------------------------------------------------
    @app.post("/api/translate")
    async def translate(body: TranslateRequest):
        for k, text in enumerate(body.texts):
            check_text(f"texts.{k}", text)
        m = pick("translate", body.model)
        translations = await call(m, "texts", "translate", body.texts, beam=body.beam)
        results = []
        has_attention = m.model.net_.attention is not None
        for text, translation in zip(body.texts, translations):
            item = {"translation": translation, "attention": None}
            if body.attention and has_attention:
                source, output, weights = await call(m, "texts", "attention_map", text)
                item["attention"] = {
                    "source": source,
                    "output": output,
                    "weights": weights.tolist(),
                    "decoding": "greedy",
                }
            results.append(item)
        return json_response({"model": m.name, "beam": body.beam, "results": results})

    # -- the lab ------------------------------------------------------------------------------
    @app.get("/api/lab/{name:path}/{file}")
    async def lab_plot(name: str, file: str):
        m = pick("lab", name)
        if file not in m.files:
            known = ", ".join(repr(k) for k in sorted(m.files))
            raise HTTPException(404, f"no lab plot named {file!r} in {name!r}; there: {known}")
        return FileResponse(m.files[file], media_type="image/png")

    app.state.models = models
    app.state.skipped = skipped
    app.state.fast_path_answers = 0  # sentiment requests SentimentFastPath answered
    return app


def sentiment_reply(m: LoadedModel, texts: list[str], proba) -> dict:
    """``{"model", "results": [{"label", "probability"}, ...]}`` for ``texts``."""
    results = [
        {"label": "positive" if p > 0.5 else "negative", "probability": p} for p in proba.tolist()
    ]
    return {"model": m.name, "results": results}


def _next_locked(m: LoadedModel, pieces):
    with m.lock:
        return next(pieces, None)


def _baselines(m: LoadedModel, horizon: int) -> dict:
    """The baselines' forecasts of the run that saved ``m`` (its report's future forecasts),
    when they reach ``horizon``."""
    models = ((m.report or {}).get("forecast") or {}).get("models") or {}
    level = ((m.report or {}).get("backtest") or {}).get("level")
    out = {}
    for name, fc in models.items():
        if name == "rnnkit" or len(fc.get("mean", [])) < horizon:
            continue
        out[name] = {k: fc[k][:horizon] for k in ("mean", "lower", "upper") if k in fc}
        out[name]["level"] = level
    return out


def _one_line(exc: BaseException, with_type: bool = True) -> str:
    """The first line of ``exc``'s message (300 characters at most), after its type's name."""
    text = f"{type(exc).__name__}: {exc}" if with_type else str(exc)
    return (text.splitlines() or [""])[0][:300]


def _dumps(content) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def _version() -> str:
    from .. import __version__

    return __version__
