"""The results of a poll, per site and for all its sites together, under
the rules of `anonymity`: nothing before the poll is closed but the number
of respondents, no group below the threshold, free answers only once
approved and with e-mail addresses and phone numbers masked."""
from collections import Counter
from typing import Any

from sync_server.feedback.answers import mask_contacts
from sync_server.polls import anonymity, questions
from sync_server.scoring import stats
from sync_server.storage import polls as q
from sync_server.storage.connection import Db

TOTAL = "*"


def scale_summary(counts: list[int]) -> dict[str, Any]:
    """A 4-level question's figures: the happy index (levels at 0, 33.3,
    66.7, 100), the positive share (top two levels) and its Wilson
    interval, as for the kiosks."""
    by_level = {(questions.SCALE, lv): n for lv, n in enumerate(counts) if n}
    n = sum(counts)
    pos = sum(counts[lv] for lv in range(questions.SCALE) if stats.is_positive(lv,
                                                                              questions.SCALE))
    interval = stats.wilson(pos, n)
    index = stats.happy_index(by_level)
    return {"n": n, "counts": counts, "happy_index": None if index is None else round(index, 1),
            "positive": pos, "positive_share": round(pos / n, 4) if n else None,
            "interval": [round(interval[0], 4), round(interval[1], 4)] if interval else None}


def tally(poll: dict, answers: list[dict[int, int]]) -> list[dict]:
    """Per question of the poll, the figures of these responses (texts aside)."""
    out: list[dict[str, Any]] = []
    for i, question in enumerate(poll["questions"]):
        if question["kind"] == "text":
            out.append({"kind": "text"})
            continue
        counts = [0] * questions.options(question)
        for a in answers:
            v = a.get(i)
            if v is not None and 0 <= v < len(counts):
                counts[v] += 1
        if question["kind"] == "scale":
            out.append(dict(scale_summary(counts), kind="scale"))
        else:
            n = sum(counts)
            out.append({"kind": "choice", "n": n, "counts": counts,
                        "shares": [round(c / n, 4) if n else None for c in counts]})
    return out


def poll_results(conn: Db, poll: dict, lang: str = "fr") -> dict[str, Any]:
    """{"closed", "groups": [{"site_id", "n", "shown", "questions", "texts"}],
    "total": {...}}: questions and texts are empty for a group not shown."""
    rows = q.responses(conn, [poll["id"]])
    by_site: dict[str, list[dict[int, int]]] = {s: [] for s in poll["sites"]}
    for _poll_id, site_id, answers in rows:
        by_site.setdefault(site_id, []).append(answers)
    closed = poll["state"] == "closed"
    sizes = {s: len(a) for s, a in by_site.items()}
    shown, total_ok = anonymity.visible_groups(sizes)
    texts = q.texts(conn, poll["id"], "approved") if closed else []

    def group(name, answers, visible, site=None):
        visible = closed and visible
        return {"site_id": name, "n": len(answers), "shown": visible,
                "questions": tally(poll, answers) if visible else [],
                "texts": [{"question": t["question"], "text": mask_contacts(t["text"], lang)}
                          for t in texts if site is None or t["site_id"] == site]
                if visible else []}

    groups = [group(s, a, s in shown, s) for s, a in sorted(by_site.items())]
    everyone = [a for answers in by_site.values() for a in answers]
    return {"closed": closed, "min_group": anonymity.MIN_GROUP, "groups": groups,
            "total": group(TOTAL, everyone, total_ok)}


def criterion_counts(conn: Db, site_id: str, polls: list[dict]) -> dict[str, list[int]]:
    """Level counts per criterion of the site's answers to closed polls,
    adding only the (poll, site) groups that the poll's results show, so
    that two such sums never differ by a hidden group."""
    out: dict[str, list[int]] = {}
    closed = [p for p in polls if p["state"] == "closed"]
    rows = q.responses(conn, [p["id"] for p in closed])
    by_poll: dict[int, dict[str, list[dict[int, int]]]] = {}
    for poll_id, s, answers in rows:
        by_poll.setdefault(poll_id, {}).setdefault(s, []).append(answers)
    for poll in closed:
        groups = by_poll.get(poll["id"], {})
        shown, _total = anonymity.visible_groups(Counter({s: len(a) for s, a in groups.items()}))
        if site_id not in shown:
            continue
        for i, question in enumerate(poll["questions"]):
            if question["kind"] != "scale" or not question["criterion"]:
                continue
            counts = out.setdefault(question["criterion"], [0] * questions.SCALE)
            for a in groups[site_id]:
                v = a.get(i)
                if v is not None and 0 <= v < questions.SCALE:
                    counts[v] += 1
    return out
