"""Helpers shared by the web tests."""
import re

PASSWORD = "un mot de passe long"
THREE_SITES = (("mairie", "Mairie"), ("bibli", "Bibliothèque"), ("annexe", "Annexe"))


def add_three_sites(db):
    """The web tests' three sites, straight into the database."""
    for sid, name in THREE_SITES:
        db.conn.execute("INSERT INTO sites (id, name, created_ms) VALUES (?, ?, 0)", (sid, name))


async def log_in(client, username="qualite", password=PASSWORD):
    """Log in through the manager's login form, as a browser does."""
    page = await (await client.get("/manager/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = await client.post("/manager/login", allow_redirects=False, data={
        "csrf": csrf, "username": username, "password": password})
    assert r.status == 302
