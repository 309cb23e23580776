"""Helpers shared by the web tests."""
import re

PASSWORD = "un mot de passe long"


async def log_in(client, username="qualite", password=PASSWORD):
    """Log in through the manager's login form, as a browser does."""
    page = await (await client.get("/manager/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = await client.post("/manager/login", allow_redirects=False, data={
        "csrf": csrf, "username": username, "password": password})
    assert r.status == 302
