"""A poll's life: created as a draft for one or more sites, opened, answered
through the sites' team links between its opening and closing days, closed
(by hand, or by its closing day passing). Closing forgets which devices
answered; only then are its results shown (`results`)."""
import datetime
import sqlite3
from typing import Any

from sync_server.polls import anonymity, questions
from sync_server.storage import polls as q
from sync_server.storage.connection import Db, now_ms, transaction
from sync_server.storage.registry import site_names, site_zones
from sync_server.storage.rollup import zone_info

MAX_TITLE = 200
STORED, ANSWERED, NOT_OPEN = "stored", "answered", "not_open"


class PollError(ValueError):
    pass


def local_day(conn: Db, site_id: str, at: datetime.datetime | None = None) -> str:
    """The site's date now (its time zone): the only time a poll keeps."""
    tz = zone_info(site_zones(conn, [site_id]).get(site_id))
    return (at or datetime.datetime.now(datetime.timezone.utc)).astimezone(tz).date().isoformat()


def _day(text: Any, name: str) -> str:
    try:
        return datetime.date.fromisoformat(str(text)).isoformat()
    except ValueError:
        raise PollError("%s must be a date YYYY-MM-DD" % name) from None


def create(conn: sqlite3.Connection, title_fr: str, title_en: str, question_list: Any,
           opens_day: str, closes_day: str, site_ids: list[str]) -> int:
    """A new draft poll; PollError (or QuestionError) if anything is wrong."""
    titles = [(t or "").strip() for t in (title_fr, title_en)]
    if not all(titles) or max(map(len, titles)) > MAX_TITLE:
        raise PollError("a poll needs a French and an English title of 1 to %d characters"
                        % MAX_TITLE)
    checked = questions.check(question_list)
    opens, closes = _day(opens_day, "opens"), _day(closes_day, "closes")
    if closes < opens:
        raise PollError("the poll must close on or after the day it opens")
    sites = sorted(set(site_ids or []))
    if not sites:
        raise PollError("a poll needs at least one site")
    known = {site_id for site_id, _name in site_names(conn)}
    unknown = [s for s in sites if s not in known]
    if unknown:
        raise PollError("unknown site(s): %s" % ", ".join(unknown))
    with transaction(conn):
        return q.insert_poll(conn, titles[0], titles[1], checked, opens, closes, sites, now_ms())


def get(conn: Db, poll_id: int) -> dict:
    poll = q.get_poll(conn, poll_id)
    if poll is None:
        raise PollError("no poll with id %s" % poll_id)
    return poll


def open_poll(conn: sqlite3.Connection, poll_id: int) -> None:
    poll = get(conn, poll_id)
    if poll["state"] != "draft":
        raise PollError("poll %d is %s: only a draft opens" % (poll_id, poll["state"]))
    q.set_state(conn, poll_id, "open")


def close_poll(conn: sqlite3.Connection, poll_id: int) -> None:
    """Close the poll and forget which devices answered it."""
    poll = get(conn, poll_id)
    if poll["state"] == "closed":
        raise PollError("poll %d is closed already" % poll_id)
    with transaction(conn):
        q.set_state(conn, poll_id, "closed")
        q.forget_devices(conn, poll_id)


def close_expired(conn: sqlite3.Connection,
                  at: datetime.datetime | None = None) -> list[int]:
    """Close the open polls whose last day is over in every one of their
    sites' time zones; return their ids. Pages and commands that show polls
    call it first, so a poll closes the first time it is looked at after
    its last day."""
    done = []
    for poll in q.list_polls(conn):
        if poll["state"] == "open" and all(
                local_day(conn, site, at) > poll["closes_day"] for site in poll["sites"]):
            close_poll(conn, poll["id"])
            done.append(poll["id"])
    return done


def accepting(poll: dict, site_id: str, day: str) -> bool:
    """Whether the poll takes answers from this site on this (local) day."""
    return (poll["state"] == "open" and site_id in poll["sites"]
            and poll["opens_day"] <= day <= poll["closes_day"])


def open_for_site(conn: Db, site_id: str) -> list[dict]:
    """The polls the site's agents may answer today."""
    day = local_day(conn, site_id)
    return [p for p in q.list_polls(conn, site_id) if accepting(p, site_id, day)]


def answered(conn: Db, poll_id: int, cookie: str | None) -> bool:
    return bool(cookie) and q.device_used(conn, poll_id,
                                          anonymity.device_hash("poll", poll_id, cookie or ""))


def store(conn: sqlite3.Connection, poll: dict, site_id: str, cookie: str,
          answers: dict[int, int], texts: dict[int, str], lang: str) -> str:
    """Store one complete response: STORED; ANSWERED if this device answered
    the poll already; NOT_OPEN if the poll no longer takes answers. The
    free texts go apart from the other answers, waiting for moderation."""
    day = local_day(conn, site_id)
    with transaction(conn):
        fresh = q.get_poll(conn, poll["id"])
        if fresh is None or not accepting(fresh, site_id, day):
            return NOT_OPEN
        if not q.use_device(conn, poll["id"], anonymity.device_hash("poll", poll["id"], cookie)):
            return ANSWERED
        q.add_response(conn, poll["id"], site_id, day, answers)
        for index, text in sorted(texts.items()):
            if text:
                q.add_text(conn, poll["id"], site_id, index, text, lang)
    return STORED


def moderate_text(conn: Db, text_id: int, approve: bool) -> None:
    if not q.moderate_text(conn, text_id, "approved" if approve else "rejected"):
        raise PollError("no free answer with id %s" % text_id)
