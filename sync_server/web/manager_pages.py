"""The quality managers' view: login, every site ranked over a date range,
drill-down to one site, CSV exports. French by default, `lang=en` in English.

Forms are protected against cross-site posting by a SameSite=Strict session
cookie and a check that a POST's Origin, when sent, is this server."""
import csv
import datetime
import io
from html import escape
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from sync_server.scoring import report as scoring_report
from sync_server.scoring import stats as scoring
from sync_server.web import access as screen_access
from sync_server.web.keys import DB
from sync_server.web.render import hourly_svg, levels_html, message_page, template
from sync_server.web.text import (
    TEXT,
    fmt_num,
    fmt_pct,
    lang_of,
    period_error,
    responses,
)


def setup(app):
    r = app.router
    r.add_get("/manager", ranking_page)
    r.add_get("/manager/login", login_page)
    r.add_post("/manager/login", login_post)
    r.add_post("/manager/logout", logout_post)
    r.add_get("/manager/ranking.csv", ranking_csv)
    r.add_get("/manager/sites/{site_id}", site_page)
    r.add_get("/manager/sites/{site_id}/daily.csv", daily_csv)


def _page(request, title, body, tools=""):
    lang = lang_of(request)
    t = TEXT[lang]
    q = dict(request.query)
    q["lang"] = "en" if lang == "fr" else "fr"
    html = template("manager_page.html").substitute(
        lang=lang, title=escape(title), heading=escape(title), body=body, tools=tools,
        switch_url=escape("%s?%s" % (request.path, urlencode(q))),
        switch_lang=q["lang"], switch=escape(t["switch"]))
    return web.Response(text=html, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


def _logout_form(t, lang):
    return ('<form method="post" action="/manager/logout?lang=%s"><button type="submit">%s'
            '</button></form>' % (lang, escape(t["logout"])))


def _need_manager(request):
    db = request.app[DB]
    if screen_access.request_manager(request, db):
        return None
    nxt = request.path_qs
    raise web.HTTPFound("/manager/login?" + urlencode({"next": nxt,
                                                        "lang": lang_of(request)}))


def _same_origin(request):
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc == request.host
    return True


def _safe_next(value):
    # Only paths of this site: never an absolute URL or //host.
    if value and value.startswith("/manager") and not value.startswith("//"):
        return value
    return "/manager"


async def login_page(request, failed=False):
    lang = lang_of(request)
    t = TEXT[lang]
    err = ('<p class="error" role="alert">%s</p>' % escape(t["login_failed"])) if failed else ""
    body = ('<section class="card" style="max-width:28rem">%s'
            '<form method="post" action="/manager/login?lang=%s">'
            '<input type="hidden" name="next" value="%s">'
            '<p><label>%s<input name="username" autocomplete="username" required></label></p>'
            '<p><label>%s<input name="password" type="password" autocomplete="current-password"'
            ' required></label></p><p><button type="submit">%s</button></p></form></section>'
            % (err, lang, escape(_safe_next(request.query.get("next"))),
               escape(t["username"]), escape(t["password"]), escape(t["login"])))
    resp = _page(request, t["login_title"], body)
    if failed:
        resp.set_status(401)
    return resp


async def login_post(request):
    if not _same_origin(request):
        raise web.HTTPForbidden(text="cross-site form refused")
    form = await request.post()
    token = screen_access.login(request.app[DB], str(form.get("username", ""))[:64],
                                str(form.get("password", ""))[:200])
    if not token:
        return await login_page(request, failed=True)
    resp = web.HTTPFound(_safe_next(str(form.get("next", ""))))
    resp.set_cookie(screen_access.SESSION_COOKIE, token, httponly=True, samesite="Strict",
                    max_age=screen_access.SESSION_DAYS * 86400, path="/")
    raise resp


async def logout_post(request):
    if not _same_origin(request):
        raise web.HTTPForbidden(text="cross-site form refused")
    screen_access.logout(request.app[DB], request.cookies.get(screen_access.SESSION_COOKIE))
    resp = web.HTTPFound("/manager/login?lang=%s" % lang_of(request))
    resp.del_cookie(screen_access.SESSION_COOKIE, path="/")
    raise resp


def _period(request):
    today = datetime.datetime.now(datetime.timezone.utc).date()
    try:
        return scoring_report.period(request.query.get("from"), request.query.get("to"), today)
    except scoring_report.PeriodError as e:
        lang = lang_of(request)
        raise web.HTTPBadRequest(
            text=message_page(lang, TEXT[lang]["bad_request"], period_error(e, lang)),
            content_type="text/html") from None


def _source(request):
    source = request.query.get("source") or "kiosk"
    if source not in scoring_report.LEVEL_SOURCES:
        source = "kiosk"  # only offered through the form's list
    return source


def _period_form(action, from_day, to_day, source, t, lang, with_source=True, shrink=None):
    src = ""
    if shrink is not None:
        src += ('<label class="check"><span><input type="checkbox" name="shrink" value="1"%s> %s'
                '</span></label>' % (" checked" if shrink else "", escape(t["shrink_option"])))
    if with_source:
        opts = "".join('<option value="%s"%s>%s</option>'
                       % (s, " selected" if s == source else "", escape(t[s]))
                       for s in scoring_report.LEVEL_SOURCES)
        src = '<label>%s<select name="source">%s</select></label>' % (escape(t["source"]), opts)
    return ('<form class="period" method="get" action="%s">'
            '<input type="hidden" name="lang" value="%s">'
            '<label>%s<input type="date" name="from" value="%s"></label>'
            '<label>%s<input type="date" name="to" value="%s"></label>%s'
            '<button type="submit">%s</button></form>'
            % (escape(action), lang, escape(t["from"]), from_day.isoformat(), escape(t["to"]),
               to_day.isoformat(), src, escape(t["show"])))


def _interval(fig, lang):
    if fig.get("positive_interval") is None or fig["status"] == "insufficient":
        return "—"
    lo, hi = fig["positive_interval"]
    return "%s (%s–%s)" % (fmt_pct(fig["positive_share"], lang), fmt_pct(lo, lang),
                           fmt_pct(hi, lang))


async def ranking_page(request):
    _need_manager(request)
    lang = lang_of(request)
    t = TEXT[lang]
    from_day, to_day = _period(request)
    source = _source(request)
    rank = scoring_report.ranking(request.app[DB], from_day, to_day, source)
    q = urlencode({"from": from_day.isoformat(), "to": to_day.isoformat(), "lang": lang})
    rows = []
    for r in rank["sites"]:
        rows.append(
            '<tr><td class="num">%s</td><td><a href="/manager/sites/%s?%s">%s</a></td>'
            '<td class="num">%s</td><td class="num">%d</td><td>%s</td><td class="num">%s</td>'
            '<td class="num">%s</td></tr>'
            % (r["rank"] or "—", escape(r["site"]), q, escape(r["name"]),
               fmt_num(r["happy_index"], lang, 1), r["n"],
               escape(t["status_names"][r["status"]]), _interval(r, lang),
               fmt_pct(r["filtered_share"], lang)))
    csv_q = urlencode({"from": from_day.isoformat(), "to": to_day.isoformat(),
                       "source": source})
    body = (_period_form("/manager", from_day, to_day, source, t, lang)
            + '<h2>%s — %s</h2>' % (escape(t["ranking"]), escape(t[source]))
            + '<table class="data"><thead><tr><th scope="col" class="num">%s</th>'
              '<th scope="col">%s</th><th scope="col" class="num">%s</th>'
              '<th scope="col" class="num">%s</th><th scope="col">%s</th>'
              '<th scope="col" class="num">%s</th><th scope="col" class="num">%s</th></tr>'
              '</thead><tbody>%s</tbody></table>'
            % (escape(t["rank"]), escape(t["site"]), escape(t["happy_index"]),
               escape(t["responses"]), escape(t["status"]), escape(t["positive"]),
               escape(t["filtered"]), "".join(rows))
            + '<p><a href="/manager/ranking.csv?%s">%s</a> · %s</p>'
            % (csv_q, escape(t["csv"]), escape(t["method"])))
    return _page(request, t["manager_title"], body, _logout_form(t, lang))


def _csv_response(name, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    # UTF-8 with a BOM so that spreadsheet software reads the accents right.
    return web.Response(body=("\ufeff" + buf.getvalue()).encode("utf-8"),
                        content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="%s"' % name})


def _csv_num(x):
    return "" if x is None else x


async def ranking_csv(request):
    _need_manager(request)
    from_day, to_day = _period(request)
    source = _source(request)
    rank = scoring_report.ranking(request.app[DB], from_day, to_day, source)
    rows = []
    for r in rank["sites"]:
        lo, hi = r["positive_interval"] or (None, None)
        rows.append([_csv_num(r["rank"]), r["site"], r["name"], source, from_day, to_day,
                     r["n"], _csv_num(r["happy_index"]), r["status"],
                     _csv_num(r["positive_share"]), _csv_num(lo), _csv_num(hi),
                     r["filtered"], _csv_num(r["filtered_share"])])
    return _csv_response(
        "ranking-%s-%s-%s.csv" % (source, from_day, to_day),
        ["rank", "site_id", "site_name", "source", "from", "to", "n", "happy_index", "status",
         "positive_share", "positive_low95", "positive_high95", "filtered",
         "filtered_share"], rows)


def _site_or_404(request):
    row = request.app[DB].conn.execute("SELECT id, name FROM sites WHERE id = ?",
                                       (request.match_info["site_id"],)).fetchone()
    if not row:
        raise web.HTTPNotFound(text="unknown site")
    return row


def _source_card(name, fig, prev, t, lang):
    if name == "mystery":
        value = fmt_num(fig.get("score"), lang, 1)
        sub = "%d %s" % (fig.get("n", 0), escape(t["checks"]))
    else:
        value = fmt_num(fig.get("happy_index"), lang, 1)
        sub = "%s · %s" % (escape(responses(fig["n"], t)),
                           escape(t["status_names"][fig["status"]]))
    before = prev.get("happy_index", prev.get("score")) if prev else None
    if fig.get("shrunk"):
        sub += '<br>%s' % escape(t["shrunk"] % (fig["shrunk"]["k"], fmt_num(
            fig["shrunk"]["network_mean"], lang, 1)))
    return ('<section class="card"><h2>%s</h2><p class="value">%s</p><p>%s</p>'
            '<p class="muted">%s%s%s</p></section>'
            % (escape(t[name]), value, sub, escape(t["previous"]), t["colon"],
               fmt_num(before, lang, 1)))


def _mystery_tables(fig, t, lang):
    if not fig.get("available") or not fig.get("channels"):
        return '<p class="muted">%s</p>' % escape(t["no_mystery"])
    label = "label_fr" if lang == "fr" else "label_en"
    rows = []
    for ch, data in sorted(fig["channels"].items()):
        for c in data.get("criteria", []):
            rows.append('<tr><td>%s</td><td>%s</td><td class="num">%d</td><td class="num">%d'
                        '</td><td class="num">%d</td><td class="num">%s</td></tr>'
                        % (escape(t["channels"].get(ch, ch)), escape(c.get(label) or c["code"]),
                           c["passes"], c["fails"], c["na"], fmt_pct(c["rate"], lang)))
    out = ('<table class="data"><thead><tr><th scope="col">%s</th><th scope="col">%s</th>'
           '<th scope="col" class="num">%s</th><th scope="col" class="num">%s</th>'
           '<th scope="col" class="num">%s</th><th scope="col" class="num">%s</th></tr>'
           '</thead><tbody>%s</tbody></table>'
           % (escape(t["channel"]), escape(t["criterion"]), escape(t["passes"]),
              escape(t["fails"]), escape(t["na"]), escape(t["compliance"]), "".join(rows)))
    if fig.get("timeliness"):
        rows = ['<tr><td>%s</td><td class="num">%d / %d</td><td class="num">%s</td>'
                '<td class="num">%s</td></tr>'
                % (escape(x.get(label) or x["code"]), x["within"], x["total"],
                   fmt_pct(x["rate"], lang), fmt_num(x["median"], lang, 1))
                for x in fig["timeliness"]]
        out += ('<h3>%s</h3><table class="data"><thead><tr><th scope="col">%s</th>'
                '<th scope="col" class="num">%s</th><th scope="col" class="num">%s</th>'
                '<th scope="col" class="num">%s</th></tr></thead><tbody>%s</tbody></table>'
                % (escape(t["timeliness"]), escape(t["criterion"]), escape(t["within"]),
                   escape(t["rate"]), escape(t["median"]), "".join(rows)))
    return out


async def site_page(request):
    _need_manager(request)
    lang = lang_of(request)
    t = TEXT[lang]
    site_id, name = _site_or_404(request)
    from_day, to_day = _period(request)
    db = request.app[DB]
    shrink = request.query.get("shrink") == "1"
    rep = scoring_report.satisfaction(db, site_id, from_day, to_day, shrink=shrink)
    prev = rep["previous"]["sources"]
    cards = "".join(_source_card(s, rep["sources"][s], prev.get(s), t, lang)
                    for s in scoring_report.SOURCES)
    comp = rep["composite"]
    weights = ", ".join("%s %s" % (escape(t[k]), fmt_pct(v, lang))
                        for k, v in scoring.COMPOSITE_WEIGHTS.items())
    comp_text = (fmt_num(comp["value"], lang, 1) if comp["value"] is not None
                 else escape(t["composite_missing"]))
    days = scoring_report.daily(db, site_id, from_day, to_day)
    day_rows = "".join('<tr><td>%s</td><td class="num">%d</td><td class="num">%s</td></tr>'
                       % (d, n, fmt_num(idx, lang, 1)) for d, n, idx in days)
    q = urlencode({"from": from_day.isoformat(), "to": to_day.isoformat()})
    body = (
        '<p><a href="/manager?%s&amp;lang=%s">%s</a> · <a href="/screen/%s?lang=%s">%s</a></p>'
        % (q, lang, escape(t["back"]), escape(site_id), lang, escape(t["screen_link"]))
        + _period_form("/manager/sites/%s" % site_id, from_day, to_day, "kiosk", t, lang,
                       with_source=False, shrink=shrink)
        + '<h2>%s — %s</h2>' % (escape(name), escape(t["composite"]))
        + '<p class="value">%s</p><p class="muted">%s%s%s</p>' % (
            comp_text, escape(t["weights"]), t["colon"], weights)
        + '<div class="figs">%s</div>' % cards
        + '<section class="card"><h2>%s (%s)</h2>%s</section>'
        % (escape(t["hourly"].replace(" aujourd'hui", "").replace(" today", "")),
           escape(t["kiosk"]), hourly_svg(rep["sources"]["kiosk"]["hourly"], t))
        + '<section class="card"><h2>%s (%s)</h2>%s</section>'
        % (escape(t["levels"]), escape(t["kiosk"]), levels_html(rep["sources"]["kiosk"], t))
        + '<h2>%s</h2>%s' % (escape(t["mystery"]), _mystery_tables(rep["sources"]["mystery"],
                                                                 t, lang))
        + '<h2>%s (%s)</h2><table class="data"><thead><tr><th scope="col">%s</th>'
          '<th scope="col" class="num">%s</th><th scope="col" class="num">%s</th></tr></thead>'
          '<tbody>%s</tbody></table>'
        % (escape(t["daily"]), escape(t["kiosk"]), escape(t["day"]), escape(t["responses"]),
           escape(t["happy_index"]), day_rows)
        + '<p><a href="/manager/sites/%s/daily.csv?%s">%s</a> · %s</p>'
        % (escape(site_id), q, escape(t["csv"]), escape(t["method"])))
    return _page(request, "%s — %s" % (t["manager_title"], name), body, _logout_form(t, lang))


async def daily_csv(request):
    _need_manager(request)
    site_id, _name = _site_or_404(request)
    from_day, to_day = _period(request)
    rows = []
    for source in scoring_report.LEVEL_SOURCES:
        for day, n, idx in scoring_report.daily(request.app[DB], site_id, from_day, to_day,
                                                source):
            rows.append([site_id, source, day, n, _csv_num(idx)])
    return _csv_response("%s-%s-%s.csv" % (site_id, from_day, to_day),
                         ["site_id", "source", "day", "n", "happy_index"], rows)
