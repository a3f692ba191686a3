"""Browser test of the built website in headless Chromium (Debian's package).

Run after the book is built (`make book-fast`): every page loads with no
request leaving the machine, chapters show executed outputs and figures, math
is typeset, no page shows a traceback, and every image has alt text.
"""

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

SITE = Path(__file__).resolve().parents[2] / "_build" / "html"
SKIP_PAGES = {"genindex.html", "search.html"}  # Sphinx's generated index and search pages
PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
               if p.name not in SKIP_PAGES and "_static" not in p.parts) if SITE.is_dir() else []


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep one line per request out of the test output
        pass


@pytest.fixture(scope="session")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail(f"No built site at {SITE}: build it first with `make book-fast`.")
    handler = functools.partial(QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is not installed: `sudo apt-get install chromium` (Debian/Ubuntu).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


def open_page(browser, server, path, external):
    page = browser.new_page()

    def route(request_route):
        url = request_route.request.url
        if url.startswith(server) or url.startswith("data:") or url.startswith("blob:"):
            request_route.continue_()
        else:  # the site must work without internet: nothing may be fetched from elsewhere
            external.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(f"{server}/{path}", wait_until="load")
    return page


def test_site_has_every_book_page():
    assert "index.html" in PAGES
    for name in ("pages/intro.html", "pages/setup.html", "pages/data.html", "pages/glossary.html",
                 "chapters/00_getting_started.html"):
        assert name in PAGES, f"{name} was not built"


@pytest.mark.parametrize("path", PAGES)
def test_page(browser, server, path, tmp_path_factory):
    external = []
    page = open_page(browser, server, path, external)
    try:
        if path == "index.html":  # a redirect to the landing page
            page.wait_for_load_state("load")
            return
        assert page.locator("h1").count() >= 1, f"{path}: no title"
        text = page.locator("article").inner_text()
        assert "Traceback (most recent call last)" not in text, f"{path} shows a traceback"
        assert page.locator(".output.traceback, .output.error").count() == 0, f"{path} shows an error output"
        for image in page.locator("article img").all():
            alt = image.get_attribute("alt") or ""
            # myst-nb falls back to the file name; real alt text comes from the cell's mystnb.image.alt
            assert alt and not alt.endswith((".png", ".jpg", ".svg")), f"{path}: an image has no alt text ({alt!r})"
            assert image.evaluate("img => img.complete && img.naturalWidth > 0"), f"{path}: an image did not load"
        if page.locator(".math").count():
            page.wait_for_selector("mjx-container", timeout=15000)  # MathJax typeset the math
        if path.startswith("chapters/"):
            assert page.locator(".cell_output").count() >= 3, f"{path}: the executed outputs are missing"
            assert page.locator(".cell_output img").count() >= 1, f"{path}: no figure was rendered"
        if path == "chapters/00_getting_started.html":
            folder = Path(os.environ.get("SITE_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / "getting_started.png"), full_page=False)
    finally:
        page.close()
    assert not external, f"{path} tried to fetch from outside the site: {external[:3]}"
