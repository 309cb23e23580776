"""The printable A5 poster: the site's name, a French invitation with an
English line, the QR code of the form's URL and the URL itself. One layout,
drawn either as a 300 dpi raster (PNG, or a one-page PDF) or as SVG."""
import html
import io
import os
import zlib
from typing import Any

import segno
from PIL import Image, ImageDraw, ImageFont

DPI = 300
WIDTH, HEIGHT = 1748, 2480  # A5 (148 x 210 mm) at 300 dpi
MARGIN = 130
BLUE = "#000091"
INK = "#1e1e1e"
GREY = "#3a3a3a"
TITLE_FR = "Votre avis nous intéresse"
TITLE_EN = "Your opinion matters"
INVITE_FR = ("Scannez ce code avec votre téléphone et dites-nous comment s'est passée "
             "votre visite. C'est anonyme et cela prend une minute.")
INVITE_EN = "Scan this code with your phone to tell us how your visit went: anonymous, one minute."
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}
FORMATS = ("pdf", "svg", "png")


def font(size: int, bold: bool = False) -> Any:
    """DejaVu Sans (bold) at `size` pixels, else Pillow's own font."""
    for d in FONT_DIRS:
        path = os.path.join(d, FONT_FILES[bold])
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def wrap(text: str, font: Any, width: int) -> list[str]:
    """`text` in lines no wider than `width` pixels in `font`."""
    lines, line = [], ""
    for word in text.split():
        trial = (line + " " + word).strip()
        if line and font.getlength(trial) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return lines


def layout(site_name: str, url: str) -> list[tuple[Any, ...]]:
    """Drawing operations in pixels at 300 dpi: ("rect", x, y, w, h, colour),
    ("text", x_centre, y_baseline, size, bold, colour, text), ("qr", x, y,
    module_px, matrix)."""
    ops: list[tuple[Any, ...]] = [
        ("rect", 0, 0, WIDTH, 330, BLUE),
        ("text", WIDTH // 2, 165, 92, True, "#ffffff", TITLE_FR),
        ("text", WIDTH // 2, 260, 56, False, "#ffffff", TITLE_EN)]
    inner = WIDTH - 2 * MARGIN
    y = 470
    for size, bold, colour, text in ((84, True, INK, site_name), (54, False, INK, INVITE_FR)):
        for line in wrap(text, font(size, bold), inner):
            ops.append(("text", WIDTH // 2, y, size, bold, colour, line))
            y += int(size * 1.3)
        y += 40
    qr = segno.make(url, error="m")
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=4)]
    module = min(1000, HEIGHT - y - 420) // len(matrix)
    side = module * len(matrix)
    ops.append(("qr", (WIDTH - side) // 2, y, module, matrix))
    y += side + 90
    for line in wrap(INVITE_EN, font(44), inner):
        ops.append(("text", WIDTH // 2, y, 44, False, GREY, line))
        y += 58
    ops.append(("text", WIDTH // 2, HEIGHT - MARGIN, 40, False, GREY, url))
    return ops


def render_image(ops: list[tuple[Any, ...]]) -> Image.Image:
    img = Image.new("RGB", (WIDTH, HEIGHT), "#ffffff")
    draw = ImageDraw.Draw(img)
    for op in ops:
        if op[0] == "rect":
            _, x, y, w, h, colour = op
            draw.rectangle((x, y, x + w - 1, y + h - 1), fill=colour)
        elif op[0] == "text":
            _, x, y, size, bold, colour, text = op
            draw.text((x, y), text, font=font(size, bold), fill=colour, anchor="ms")
        else:
            _, x0, y0, module, matrix = op
            for r, row in enumerate(matrix):
                for c, dark in enumerate(row):
                    if dark:
                        x, y = x0 + c * module, y0 + r * module
                        draw.rectangle((x, y, x + module - 1, y + module - 1), fill="#000000")
    return img


def render_svg(ops: list[tuple[Any, ...]]) -> str:
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="148mm" height="210mm" '
           'viewBox="0 0 %d %d">' % (WIDTH, HEIGHT),
           '<rect width="%d" height="%d" fill="#ffffff"/>' % (WIDTH, HEIGHT)]
    for op in ops:
        if op[0] == "rect":
            _, x, y, w, h, colour = op
            out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>'
                       % (x, y, w, h, colour))
        elif op[0] == "text":
            _, x, y, size, bold, colour, text = op
            out.append('<text x="%d" y="%d" font-family="DejaVu Sans, Verdana, sans-serif" '
                       'font-size="%d"%s fill="%s" text-anchor="middle">%s</text>'
                       % (x, y, size, ' font-weight="bold"' if bold else "", colour,
                          html.escape(text)))
        else:
            _, x0, y0, module, matrix = op
            path = "".join("M%d %dh1v1h-1z" % (c, r) for r, row in enumerate(matrix)
                           for c, dark in enumerate(row) if dark)
            out.append('<path transform="translate(%d %d) scale(%d)" fill="#000000" d="%s"/>'
                       % (x0, y0, module, path))
    out.append("</svg>\n")
    return "\n".join(out)


def render(ops: list[tuple[Any, ...]], fmt: str) -> bytes:
    """A page of drawing operations as a file's bytes: pdf, svg or png."""
    if fmt not in FORMATS:
        raise ValueError("the file must end in .pdf, .svg or .png")
    if fmt == "svg":
        return render_svg(ops).encode("utf-8")
    img = render_image(ops)
    if fmt == "pdf":
        return pdf_page(img)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(DPI, DPI))
    return buf.getvalue()


def write_poster(path: str, site_name: str, url: str) -> None:
    """Write the poster; the format follows the file's extension."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError("the poster file must end in .pdf, .svg or .png")
    data = render(layout(site_name, url), ext)
    with open(path, "wb") as f:
        f.write(data)


def pdf_page(img: Image.Image) -> bytes:
    """A one-page PDF holding the raster losslessly (Flate); Pillow's own PDF
    writer would store it as JPEG, blurring the code's edges."""
    w_pt, h_pt = img.size[0] * 72 / DPI, img.size[1] * 72 / DPI
    data = zlib.compress(img.convert("RGB").tobytes(), 9)
    content = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources "
        b"<< /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>" % (w_pt, h_pt),
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
        % (img.size[0], img.size[1], len(data), data),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Title (Votre avis - Your opinion) /Producer (Borne) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, len(objects), xref)
    return bytes(out)
