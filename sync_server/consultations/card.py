"""The printed card of a consultation on the kiosk: the question in French
and English, and under each button, left to right, the answer it gives
(the first `kiosk_answers` answers). A5 like the QR poster, drawn by the
poster's own renderers (`feedback.poster`): PDF, SVG or PNG."""
import os
from typing import Any

from sync_server.feedback import poster

TITLE_FR = "Consultation publique"
TITLE_EN = "Public consultation"
PRESS_FR = "Appuyez sur le bouton de votre réponse. C'est anonyme."
PRESS_EN = "Press the button of your answer. It is anonymous."


def layout(c: dict) -> list[tuple[Any, ...]]:
    """Drawing operations (as `poster.layout`'s) of the card of `c`, which
    must have kiosk answers."""
    n = c["kiosk_answers"]
    if not 2 <= n <= 4:
        raise ValueError("consultation %d is for phones only: no kiosk card" % c["id"])
    width, height, margin = poster.WIDTH, poster.HEIGHT, poster.MARGIN
    ops: list[tuple[Any, ...]] = [
        ("rect", 0, 0, width, 330, poster.BLUE),
        ("text", width // 2, 165, 92, True, "#ffffff", TITLE_FR),
        ("text", width // 2, 260, 56, False, "#ffffff", TITLE_EN)]
    inner = width - 2 * margin
    y = 480
    for size, bold, colour, text in ((76, True, poster.INK, c["question_fr"]),
                                     (52, False, poster.GREY, c["question_en"])):
        for line in poster.wrap(text, poster.font(size, bold), inner):
            ops.append(("text", width // 2, y, size, bold, colour, line))
            y += int(size * 1.3)
        y += 50
    # One column per button, as they stand on the kiosk.
    gap = 30
    col = (inner - gap * (n - 1)) // n
    top = max(y + 40, height - 1100)
    for i, answer in enumerate(c["answers"][:n]):
        x = margin + i * (col + gap)
        centre = x + col // 2
        ops.append(("rect", x, top, col, 16, poster.BLUE))
        ops.append(("text", centre, top + 170, 120, True, poster.BLUE, str(i + 1)))
        ly = top + 300
        for size, bold, colour, text in ((60, True, poster.INK, answer["fr"]),
                                         (46, False, poster.GREY, answer["en"])):
            for line in poster.wrap(text, poster.font(size, bold), col - 20):
                ops.append(("text", centre, ly, size, bold, colour, line))
                ly += int(size * 1.25)
            ly += 30
    ops.append(("text", width // 2, height - margin - 70, 44, False, poster.GREY, PRESS_FR))
    ops.append(("text", width // 2, height - margin, 40, False, poster.GREY, PRESS_EN))
    return ops


def write_card(path: str, c: dict) -> None:
    """Write the card; the format follows the file's extension."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in poster.FORMATS:
        raise ValueError("the card file must end in .pdf, .svg or .png")
    data = poster.render(layout(c), ext)
    with open(path, "wb") as f:
        f.write(data)
