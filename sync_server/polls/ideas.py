"""The staff idea box: an agent posts an idea through the site's team link;
it is shown to the site's agents only once a manager has approved it (with
e-mail addresses and phone numbers masked); agents support an idea once per
device (+1); a manager answers each with a status and a reason, which the
agents see, and the agents' screen shows the latest ideas answered."""
import re
import sqlite3
from collections.abc import Iterable

from sync_server.feedback.answers import mask_contacts
from sync_server.polls import anonymity
from sync_server.polls.lifecycle import local_day
from sync_server.storage import polls as q
from sync_server.storage.connection import Db, transaction

STATUSES = ("under_study", "planned", "done", "not_retained")
MAX_IDEA = 1000
MAX_REASON = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class IdeaError(ValueError):
    """A refused idea or answer; `code` names the reason for the pages."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def clean_text(text: str | None, limit: int = MAX_IDEA) -> str:
    """The text as it will be kept: line ends unified, trimmed; IdeaError if
    empty, too long or with control characters."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise IdeaError("the text is empty", "empty")
    if len(text) > limit:
        raise IdeaError("the text has %d characters; at most %d" % (len(text), limit), "long")
    if _CONTROL.search(text):
        raise IdeaError("the text contains control characters", "chars")
    return text


def post(conn: Db, site_id: str, text: str, lang: str) -> int:
    """A new idea, waiting for moderation; its id."""
    return q.add_idea(conn, site_id, clean_text(text), lang, local_day(conn, site_id))


def _get(conn: Db, idea_id: int) -> dict:
    idea = q.get_idea(conn, idea_id)
    if idea is None:
        raise IdeaError("no idea with id %s" % idea_id, "unknown")
    return idea


def moderate(conn: Db, idea_id: int, approve: bool) -> None:
    _get(conn, idea_id)
    q.moderate_idea(conn, idea_id, "approved" if approve else "rejected")


def answer(conn: Db, idea_id: int, status: str, reason: str) -> None:
    """A manager's answer: a status and its reason (both shown to the
    agents); answering approves an idea still pending."""
    idea = _get(conn, idea_id)
    if status not in STATUSES:
        raise IdeaError("status must be one of %s" % ", ".join(STATUSES), "status")
    reason = clean_text(reason, MAX_REASON)
    q.answer_idea(conn, idea_id, status, reason, local_day(conn, idea["site_id"]))
    if idea["moderation"] == "pending":
        q.moderate_idea(conn, idea_id, "approved")


def support(conn: sqlite3.Connection, site_id: str, idea_id: int, cookie: str) -> bool:
    """+1 from a device to an approved idea of its site; False if this
    device had supported it already (or the idea is not one it can see)."""
    with transaction(conn):
        idea = q.get_idea(conn, idea_id)
        if idea is None or idea["site_id"] != site_id or idea["moderation"] != "approved":
            return False
        return q.support_idea(conn, idea_id, anonymity.device_hash("idea", idea_id, cookie))


def _shown(idea: dict, lang: str) -> dict:
    return dict(idea, text=mask_contacts(idea["text"], lang),
                reason=mask_contacts(idea["reason"], lang))


def for_agents(conn: Db, site_id: str, lang: str, cookie: str | None = None) -> list[dict]:
    """The site's approved ideas, masked, newest first, each with
    `supported`: whether this device has given its +1."""
    rows = q.ideas(conn, site_id, "approved")
    done = q.supported(conn, {i["id"]: anonymity.device_hash("idea", i["id"], cookie)
                              for i in rows}) if cookie else set()
    return [dict(_shown(i, lang), supported=i["id"] in done) for i in rows]


def latest_answered(conn: Db, site_id: str, lang: str, limit: int = 3) -> list[dict]:
    """The site's approved ideas a manager has answered, latest answer first
    (for the agents' screen)."""
    return [_shown(i, lang) for i in q.ideas(conn, site_id, "approved", answered=True,
                                             limit=limit)]


def for_managers(conn: Db, site_id: str | None = None, lang: str = "fr",
                 site_ids: Iterable[str] | None = None) -> list[dict]:
    """Every idea (of one site, or of `site_ids`, if given), newest first,
    masked."""
    return [_shown(i, lang) for i in q.ideas(conn, site_id, site_ids=site_ids)]
