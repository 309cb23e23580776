"""HTML of the agents' screen: the page shell from `templates/screen_page.html`
and the live panel, re-rendered on every change and pushed over SSE. Charts
are inline SVG drawn here (no script library, no CDN). Every value put into
the page is escaped here."""
import datetime
import os
import zoneinfo
from html import escape
from string import Template

from sync_server.web.text import TEXT, fmt_day, fmt_num, fmt_pct, plural, responses

HERE = os.path.dirname(os.path.abspath(__file__))


def template(name):
    with open(os.path.join(HERE, "templates", name), encoding="utf-8") as f:
        return Template(f.read())


def band(index):
    """Colour band of a happy index, for bars and the big figure."""
    if index is None:
        return "none"
    if index >= 75:
        return "good"
    if index >= 50:
        return "mid"
    return "low"


def hourly_svg(hourly, t):
    """Bars of responses per hour, coloured by that hour's happy index."""
    used = [h["hour"] for h in hourly if h["n"]]
    first = min([7] + used)
    last = max([19] + used)
    hours = [h for h in hourly if first <= h["hour"] <= last]
    top = max([h["n"] for h in hours] + [1])
    w, hgt, base = 960, 300, 260
    slot = w / len(hours)
    bar = slot * 0.7
    summary = ", ".join("%dh %d" % (h["hour"], h["n"]) for h in hours if h["n"]) or "0"
    parts = ['<svg class="hourly" viewBox="0 0 %d %d" role="img" aria-label="%s">'
             % (w, hgt, escape(t["hourly_label"] % summary))]
    parts.append('<line x1="0" y1="%d" x2="%d" y2="%d" class="axis"/>' % (base, w, base))
    for i, h in enumerate(hours):
        x = i * slot + (slot - bar) / 2
        height = 0 if not h["n"] else max(3, (base - 48) * h["n"] / top)
        cx = x + bar / 2
        if h["n"]:
            parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="bar %s">'
                         '<title>%dh : %d</title></rect>'
                         % (x, base - height, bar, height, band(h["happy_index"]), h["hour"],
                            h["n"]))
            parts.append('<text x="%.1f" y="%.1f" class="count">%d</text>'
                         % (cx, base - height - 6, h["n"]))
        parts.append('<text x="%.1f" y="%d" class="hour">%dh</text>' % (cx, base + 26, h["hour"]))
    parts.append("</svg>")
    return "".join(parts)


def levels_html(fig, t):
    """Horizontal bars: how many responses at each level (largest scale)."""
    counts = fig.get("counts") or {}
    if not counts:
        return '<p class="muted">%s</p>' % escape(t["no_data"])
    scale = max(counts, key=lambda s: sum(counts[s]))
    row = counts[scale]
    total = sum(row) or 1
    names = t["level_names"][int(scale)]
    out = ['<ul class="levels">']
    for level in reversed(range(int(scale))):
        share = row[level] / total
        out.append('<li><span class="lname">%s</span><span class="track">'
                   '<span class="fill l%d-%s" style="width:%.1f%%"></span></span>'
                   '<span class="lcount">%d</span></li>'
                   % (escape(names[level]), level, scale, 100 * share, row[level]))
    out.append("</ul>")
    return "".join(out)


def index_text(fig, lang):
    return fmt_num(fig.get("happy_index"), lang, 1)


def hero(fig, t, lang, main):
    n = fig["n"]
    word = t["responses"] if plural(n, t) else t["response"]  # the number is marked up apart
    cls = "hero" if main else "hero small"
    out = ['<div class="%s">' % cls]
    out.append('<p class="big %s" data-figure="%s-index">%s</p>'
               % (band(fig.get("happy_index")), "kiosk" if main else "qr",
                  escape(index_text(fig, lang))))
    out.append('<p class="count"><strong data-figure="%s-n">%d</strong> %s</p>'
               % ("kiosk" if main else "qr", n, escape(word)))
    if not n:
        out.append('<p class="note">%s</p>' % escape(t["no_data"]))
    elif fig["status"] == "insufficient":
        out.append('<p class="note">%s</p>' % escape(t["too_few"]))
    elif fig["status"] == "indicative":
        out.append('<p class="note badge">%s</p>' % escape(t["indicative"]))
    if main and fig.get("positive_share") is not None and fig["status"] != "insufficient":
        lo, hi = fig["positive_interval"]
        out.append('<p class="detail">%s%s%s (%s–%s, %s)</p>'
                   % (escape(t["positive"]), t["colon"], fmt_pct(fig["positive_share"], lang),
                      fmt_pct(lo, lang), fmt_pct(hi, lang), escape(t["interval"])))
    if main and fig.get("filtered"):
        out.append('<p class="detail">%s%s%s (%d)</p>'
                   % (escape(t["filtered"]), t["colon"], fmt_pct(fig["filtered_share"], lang),
                      fig["filtered"]))
    if fig.get("shrunk"):
        s = fig["shrunk"]
        out.append('<p class="detail">%s</p>' % escape(
            t["shrunk"] % (s["k"], fmt_num(s["network_mean"], lang, 1))))
    out.append("</div>")
    return "".join(out)


def compare_row(label, fig, today_fig, t, lang):
    idx = fig.get("happy_index")
    delta = ""
    if fig is not today_fig and idx is not None and today_fig.get("happy_index") is not None:
        d = today_fig["happy_index"] - idx
        arrow = "▲" if d > 0.05 else ("▼" if d < -0.05 else "=")
        delta = '<span class="delta">%s %s%s %s</span>' % (
            arrow, "+" if d > 0 else "", fmt_num(d, lang, 1), escape(t["points"]))
    return ('<tr><th scope="row">%s</th><td class="num">%s</td><td class="num">%s</td>'
            '<td>%s</td></tr>' % (escape(label), escape(index_text(fig, lang)),
                                  escape(responses(fig["n"], t)), delta))


def fmt_time(ms, tz, lang):
    if ms is None:
        return ""
    t = datetime.datetime.fromtimestamp(ms / 1000, zoneinfo.ZoneInfo(tz))
    return t.strftime("%d/%m %H:%M" if lang == "fr" else "%m/%d %H:%M")


def health_html(kiosks, tz, t, lang):
    if not kiosks:
        return '<p class="muted">%s</p>' % escape(t["no_kiosk"])
    out = ['<ul class="kiosks">']
    for k in kiosks:
        bits = ['<span class="state %s">%s</span>' % (k["state"], escape(t[k["state"]]))]
        if k["battery_pct"] is not None:
            bits.append("%s %d%s" % (escape(t["battery"]), k["battery_pct"],
                                     "\u00a0%" if lang == "fr" else "%"))
        if "battery_low" in k["problems"]:
            bits.append('<strong class="warn">%s</strong>' % escape(t["battery_low"]))
        if "backlog" in k["problems"]:
            bits.append('<strong class="warn">%d %s</strong>' % (k["journal"],
                                                                   escape(t["backlog"])))
        if k["last_seen_ms"]:
            bits.append("%s %s" % (escape(t["last_seen"]),
                                   fmt_time(k["last_seen_ms"], tz, lang)))
        cls = "problem" if k["problems"] else "fine"
        out.append('<li class="%s"><span class="kid">%s</span> %s</li>'
                   % (cls, escape(k["id"]), " · ".join(bits)))
    out.append("</ul>")
    return "".join(out)


def comments_html(comments, tz, t, lang):
    if not comments:
        return '<p class="muted">%s</p>' % escape(t["no_comments"])
    out = ['<ul class="comments">']
    for c in comments:
        level, scale = c.get("level"), c.get("scale")
        mood = ""
        if level is not None and scale in t["level_names"]:
            mood = '<span class="mood">%s</span> ' % escape(t["level_names"][scale][level])
        out.append('<li>%s<q>%s</q> <span class="when">%s</span></li>'
                   % (mood, escape(c.get("comment") or ""),
                      fmt_time(c.get("created_ms"), tz, lang)))
    out.append("</ul>")
    return "".join(out)


def short_local(text, lang):
    """'2026-11-13 14:00' as '13/11 14:00' (French) or '11/13 14:00'."""
    try:
        t = datetime.datetime.strptime(str(text)[:16], "%Y-%m-%d %H:%M")
    except ValueError:
        return str(text or "")
    return t.strftime("%d/%m %H:%M" if lang == "fr" else "%m/%d %H:%M")


def mystery_html(visits, t, lang):
    if not visits:
        return '<p class="muted">%s</p>' % escape(t["no_mystery"])
    out = ['<ul class="mystery">']
    for v in visits:
        label = t["channels"].get(v.get("channel"), v.get("channel") or "")
        judged = (v.get("passes") or 0) + (v.get("fails") or 0)
        rate = v["passes"] / judged if judged else None
        failed = ""
        if v.get("failed"):
            failed = ' · <span class="warn">%d %s</span>' % (len(v["failed"]),
                                                             escape(t["failed"]))
        out.append('<li><span class="chan">%s</span> <span class="when">%s</span> · '
                   '%s %s (%d/%d)%s</li>'
                   % (escape(label), escape(short_local(v.get("local_time"), lang)),
                      escape(t["compliance"]), fmt_pct(rate, lang), v.get("passes") or 0,
                      judged, failed))
    out.append("</ul>")
    return "".join(out)


def panel(data, lang):
    """The live part of the screen."""
    t = TEXT[lang]
    f = data["figures"]
    kiosk, qr = f["kiosk"], f["qr"]
    tz = data["site"]["timezone"]
    updated = datetime.datetime.now(zoneinfo.ZoneInfo(tz)).strftime("%H:%M:%S")
    out = []
    out.append('<section class="card main" aria-labelledby="h-today">'
               '<h2 id="h-today">%s — %s</h2>' % (escape(t["happy_index"]), escape(t["today"])))
    out.append('<div class="heroes"><div><h3>%s</h3>%s</div><div><h3>%s</h3>%s</div></div>'
               % (escape(t["kiosk"]), hero(kiosk, t, lang, True),
                  escape(t["qr"]), hero(qr, t, lang, False)))
    out.append("</section>")
    out.append('<section class="card compare" aria-labelledby="h-compare">'
               '<h2 id="h-compare">%s (%s)</h2><table>' % (escape(t["comparison"]),
                                                          escape(t["kiosk"])))
    out.append(compare_row(t["today"], kiosk, kiosk, t, lang))
    out.append(compare_row(t["yesterday"], data["yesterday"]["kiosk"], kiosk, t, lang))
    out.append(compare_row(t["last_week"], data["last_week"]["kiosk"], kiosk, t, lang))
    out.append("</table></section>")
    out.append('<section class="card chart" aria-labelledby="h-hourly"><h2 id="h-hourly">%s</h2>'
               '%s</section>' % (escape(t["hourly"]), hourly_svg(kiosk["hourly"], t)))
    out.append('<section class="card dist" aria-labelledby="h-levels"><h2 id="h-levels">%s</h2>'
               '%s</section>' % (escape(t["levels"]), levels_html(kiosk, t)))
    out.append('<section class="card health" aria-labelledby="h-health"><h2 id="h-health">%s'
               '</h2>%s</section>' % (escape(t["health"]),
                                      health_html(data["kiosks"], tz, t, lang)))
    out.append('<section class="card comments-card" aria-labelledby="h-comments">'
               '<h2 id="h-comments">%s</h2>%s</section>'
               % (escape(t["comments"]), comments_html(data["comments"], tz, t, lang)))
    out.append('<section class="card mystery-card" aria-labelledby="h-mystery">'
               '<h2 id="h-mystery">%s</h2>%s</section>'
               % (escape(t["mystery_latest"]), mystery_html(data["mystery"], t, lang)))
    out.append('<p class="updated">%s <span data-figure="updated">%s</span></p>'
               % (escape(t["updated"]), updated))
    return "".join(out)


def page(data, lang, key, events_url, switch_url):
    t = TEXT[lang]
    return template("screen_page.html").substitute(
        lang=lang,
        title=escape("%s — %s" % (t["screen_title"], data["site"]["name"])),
        site_name=escape(data["site"]["name"]),
        heading=escape(t["screen_title"]),
        day=escape(fmt_day(datetime.date.fromisoformat(data["today"]), lang)),
        switch_url=escape(switch_url),
        switch_lang="en" if lang == "fr" else "fr",
        switch=escape(t["switch"]),
        events_url=escape(events_url),
        live=escape(t["live"]),
        reconnecting=escape(t["reconnecting"]),
        panel=panel(data, lang),
    )


def message_page(lang, title, text, status_class="error"):
    return template("screen_message.html").substitute(
        lang=lang, title=escape(title), text=escape(text), cls=status_class)
