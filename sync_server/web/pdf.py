"""Printing a page to PDF with Chromium through Playwright (`page.pdf`):
the text stays text (selectable, searchable), the SVG charts stay vectors.
Playwright is an optional dependency (`pip install borne[reports]`) and the
browser is the system's Chromium (Debian's `chromium`); nothing is
downloaded."""
import os

from sync_server.web.render import HERE

CHROMIUM = "/usr/bin/chromium"
STYLE = os.path.join(HERE, "static", "screen_style.css")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


class PdfError(RuntimeError):
    """The PDF could not be made; the message says why and what to install."""


def html_to_pdf(html: str, out_path: str, chromium: str = CHROMIUM) -> None:
    """Print `html` (a page of this server, its style sheet added from the
    package) to an A4 PDF at `out_path`."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise PdfError("printing a PDF needs Playwright: pip install 'borne[reports]'") from None
    if not os.access(chromium, os.X_OK):
        raise PdfError("no Chromium at %s (Debian: apt install chromium; or give --chromium)"
                       % chromium)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
            try:
                page = browser.new_page()
                page.set_content(html, wait_until="load")
                page.add_style_tag(path=STYLE)
                page.emulate_media(media="print")
                page.pdf(path=out_path, format="A4", print_background=True,
                         margin={"top": "12mm", "bottom": "12mm", "left": "10mm",
                                 "right": "10mm"})
            finally:
                browser.close()
    except Error as e:
        raise PdfError("Chromium could not print the report: %s" % e) from None
