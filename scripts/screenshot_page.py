"""The page of `rnnkit serve` in Debian's Chromium (Playwright), for the README:

    .venv/bin/python scripts/screenshot_page.py runs/sentiment docs/web.png "review text"

Serves the models under the first argument on a free loopback port, types the review, waits for
the answer and writes the screenshot; prints how long the page took to show the result.
"""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time

import uvicorn
from playwright.sync_api import sync_playwright

from rnnkit.web import create_app


def main(models: str, out: str, text: str) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(models), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        page = browser.new_page(viewport={"width": 1000, "height": 640})
        page.goto(f"http://127.0.0.1:{port}/")
        page.fill("#text", text)
        start = time.perf_counter()
        page.click("#go")
        page.wait_for_selector("body[data-answered='1']")
        print(f"result shown {1000 * (time.perf_counter() - start):.0f} ms after the click")
        page.screenshot(path=out)
        browser.close()
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
