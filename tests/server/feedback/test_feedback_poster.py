"""`borne qr SITE --out`: the A5 poster in PNG, PDF (rendered back with
poppler's pdftoppm) and SVG, whose QR code carries the form's URL."""
import os
import subprocess
import xml.etree.ElementTree as ET

import pytest
import segno
from PIL import Image

from tests import realparts
from tests.server_support import borne

NAME = "Médiathèque Louise-Michel"
BASE = "https://avis.exemple-ville.fr"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    d = tmp_path_factory.mktemp("poster")
    db = str(d / "borne.db")
    borne("site", "add", "mediatheque", "--name", NAME, "--db", db)
    return d, db


def read_qr(img, url):
    """The dark/light modules found in the image, as segno's matrix of `url`
    would lay them out (the code is the only pure black on the poster)."""
    grey = img.convert("L")
    w, h = grey.size
    px = grey.load()
    xs, ys = [], []
    for y in range(0, h, 2):
        for x in range(0, w, 2):
            if px[x, y] < 16:
                xs.append(x)
                ys.append(y)
    n = len(segno.make(url, error="m").matrix)
    left, top = min(xs), min(ys)
    size = (max(xs) - left + 2) / n
    return [[px[int(left + (c + 0.5) * size), int(top + (r + 0.5) * size)] < 128
             for c in range(n)] for r in range(n)]


def expected(url):
    return [[bool(v) for v in row] for row in segno.make(url, error="m").matrix]


def test_png_poster_is_a5_and_its_code_is_the_form_url(site):
    d, db = site
    out = borne("qr", "mediatheque", "--out", str(d / "p.png"), "--base-url", BASE, "--db", db)
    url = out.stdout.split()[-1]
    assert url.startswith(BASE + "/f/")
    img = Image.open(d / "p.png")
    assert img.size == (1748, 2480)  # 148 x 210 mm at 300 dpi
    assert read_qr(img, url) == expected(url)


def test_pdf_poster_renders_as_one_a5_page(site):
    pdftoppm = realparts.need_binary("pdftoppm")
    d, db = site
    url = borne("qr", "mediatheque", "--out", str(d / "p.pdf"), "--db", db).stdout.split()[-1]
    assert url.startswith(BASE)  # the base URL given last time is kept
    subprocess.run([pdftoppm, "-r", "150", "-png", str(d / "p.pdf"), str(d / "page")],
                   check=True, timeout=60)
    pages = sorted(p for p in os.listdir(d) if p.startswith("page"))
    assert len(pages) == 1
    img = Image.open(d / pages[0])
    assert img.size == (874, 1240)  # A5 at 150 dpi
    assert read_qr(img, url) == expected(url)


def test_svg_poster_holds_name_invitation_and_code(site):
    d, db = site
    url = borne("qr", "mediatheque", "--out", str(d / "p.svg"), "--db", db).stdout.split()[-1]
    root = ET.parse(d / "p.svg").getroot()
    assert (root.get("width"), root.get("height")) == ("148mm", "210mm")
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert NAME in texts and url in texts
    assert any("Scannez ce code" in t for t in texts)
    assert any("Scan this code" in t for t in texts)
    path = next(root.iter("{http://www.w3.org/2000/svg}path")).get("d")
    dark = {tuple(int(v) for v in part.split("h")[0].split())
            for part in path.split("M")[1:]}
    m = expected(url)
    assert dark == {(c + 4, r + 4) for r, row in enumerate(m) for c, v in enumerate(row) if v}


def test_bad_requests_are_one_line_errors(site):
    d, db = site
    cases = [
        (["qr", "nowhere", "--db", db], "unknown site"),
        (["qr", "mediatheque", "--out", str(d / "p.jpg"), "--db", db], ".pdf, .svg or .png"),
        (["qr", "mediatheque", "--base-url", "avis.fr", "--db", db], "https://"),
        (["qr", "mediatheque", "--out", str(d / "no" / "p.png"), "--db", db], "cannot write"),
    ]
    for args, message in cases:
        out = borne(*args, check=False)
        assert out.returncode == 2 and message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
