"""Browser test of the built website in headless Chromium (Debian's package).

Run after the book is built (`make book-fast` builds into _build/fast/_build/html;
`make book` into _build/html; COURSE_SITE picks the folder). Every page loads
with no request leaving the machine, chapters show executed outputs and
figures, math is typeset, no page shows a traceback, and every image has alt
text. The reader's view (issue 23) is checked too, at 1280 px:

1. code, printed output and tables fit the column (no sideways scrolling);
2. one output area per print sequence (stdout and stderr merged), no empty
   output box, no Python warning (stderr) on the page;
3. a FAST build says so in a banner on every page, a full build does not;
4. Chinese text renders as glyphs, not as empty boxes (needs a CJK font:
   Debian's fonts-noto-cjk);
5. figures are not shrunk so much that their labels become unreadable;

and every page passes an axe-core accessibility audit (no serious or critical
violations; axe-core comes from node_modules, injected by Playwright).
SITE_SCREENSHOTS=folder saves a chapter at 1280 and 390 px, light and dark.
"""

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "html")).resolve()
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SKIP_PAGES = {"genindex.html", "search.html"}  # Sphinx's generated index and search pages
PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
               if p.name not in SKIP_PAGES and "_static" not in p.parts) if SITE.is_dir() else []
CONTENT_PAGES = [p for p in PAGES if p != "index.html"]  # index.html only redirects
SHOT_CHAPTER = os.environ.get("SITE_SHOT_CHAPTER", "chapters/07_cnn_mnist_resnet_cifar.html")

# The FAST banner's words (the Makefile's book-fast target puts them on every page).
FAST_BANNER = "FAST build"
# A figure may be shown at most this much smaller than it was drawn: with the book's
# Matplotlib defaults (plotting.py: 11 pt tick labels at 100 dpi) tick labels stay
# at least about 10 px tall in the 1280 px layout's column.
MAX_FIGURE_SHRINK = 1.5
WARNING_LINE = re.compile(r"\b[A-Z]\w*Warning: ")  # e.g. "…/x.py:3: UserWarning: …"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep one line per request out of the test output
        pass


@pytest.fixture(scope="session")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail(f"No built site at {SITE}: build it first with `make book-fast` "
                    "(and set COURSE_SITE=_build/fast/_build/html) or `make book`.")
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


@pytest.fixture(scope="session")
def site_is_fast():
    """Whether this build ran in FAST mode, read from chapter 0's printed configuration."""
    page = SITE / "chapters" / "00_getting_started.html"
    if not page.exists():
        pytest.fail(f"{page} was not built")
    found = re.search(r"FAST mode: (True|False)", page.read_text(encoding="utf-8"))
    assert found, "chapter 0 no longer prints 'FAST mode: ...'; the banner test needs it"
    return found.group(1) == "True"


def open_page(browser, server, path, external, width=1280, height=800, dark=False):
    context = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme="dark" if dark else "light")
    page = context.new_page()

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


def close(page):
    context = page.context
    page.close()
    context.close()


def test_site_has_every_book_page():
    assert "index.html" in PAGES
    for name in ("pages/intro.html", "pages/setup.html", "pages/data.html", "pages/glossary.html",
                 "pages/status.html", "chapters/00_getting_started.html"):
        assert name in PAGES, f"{name} was not built"


# Point 1: what does not fit the column. Elements whose content is wider than their box
# (a sideways scroll bar) and tables that stick out of the article.
TOO_WIDE_JS = """() => {
  const article = document.querySelector('article').getBoundingClientRect();
  const wide = [];
  const describe = (el) => (el.innerText || '').trim().split('\\n')[0].slice(0, 60);
  for (const el of document.querySelectorAll('article div.cell_input pre, article div.cell_output pre')) {
    if (el.scrollWidth > el.clientWidth + 1) {
      const kind = el.closest('div.cell_input') ? 'code' : 'output';
      wide.push(`${kind} needs ${el.scrollWidth - el.clientWidth} px more: ${describe(el)}`);
    }
  }
  for (const table of document.querySelectorAll('article table')) {
    const box = table.getBoundingClientRect();
    let scroller = table.parentElement;  // a wrapper that scrolls sideways hides columns too
    while (scroller && scroller.tagName !== 'ARTICLE' && scroller.scrollWidth <= scroller.clientWidth + 1) {
      scroller = scroller.parentElement;
    }
    if (box.right > article.right + 1 || (scroller && scroller.tagName !== 'ARTICLE')) {
      wide.push(`table ${Math.round(box.width)} px wide in a ${Math.round(article.width)} px column: `
                + describe(table));
    }
  }
  return wide;
}"""

# Point 2: output boxes. Consecutive stream boxes in one cell (stdout and stderr not merged),
# and output areas with nothing in them.
OUTPUT_BOXES_JS = """() => {
  const problems = [];
  const isStream = (el) => el && el.classList && el.classList.contains('output')
                       && (el.classList.contains('stream') || el.classList.contains('stderr'));
  document.querySelectorAll('article div.cell_output').forEach((output, i) => {
    const boxes = Array.from(output.children);
    for (let k = 1; k < boxes.length; k++) {
      if (isStream(boxes[k]) && isStream(boxes[k - 1])) {
        problems.push(`cell output ${i}: printed text split into several boxes`);
        break;
      }
    }
    if (!output.querySelector('img, svg, table, mjx-container, iframe, video')
        && output.innerText.trim() === '') {
      problems.push(`cell output ${i}: an empty output box`);
    }
  });
  return problems;
}"""

# Point 5: figures drawn much wider than the column are shrunk until their labels are tiny.
FIGURE_SHRINK_JS = """() => Array.from(document.querySelectorAll('article div.cell_output img'))
  .filter((img) => img.clientWidth > 0)
  .map((img) => [img.naturalWidth / img.clientWidth, img.naturalWidth, img.clientWidth,
                 img.getAttribute('alt') || ''])"""


@pytest.mark.parametrize("path", PAGES)
def test_page(browser, server, path, site_is_fast):
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

        # 1. Code, outputs and tables fit the column: nothing hides behind a sideways scroll.
        too_wide = page.evaluate(TOO_WIDE_JS)
        assert not too_wide, f"{path}: {len(too_wide)} element(s) wider than the column, e.g. {too_wide[:3]}"
        # 2. One output box per printed sequence, no empty boxes, no warnings for the reader.
        boxes = page.evaluate(OUTPUT_BOXES_JS)
        assert not boxes, f"{path}: {len(boxes)} output problem(s), e.g. {boxes[:3]}"
        # Python's warnings go to stderr; a chapter that prints a warning as its lesson does so on stdout
        stderr = "\n".join(page.locator("article div.cell_output .output.stderr").all_inner_texts())
        warnings = WARNING_LINE.findall(stderr)
        assert not warnings, f"{path} shows {len(warnings)} Python warning(s) to the reader: {warnings[:3]}"
        # 3. A FAST build says so on every page; a full build does not.
        banner = page.locator(".bd-header-announcement")
        shown = banner.count() > 0 and FAST_BANNER in banner.first.inner_text()
        if site_is_fast:
            assert shown, f"{path}: a FAST build without the '{FAST_BANNER}' banner"
        else:
            assert not shown, f"{path}: a full build carries the FAST banner"
        # 5. Figures legible at the page's width.
        shrunk = [f"{natural} px shown at {client} px ({alt[:40]!r})"
                  for ratio, natural, client, alt in page.evaluate(FIGURE_SHRINK_JS)
                  if ratio > MAX_FIGURE_SHRINK]
        assert not shrunk, (f"{path}: {len(shrunk)} figure(s) shrunk more than {MAX_FIGURE_SHRINK}x at "
                            f"1280 px (labels unreadable), e.g. {shrunk[:3]}")
    finally:
        close(page)
    assert not external, f"{path} tried to fetch from outside the site: {external[:3]}"


# Point 4: a CJK string must not render as the font's "missing glyph" box (tofu). On a canvas,
# in the font the title uses, two different Chinese characters must give different pixels,
# and neither may look like a code point that no font has (U+10FFFD, drawn as .notdef).
GLYPHS_JS = """(selector) => {
  const family = getComputedStyle(document.querySelector(selector)).fontFamily;
  const canvas = document.createElement('canvas');
  canvas.width = 120; canvas.height = 60;
  const ctx = canvas.getContext('2d');
  const draw = (text) => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = `40px ${family}`;
    ctx.fillStyle = '#000';
    ctx.fillText(text, 10, 45);
    return Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data).join(',');
  };
  const missing = draw('\\u{10FFFD}');
  const chars = ['深', '度', '学', '习'].map(draw);
  return {family, distinct: new Set(chars).size, tofu: chars.filter((c) => c === missing).length};
}"""


@pytest.mark.parametrize("path,selector", [("pages/intro.html", "article h1"),
                                           ("pages/glossary.html", "article td:nth-child(2)")])
def test_chinese_text_renders_as_glyphs(browser, server, path, selector):
    page = open_page(browser, server, path, [])
    try:
        assert re.search(r"[\u4e00-\u9fff]", page.locator(selector).first.inner_text()), \
            f"{path}: no Chinese text in {selector}"
        found = page.evaluate(GLYPHS_JS, selector)
    finally:
        close(page)
    assert found["tofu"] == 0 and found["distinct"] == 4, (
        f"{path}: Chinese characters render as empty boxes in {found['family']} ({found}); "
        "install a CJK font: `apt-get install fonts-noto-cjk`")


@pytest.mark.parametrize("path", CONTENT_PAGES)
def test_accessibility(browser, server, path):
    """axe-core's audit of the page, as a reader with a screen reader or low vision meets it."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make setup does)")
    page = open_page(browser, server, path, [])
    try:
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("""async () => {
          const r = await axe.run(document, {resultTypes: ['violations']});
          return r.violations.map((v) => {
            // The theme's colour-mode button shows only an icon whose SVG <title> ("Light") is
            // not visible text; its name "Color mode" is right. Every other node counts.
            const nodes = v.nodes.filter((n) => !(v.id === 'label-content-name-mismatch'
                                                  && n.html.includes('theme-switch-button')));
            return {id: v.id, impact: v.impact, help: v.help, count: nodes.length,
                    example: nodes[0] ? nodes[0].target.join(' ') : ''};
          }).filter((v) => v.count > 0);
        }""")
    finally:
        close(page)
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not serious, f"{path}: {len(serious)} serious accessibility violation(s): {serious}"


@pytest.mark.skipif(not os.environ.get("SITE_SCREENSHOTS"), reason="set SITE_SCREENSHOTS=folder to save screenshots")
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_screenshots(browser, server, width, dark):
    folder = Path(os.environ["SITE_SCREENSHOTS"])
    folder.mkdir(parents=True, exist_ok=True)
    page = open_page(browser, server, SHOT_CHAPTER, [], width=width, height=900 if width > 400 else 844,
                     dark=dark)
    try:
        if page.locator(".math").count():
            page.wait_for_selector("mjx-container", timeout=15000)
        name = f"{Path(SHOT_CHAPTER).stem}-{width}-{'dark' if dark else 'light'}"
        page.screenshot(path=str(folder / f"{name}-top.png"))
        target = page.locator("article div.cell_output img").nth(2)
        target.scroll_into_view_if_needed()
        page.screenshot(path=str(folder / f"{name}-figure.png"))
        # the offline notice of the chapter's data, if it ran on a fallback
        notice = page.locator("article div.cell_output pre", has_text="FALLBACK")
        if notice.count():
            notice.first.scroll_into_view_if_needed()
            page.screenshot(path=str(folder / f"{name}-notice.png"))
    finally:
        close(page)
