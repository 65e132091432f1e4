"""The page of `rnnkit serve` in Debian's Chromium (Playwright), for the README:

    .venv/bin/python scripts/screenshot_page.py runs docs/web.png "review text"

Serves the models under the first argument on a free loopback port; where a sentiment model is
loaded, types the review, waits for the answer and prints how long the page took to show it;
where a language model, a forecaster or a translator is loaded, asks each part once; then writes
a screenshot of the whole page.
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
        page.wait_for_selector("body[data-ready='1']")
        if page.locator("#sentiment").is_visible():
            page.fill("#text", text)
            start = time.perf_counter()
            page.click("#go")
            page.wait_for_selector("body[data-answered='1']")
            print(f"result shown {1000 * (time.perf_counter() - start):.0f} ms after the click")
        for part, button, done in (
            ("#language", "#gen-go", "generated"),
            ("#forecast", "#fc-go", "forecast"),
            ("#translate", "#tr-go", "translated"),
        ):
            if page.locator(part).is_visible():
                page.click(button)
                page.wait_for_selector(f"body[data-{done}='1']")
        page.screenshot(path=out, full_page=True)
        browser.close()
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
