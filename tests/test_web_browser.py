"""The page in a real browser (Debian's Chromium driven by Playwright): type a review, see the
label and the coloured words, and a screenshot; type a sentence and see the language model's
next words, click one, and watch a generation stream in. Skipped, with the reason, where
Chromium or Playwright is not installed (README's test set-up installs both)."""

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


def serve(root):
    """uvicorn serving the models under ``root`` on a free loopback port, in a thread."""
    import uvicorn

    from rnnkit.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(root), port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    return srv, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig

    root = tmp_path_factory.mktemp("models")
    texts = ["a great wonderful film", "awful boring terrible film"] * 8
    config = SentimentConfig(
        recipe="seed", num_words=50, maxlen=12, embedding_dim=4, units=4, epochs=1
    )
    SentimentClassifier(config).fit(texts, [1, 0] * 8, verbose=0).save(root / "m")
    srv, thread, url = serve(root)
    yield url
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def lm_server(shared_data, tmp_path_factory):
    """A word-level language model trained for seconds on a slice of Penn Treebank."""
    from rnnkit.tasks.language_model import LanguageModel, LanguageModelConfig

    lines = (shared_data / "ptb" / "ptb.train.txt").read_text(encoding="utf-8").splitlines()
    config = LanguageModelConfig(
        level="word", embedding_dim=8, units=16, layers=1, batch_size=8, seq_len=16, epochs=1
    )
    lm = LanguageModel(config).fit("\n".join(lines[:300]) + "\n", verbose=0)
    root = tmp_path_factory.mktemp("lm")
    lm.save(root / "textgen" / "model")
    srv, thread, url = serve(root)
    yield url, lm
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


def test_page_suggests_next_words_and_streams_a_generation(lm_server, tmp_path):
    url, lm = lm_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        assert page.locator("#sentiment").is_hidden()  # no sentiment model is loaded
        page.fill("#lm-text", "the company said it")
        # the suggestions shown are those of the text typed (data-for), not of the first one
        page.wait_for_function(
            "document.querySelector('#suggestions').dataset.for === 'the company said it'",
            timeout=30_000,
        )
        shown = [b.get_attribute("data-token") for b in page.locator("#suggestions button").all()]
        assert shown == [t for t, _ in lm.next_words("the company said it", 6)]
        word = next(t for t in shown if t != "<eos>")  # <eos> would add a line break
        page.locator(f"#suggestions button[data-token='{word}']").click()
        assert page.input_value("#lm-text") == "the company said it " + word
        page.fill("#gen-prompt", "the market")
        page.fill("#gen-length", "12")
        page.fill("#gen-seed", "3")
        page.click("#gen-go")
        page.wait_for_selector("body[data-generated='1']", timeout=30_000)
        expected = lm.generate("the market", 12, temperature=0.8, top_k=40, seed=3)
        space = "" if expected.startswith("\n") else " "
        assert page.text_content("#gen-out") == "the market" + space + expected
        assert re.fullmatch(
            r"12 tokens in \d+ ms \(first after \d+ ms\)", page.inner_text("#gen-note")
        )
        page.screenshot(path=str(tmp_path / "language.png"), full_page=True)
        browser.close()
    assert (tmp_path / "language.png").read_bytes().startswith(b"\x89PNG")
