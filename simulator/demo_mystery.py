"""A sample mystery-shopper campaign for the demo, written in the import
format (docs/MYSTERY.md) so that `borne mystery import` reads it like a
survey company's file: one row per contact test, one column per criterion
of the shipped framework (criteria measured from rings, waiting time or
answer dates are left to the importer to compute)."""
import csv
import datetime

from sync_server.mystery import criteria as mystery_criteria

# Per channel: the step tested, and how likely each criterion is to pass.
CHANNEL_PLAN = (("desk", "orientation", 0.85), ("phone", "access", 0.7),
                ("email", "treatment", 0.75), ("letter", "treatment", 0.8),
                ("social", "treatment", 0.6), ("website", "information", 0.9))
AUDITORS = ("Enquêteur A", "Enquêteur B", "Enquêtrice C")


def _working_day(day):
    while day.weekday() >= 5:
        day -= datetime.timedelta(days=1)
    return day


def write_campaign(path, site_ids, days, rng, today=None):
    """Write the campaign to `path` (CSV, UTF-8); return the number of tests.
    Each site gets one test per channel, spread over the last weeks."""
    criteria, errors = mystery_criteria.load()
    if errors:
        raise ValueError("the shipped criteria framework has errors: %s" % (errors[:3],))
    judged = [c for c, crit in criteria.items() if not crit["measure"]]
    header = ["test_id", "site", "date", "time", "channel", "step", "rings", "wait_seconds",
              "answer_date", "auditor", "note"] + judged
    today = today or datetime.date.today()
    span = max(days, 20)
    rows = []
    for s, site in enumerate(site_ids):
        for channel, step, quality in CHANNEL_PLAN:
            # Answers must be dated in the past: letters need room for 15 working days.
            back = rng.randint(22 if channel == "letter" else 8, span + 22)
            day = _working_day(today - datetime.timedelta(days=back))
            row = {"test_id": "DEMO-%d-%s" % (s + 1, channel), "site": site,
                   "date": day.isoformat(),
                   "time": "%02d:%02d" % (rng.randint(9, 16), rng.choice((0, 15, 30, 45))),
                   "channel": channel, "step": step, "auditor": rng.choice(AUDITORS),
                   "note": ""}
            if channel == "phone":
                row["rings"] = str(rng.choice((2, 3, 4, 5, 6, 8)))
                row["wait_seconds"] = str(rng.randint(10, 240))
            elif channel == "desk":
                row["wait_seconds"] = str(rng.randint(60, 1500))
            elif channel in ("email", "letter", "social"):
                late = rng.random() > quality
                limit = 15 if channel == "letter" else 5
                gap = rng.randint(limit + 2, limit + 6) if late else rng.randint(1, limit)
                answered = day + datetime.timedelta(days=gap + 2 * (gap // 5))
                row["answer_date"] = min(answered, today).isoformat()
            for code in judged:
                crit = criteria[code]
                if mystery_criteria.applies(crit, channel):
                    row[code] = "pass" if rng.random() < quality else "fail"
                else:
                    row[code] = "na"
            rows.append(row)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
