"""The open-data files of a consultation's results, CSV and JSON, as
docs/opendata.md describes them. Both name their licence, the Licence
Ouverte / Etalab 2.0, inside the file: the JSON in its `licence` object,
the CSV in a `licence` column of every row (a CSV has no other place that
every reader keeps)."""
import csv
import datetime
import io
import json
from typing import Any

LICENCE = "Licence Ouverte / Etalab 2.0"
LICENCE_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
SCHEMA_VERSION = 1
CSV_COLUMNS = ("consultation_id", "site_id", "site_name", "channel", "answer_index",
               "answer_fr", "answer_en", "count", "share", "low95", "high95", "counted",
               "filtered", "licence")
# The JSON file's `schema`: what each field of a result row means.
FIELDS = {
    "site_id": "the site's identifier; empty for the whole consultation",
    "channel": "kiosk, phone, or all (both together)",
    "answer_index": "the answer's position, from 0, as in `answers`",
    "count": "answers counted for this answer",
    "share": "count / counted, from 0 to 1 (empty when nothing is counted)",
    "low95": "lower bound of the 95% Wilson score interval of the share",
    "high95": "upper bound of the 95% Wilson score interval of the share",
    "counted": "answers counted in this site and channel",
    "filtered": "answers kept out (kiosk bursts, lockout, undatable)",
}


def iso_utc(ms: int) -> str:
    """ISO 8601 in UTC: 2026-11-23T12:30:00Z."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    cid = results["consultation"]["id"]
    scopes = [("", "", results["overall"])] + [
        (s["site_id"], s["site_name"], s) for s in results["sites"]]
    out = []
    for site_id, site_name, blocks in scopes:
        for channel in ("kiosk", "phone", "all"):
            b = blocks[channel]
            for a in b["answers"]:
                label = results["answers"][a["index"]]
                out.append({"consultation_id": cid, "site_id": site_id, "site_name": site_name,
                            "channel": channel, "answer_index": a["index"],
                            "answer_fr": label["fr"], "answer_en": label["en"],
                            "count": a["count"], "share": a["share"], "low95": a["low95"],
                            "high95": a["high95"], "counted": b["n"], "filtered": b["filtered"]})
    return out


def to_json(results: dict[str, Any]) -> str:
    c = results["consultation"]
    doc = {
        "licence": {"name": LICENCE, "url": LICENCE_URL},
        "schema": {"version": SCHEMA_VERSION, "fields": FIELDS,
                   "documentation": "docs/opendata.md"},
        "consultation": {"id": c["id"], "title": {"fr": c["title_fr"], "en": c["title_en"]},
                         "question": {"fr": c["question_fr"], "en": c["question_en"]},
                         "opens_utc": iso_utc(c["opens_ms"]),
                         "closes_utc": iso_utc(c["closes_ms"]), "state": c["state"]},
        "answers": results["answers"],
        "results": [{k: v for k, v in r.items() if k not in ("consultation_id", "answer_fr",
                                                              "answer_en")}
                    for r in _rows(results)],
        "turnout": results["turnout"],
        "undated": results["undated"],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)


def to_csv(results: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in _rows(results):
        w.writerow(["" if r.get(k) is None else r.get(k, LICENCE) for k in CSV_COLUMNS[:-1]]
                   + [LICENCE])
    return buf.getvalue()
