"""The page in a real browser (Debian's Chromium driven by Playwright): type a review, see the
label and the coloured words, and a screenshot. Skipped, with the reason, where Chromium or
Playwright is not installed (README's test set-up installs both)."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (dev extra)"),
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig
    from rnnkit.web import create_app

    root = tmp_path_factory.mktemp("models")
    texts = ["a great wonderful film", "awful boring terrible film"] * 8
    config = SentimentConfig(num_words=50, maxlen=12, embedding_dim=4, units=4, epochs=1)
    SentimentClassifier(config).fit(texts, [1, 0] * 8, verbose=0).save(root / "m")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(root), port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_page_reads_a_review(server, tmp_path):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page()
        page.goto(server + "/")
        page.fill("#text", "a great wonderful film")
        page.click("#go")
        page.wait_for_selector("body[data-answered='1']", timeout=30_000)
        label = page.inner_text("#label")
        assert re.fullmatch(r"(positive|negative) \(0\.\d{3}\)", label), label
        words = page.locator("#words span")
        assert words.all_inner_texts() == ["a", "great", "wonderful", "film"]
        colours = [w.evaluate("e => e.style.background") for w in words.all()]
        assert all(c.startswith("rgb") for c in colours), colours
        page.screenshot(path=str(tmp_path / "page.png"))
        browser.close()
    assert (tmp_path / "page.png").read_bytes().startswith(b"\x89PNG")
