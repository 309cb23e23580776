"""The demo's public consultation: one question asked at two sites, made
with `borne consultation add`, opened a few days ago; phone answers of the
past days through the phone page's own storing function (with its budget
and single-use records), today's through the real page over HTTP; ideas,
some already published, others waiting in the moderation queue."""
import datetime
import http.cookiejar
import re
import time
import urllib.parse
import urllib.request

from simulator import register, traffic

SITES = ("mairie-centre", "mediatheque-jules-verne")
ANSWERS = ("Oui, jusqu'à 22 h|Yes, until 10 pm", "Oui, l'été seulement|Yes, in summer only",
           "Non|No", "Sans avis|No opinion")
WEIGHTS = (5, 3, 2, 1)
PER_DAY = 6  # phone answers per site on a full day
IDEAS = (
    ("Des bancs à l'ombre près de l'aire de jeux.", True),
    ("Un éclairage doux le long des allées, pour la sécurité.", True),
    ("Fermer plus tôt le dimanche pour le voisinage.", False),
    ("Contactez-moi au 06 12 34 56 78 pour en parler.", False),
)


def _paris(days_from_now):
    moment = datetime.datetime.now() + datetime.timedelta(days=days_from_now)
    return moment.strftime("%Y-%m-%d %H:%M")


def create(db, days):
    """The consultation, opened `days` days ago for three more weeks: (id, token)."""
    args = ["consultation", "add", "--title-fr", "Parc des Tilleuls le soir",
            "--title-en", "Tilleuls park in the evening",
            "--question-fr", "Faut-il ouvrir le parc des Tilleuls le soir ?",
            "--question-en", "Should the Tilleuls park open in the evening?",
            "--kiosk-answers", "3", "--opens", _paris(-max(1, days)), "--closes", _paris(21),
            "--ideas", "--live-results", "--db", db]
    for a in ANSWERS:
        args += ["--answer", a]
    for s in SITES:
        args += ["--site", s]
    out = register.borne(*args)
    cid = int(re.search(r"consultation (\d+) added", out).group(1))
    token = re.search(r"/c/(\S+)", out).group(1)
    register.borne("consultation", "open", cid, "--db", db)
    return cid, token


def history(db, cid, sites, days, rng):
    """Past phone answers at each site's opening hours, and the ideas."""
    from sync_server.consultations import phone
    from sync_server.feedback.guard import AddressLimiter
    from sync_server.storage import consultations as store
    from sync_server.storage.connection import connect

    conn = connect(db)
    limiter = AddressLimiter(10_000)
    c = store.get(conn, cid)
    total = 0
    ideas = list(IDEAS)
    try:
        for site in sites:
            presses = traffic.history(site["hours"], "Europe/Paris", max(1, days), PER_DAY,
                                      2, 0.0, rng, int(time.time() * 1000))
            for n, (at_ms, _level) in enumerate(presses):
                answer = rng.choices(range(len(ANSWERS)), WEIGHTS)[0]
                idea, publish = ideas.pop(0) if ideas and n % 3 == 1 else ("", False)
                phone.store_answer(conn, c, site["id"], answer, idea, "fr", limiter,
                                   "demo-%s" % site["id"], "demo-%s-%d" % (site["id"], n),
                                   at_ms)
                total += 1
                if publish:
                    last = store.ideas(conn, cid, "pending")[-1]
                    phone.moderate(conn, last["id"], True, "", at_ms)
    finally:
        conn.close()
    return total


def live(base_url, token, rng, n=3):
    """Answers through the real phone page: GET it, then POST with its CSRF field."""
    sent = 0
    for i in range(n):
        url = "%s/c/%s?site=%s" % (base_url, token, SITES[i % len(SITES)])
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(url, timeout=10) as r:
            page = r.read().decode()
        m = re.search(r'name="csrf" value="([^"]+)"', page)
        if not m:
            continue
        fields = [("csrf", m.group(1)), ("lang", "fr"),
                  ("answer", str(rng.choices(range(len(ANSWERS)), WEIGHTS)[0]))]
        body = urllib.parse.urlencode(fields).encode()
        with opener.open(urllib.request.Request(url, data=body), timeout=10) as r:
            if r.status == 200:
                sent += 1
    return sent
