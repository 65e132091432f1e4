"""Dynamic batching: the texts of requests that arrive together are predicted by one call."""

from __future__ import annotations

import asyncio
import queue
import threading
import time


class Batcher:
    """Texts submitted within ``window_s`` of the first waiting one are predicted together by
    ``predict(texts) -> probabilities`` in one worker thread (at most ``max_batch`` texts a
    call). Requests that arrive while a batch is being predicted wait for the next one, which
    starts as soon as the worker is free (they have waited already). ``window_s=0``: each
    request alone."""

    def __init__(self, predict, window_s: float = 0.005, max_batch: int = 256):
        self.predict, self.window_s, self.max_batch = predict, window_s, max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.calls = 0  # predict calls made (for tests and the load benchmark)
        self._thread = threading.Thread(target=self._run, name="rnnkit-batcher", daemon=True)
        self._thread.start()

    async def submit(self, texts: list[str]):
        """The probabilities of ``texts``, predicted with whatever else arrives meanwhile."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((texts, future, loop))
        return await future

    def _take(self) -> list:
        """The next batch: the first waiting request, then (when the worker was idle) those
        arriving within the window, then all that wait, up to ``max_batch`` texts."""
        first = self._queue.get()
        batch, n = [first], len(first[0])
        if self.window_s and self._queue.empty():
            time.sleep(self.window_s)  # idle until now: let the requests of this moment join
        elif not self.window_s:
            return batch
        while n < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if n + len(item[0]) > self.max_batch:
                self._queue.put(item)  # the next batch starts with it (order kept enough)
                break
            batch.append(item)
            n += len(item[0])
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            texts = [t for item in batch for t in item[0]]
            try:
                proba = self.predict(texts)
                self.calls += 1
                error = None
            except Exception as e:  # reported to each waiting request, the worker goes on
                proba, error = None, e
            # one hand-off to each event loop for the whole batch
            by_loop: dict = {}
            start = 0
            for item_texts, future, loop in batch:
                part = None if error is not None else proba[start : start + len(item_texts)]
                by_loop.setdefault(loop, []).append((future, part))
                start += len(item_texts)
            for loop, results in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_resolve_all, results, error)
                except RuntimeError:  # that loop has closed: its clients are gone
                    pass


def _resolve_all(results, error) -> None:
    for future, value in results:
        if future.done():  # the client went away
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
