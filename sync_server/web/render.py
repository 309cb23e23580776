"""Pages through Jinja2 (aiohttp-jinja2). The templates in `templates/` are
compiled on first use and kept (never re-read from disk); autoescape escapes
every value put into a page. Templates get the page's language `lang`, its
texts `t`, the language picker's `switch_url`, `csrf_input(action)` for
forms, and the filters of `i18n` (num, pct, day, when, responses). Charts are
inline SVG (no script library, no CDN): their geometry is computed here, the
markup is in `templates/charts.html`."""
import datetime
import os
from collections.abc import Callable
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from babel.dates import format_date

from sync_server.web import csrf, i18n

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE_DIRS = [os.path.join(HERE, "templates")]


OPTIONS: dict[str, Any] = dict(autoescape=True, auto_reload=False, trim_blocks=True,
                               lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATE_DIRS), **OPTIONS)
    _fill(env)


def standalone(name: str, lang: str, **context: Any) -> str:
    """The template `name` outside any request (a report printed to a file):
    the same filters and charts, no language picker, no form."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIRS), **OPTIONS)
    _fill(env)
    return env.get_template(name).render(lang=lang, t=i18n.TEXT[lang], switch_url=None,
                                         **context)


def _fill(env: jinja2.Environment) -> None:
    env.filters.update({name: _in_page_lang(fmt) for name, fmt in FILTERS.items()})
    env.globals.update(band=band, hourly_chart=hourly_chart, level_bars=level_bars,
                       week_chart=_in_page_lang(week_chart),
                       ranking_chart=_in_page_lang(ranking_chart),
                       line_chart=_in_page_lang(line_chart),
                       distribution_chart=_in_page_lang(distribution_chart),
                       plural=_in_page_lang(i18n.plural), csrf_input=_csrf_input)


def _context(request: web.Request, lang: str, switch_keep: tuple[str, ...] | None,
             context: dict[str, Any]) -> dict[str, Any]:
    return {"request": request, "lang": lang, "t": i18n.TEXT[lang],
            "switch_url": i18n.switch_url(request, lang, switch_keep), **context}


def page(request: web.Request, name: str, lang: str, *, status: int = 200,
         headers: dict[str, str] | None = None, switch_keep: tuple[str, ...] | None = None,
         **context: Any) -> web.Response:
    """The template `name` as an HTML response, never cached by the browser."""
    resp = aiohttp_jinja2.render_template(name, request,
                                          _context(request, lang, switch_keep, context),
                                          status=status)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers.update(headers or {})
    return resp


def text(request: web.Request, name: str, lang: str, **context: Any) -> str:
    """The template `name` as a string (a fragment pushed over SSE)."""
    return aiohttp_jinja2.render_string(name, request, _context(request, lang, None, context))


# --- filters: the page's language comes from the template's context --------

def _in_page_lang(fmt: Callable[..., Any]) -> Callable[..., Any]:
    """`fmt(value, lang, *args)` as a filter `value|name(*args)`."""
    @jinja2.pass_context
    def flt(ctx, value, *args):
        return fmt(value, ctx["lang"], *args)
    return flt


FILTERS: dict[str, Callable[..., Any]] = {
    "num": i18n.fmt_num, "pct": i18n.fmt_pct, "day": i18n.fmt_day, "when": i18n.fmt_when,
    "responses": i18n.responses}


@jinja2.pass_context
def _csrf_input(ctx, action):
    return csrf.hidden_input(ctx["request"], action)


# --- charts -------------------------------------------------------------------

def band(index: float | None) -> str:
    """Colour band of a happy index, for bars and the big figure."""
    if index is None:
        return "none"
    if index >= 75:
        return "good"
    if index >= 50:
        return "mid"
    return "low"


def hourly_chart(hourly: list[dict]) -> dict[str, Any]:
    """Bars of responses per hour (7h to 19h at least), coloured by that
    hour's happy index: SVG geometry for `charts.hourly`."""
    used = [h["hour"] for h in hourly if h["n"]]
    first = min([7] + used)
    last = max([19] + used)
    hours = [h for h in hourly if first <= h["hour"] <= last]
    top = max([h["n"] for h in hours] + [1])
    w, hgt, base = 960, 300, 260
    slot = w / len(hours)
    bar = slot * 0.7
    bars = []
    for i, h in enumerate(hours):
        x = i * slot + (slot - bar) / 2
        height = 0 if not h["n"] else max(3, (base - 48) * h["n"] / top)
        bars.append({"hour": h["hour"], "n": h["n"], "band": band(h["happy_index"]),
                     "x": "%.1f" % x, "y": "%.1f" % (base - height), "width": "%.1f" % bar,
                     "height": "%.1f" % height, "cx": "%.1f" % (x + bar / 2),
                     "count_y": "%.1f" % (base - height - 6)})
    summary = ", ".join("%dh %d" % (h["hour"], h["n"]) for h in hours if h["n"]) or "0"
    return {"w": w, "h": hgt, "base": base, "label_y": base + 26, "bars": bars,
            "summary": summary}


def week_chart(days: list[dict], lang: str) -> dict[str, Any]:
    """One bar per day (height: the day's score out of 100, colour: its
    band; a day under 10 responses has no bar), the score written above:
    SVG geometry for `charts.week`, with the same figures as text."""
    w, hgt, base = 700, 230, 190
    slot = w / max(1, len(days))
    bar = slot * 0.62
    bars, said = [], []
    for i, d in enumerate(days):
        idx = d["happy_index"]
        x = i * slot + (slot - bar) / 2
        height = 0 if idx is None else max(3, (base - 40) * idx / 100)
        name = format_date(datetime.date.fromisoformat(d["day"]), "EEE d", locale=lang)
        value = i18n.fmt_num(idx, lang)
        said.append("%s %s" % (name, value))
        bars.append({"x": "%.1f" % x, "y": "%.1f" % (base - height), "width": "%.1f" % bar,
                     "height": "%.1f" % height, "cx": "%.1f" % (x + bar / 2),
                     "value_y": "%.1f" % (base - height - 8), "value": value,
                     "band": band(idx), "name": name, "n": d["n"]})
    return {"w": w, "h": hgt, "base": base, "label_y": base + 30, "bars": bars,
            "summary": ", ".join(said)}


def ranking_chart(rows: list[dict], lang: str, column: str,
                  limit: int = 30) -> dict[str, Any]:
    """Horizontal bars of `column` (0..100) for the first `limit` rows, in
    their order, the value written after each bar: SVG geometry for
    `charts.ranking`, and the same figures as text."""
    rows = rows[:limit]
    label_w, bar_w, row_h = 300, 560, 34
    bars, said = [], []
    for i, r in enumerate(rows):
        value = r.get(column)
        width = 0 if value is None else max(2, bar_w * value / 100)
        shown = i18n.fmt_num(value, lang, 1)
        said.append("%s %s" % (r["name"], shown))
        bars.append({"y": i * row_h + 6, "ty": i * row_h + 25, "width": "%.1f" % width,
                     "band": band(value), "name": r["name"], "value": shown,
                     "vx": "%.1f" % (label_w + width + 8)})
    return {"w": label_w + bar_w + 80, "h": max(1, len(rows)) * row_h + 8, "label_w": label_w,
            "label_x": label_w - 10, "bars": bars, "n": len(rows), "summary": ", ".join(said)}


def distribution_chart(values: list[float], lang: str, own: float | None) -> dict[str, Any]:
    """A strip from 0 to 100 with a dot per organisation of a category
    (`values`), the organisation's own score larger: SVG geometry for
    `charts.distribution`."""
    w, h, left, right, mid = 900, 110, 30, 870, 50

    def x(v):
        return "%.1f" % (left + (right - left) * v / 100)
    dots = [{"x": x(v), "band": band(v)} for v in values]
    ticks = [{"x": x(v), "label": str(v)} for v in (0, 25, 50, 75, 100)]
    return {"w": w, "h": h, "left": left, "right": right, "mid": mid, "dots": dots,
            "own": None if own is None else {"x": x(own), "band": band(own)},
            "ticks": ticks, "label_y": h - 10,
            "summary": ", ".join(i18n.fmt_num(v, lang, 1) for v in values)}


def line_chart(points: list[dict], lang: str) -> dict[str, Any]:
    """A line of scores (0..100) over periods, a dot per period with a score
    (a gap where a period has none), the first and last labels and gridlines
    at 0, 50, 75 and 100: SVG geometry for `charts.line`."""
    w, h, left, top, bottom = 900, 260, 44, 12, 224
    n = len(points)
    step = (w - left - 20) / max(1, n - 1)

    def y(v):
        return "%.1f" % (bottom - (bottom - top) * v / 100)
    dots: list[dict[str, str]] = []
    segments: list[str] = []
    current: list[str] = []
    for i, p in enumerate(points):
        if p["value"] is None:
            if len(current) > 1:
                segments.append(" ".join(current))
            current = []
            continue
        x = "%.1f" % (left + i * step)
        current.append("%s,%s" % (x, y(p["value"])))
        dots.append({"x": x, "y": y(p["value"]), "band": band(p["value"]),
                     "title": "%s : %s" % (p["label"], i18n.fmt_num(p["value"], lang, 1))})
    if len(current) > 1:
        segments.append(" ".join(current))
    grid = [{"v": v, "y": y(v)} for v in (0, 50, 75, 100)]
    ticks = [{"x": "%.1f" % (left + i * step), "label": points[i]["label"]}
             for i in sorted({0, n - 1}) if n]
    summary = ", ".join("%s %s" % (p["label"], i18n.fmt_num(p["value"], lang, 1))
                        for p in points)
    return {"w": w, "h": h, "left": left, "right": w - 20, "label_y": h - 12, "grid": grid,
            "segments": segments, "dots": dots, "ticks": ticks, "summary": summary}


def level_bars(fig: dict, lang: str) -> list[dict]:
    """How many responses at each level of the most used scale, most
    satisfied first: rows for `charts.levels` (empty without data)."""
    counts = fig.get("counts") or {}
    if not counts:
        return []
    scale = max(counts, key=lambda s: sum(counts[s]))
    row = counts[scale]
    total = sum(row) or 1
    names = i18n.LEVEL_NAMES[lang][int(scale)]
    return [{"name": names[level], "css": "l%d-%s" % (level, scale),
             "width": "%.1f" % (100 * row[level] / total), "n": row[level]}
            for level in reversed(range(int(scale)))]
