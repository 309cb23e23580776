"""The demo's agents: one internal poll per network, answered by simulated
staff through the real team pages (GET each screen, POST it with its CSRF
field, one cookie jar per phone), a few free answers approved, the poll
closed so that its results and the mirror show; a second poll left open for
whoever opens a team link; two ideas in the idea box, one answered."""
import datetime
import http.cookiejar
import json
import re
import urllib.parse
import urllib.request

from sync_server.errors import CliError

# Agents answering per site: the third site's 4 stay under the anonymity threshold.
STAFF = {"mairie-centre": 9, "mediatheque-jules-verne": 6, "solidarites-nord": 4}
CRITERIA = ("access", "waiting", "welcome", "information", "efficiency")
TEXTS = ("Un deuxième guichet le lundi matin réduirait l'attente.",
         "Des fiches pratiques à jour pour les démarches les plus demandées.",
         "Une signalétique plus visible depuis l'arrêt de bus.")
IDEAS = ("Afficher le temps d'attente estimé à l'entrée.",
         "Une formation commune accueil et état civil chaque trimestre.")


def _phone():
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _csrf(page, url):
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    if not m:
        raise CliError("the team page at %s has no CSRF field" % url)
    return m.group(1)


def answer_poll(url, answers):
    """One agent answers the poll at `url` screen by screen; True when stored."""
    phone = _phone()
    with phone.open(url, timeout=10) as r:
        page = r.read().decode()
    fields = {}
    for step, value in enumerate(answers):
        fields.update({"csrf": _csrf(page, url), "step": str(step), "a%d" % step: str(value)})
        with phone.open(urllib.request.Request(
                url, data=urllib.parse.urlencode(fields).encode()), timeout=10) as r:
            page = r.read().decode()
            final = r.geturl()
    return "done=1" in final


def post_idea(team_url, text):
    phone = _phone()
    url = team_url.replace("?", "/ideas?", 1)
    with phone.open(url, timeout=10) as r:
        page = r.read().decode()
    body = urllib.parse.urlencode({"csrf": _csrf(page, url), "idea": text}).encode()
    with phone.open(urllib.request.Request(url, data=body), timeout=10) as r:
        return "posted=1" in r.geturl()


def staff_level(rng, optimism):
    """A 4-level answer: agents tend to see their service kindly."""
    return min(3, max(0, round(rng.gauss(1.6 + optimism, 0.9))))


def run(http_base, db, sites, rng, borne):
    """Everything above; returns ({site: team link}, answers stored)."""
    links = {}
    for site in sites:
        out = borne("team", "link", "add", site["id"], "--label", "démo", "--base-url",
                    http_base, "--json", "--db", db)
        links[site["id"]] = json.loads(out.strip().splitlines()[-1])["url"]
    today = datetime.datetime.now(datetime.timezone.utc).date()
    site_args = [a for s in sites for a in ("--site", s["id"])]
    poll_id = borne("poll", "create", "--title-fr", "Baromètre interne de l'accueil",
                    "--title-en", "Staff barometer of the front desk", *site_args,
                    "--opens", (today - datetime.timedelta(14)).isoformat(),
                    "--closes", today.isoformat(), "--criteria", ",".join(CRITERIA),
                    "--free-text", "--db", db).strip()
    borne("poll", "open", poll_id, "--db", db)
    stored = 0
    for site in sites:
        url = links[site["id"]].replace("?", "/polls/%s?" % poll_id, 1) + "&lang=fr"
        for n in range(STAFF.get(site["id"], 5)):
            levels = [staff_level(rng, site["mood"] + (0.8 if c == "waiting" else 0.3))
                      for c in CRITERIA]
            text = TEXTS[n % len(TEXTS)] if n < len(TEXTS) else ""
            stored += answer_poll(url, levels + [text])
    for row in json.loads(borne("poll", "texts", poll_id, "--json", "--db", db)):
        borne("poll", "moderate", str(row["id"]), "approve", "--db", db)
    borne("poll", "close", poll_id, "--db", db)
    week = borne("poll", "create", "--title-fr", "Question de la semaine", "--title-en",
                 "Question of the week", *site_args, "--opens", today.isoformat(), "--closes",
                 (today + datetime.timedelta(7)).isoformat(), "--criteria", "welcome",
                 "--free-text", "--db", db).strip()
    borne("poll", "open", week, "--db", db)
    first = sites[0]["id"]
    for text in IDEAS:
        post_idea(links[first], text)
    from sync_server.polls import ideas
    from sync_server.storage.connection import connect
    conn = connect(db)
    try:
        posted = ideas.for_managers(conn, first)
        if posted:  # a manager's answer, as the manager page gives it
            ideas.answer(conn, posted[-1]["id"], "planned",
                         "Écran commandé, installation prévue le mois prochain.")
    finally:
        conn.close()
    return links, stored
