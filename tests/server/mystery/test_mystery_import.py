"""`borne mystery import`: the whole file is checked first, every error is
listed with its line, column and reason, nothing is imported on error, and
importing again adds nothing. Files as French spreadsheet software writes
them (BOM, semicolons, Windows-1252, XLSX) import like plain CSV."""
import datetime
import sqlite3

import openpyxl
import pytest

from sync_server.mystery import audits as mystery
from sync_server.storage import rollup
from sync_server.storage.connection import connect
from tests import realparts
from tests.server_support import borne

HEADER = ("test_id,site,date,heure,canal,etape,sonneries,wait_seconds,answer_date,enqueteur,"
          "INFO_EXACTE,COURTOISIE,TEL_PRESENTATION")
ROWS = [
    # E-mail sent Wed 30 April 2025, answered Fri 9 May: 5 working days (1 and 8 May off).
    "M-001,mairie,2025-04-30,10:15,courriel,traitement,,,2025-05-09,Hélène Lefèvre,pass,pass,",
    # The same e-mail answered on Monday 12 May: 6 working days, late.
    "M-002,mairie,30/04/2025,10h20,email,treatment,,,12/05/2025,Hélène Lefèvre,conforme,oui,",
    "M-003,mairie,2025-06-02,14:30,téléphone,accès,7,,,Éric Müller,non conforme,pass,conforme",
    "M-004,mairie,2025-06-03,09:00,phone,access,3,,,Éric Müller,pass,pass,pass",
    "M-005,annexe,2025-06-03,11:00,accueil,orientation,,420,,Éric Müller,pass,sans objet,",
    "M-006,mairie,2025-06-04,16:00,courrier,traitement,,,,Éric Müller,,,",  # never answered
]
NOW = int(datetime.datetime(2025, 7, 1, tzinfo=datetime.timezone.utc).timestamp() * 1000)


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "borne.db")
    conn = connect(path)
    for sid, name in (("mairie", "Mairie"), ("annexe", "Annexe")):
        conn.execute("INSERT INTO sites (id, name, created_ms) VALUES (?, ?, 0)", (sid, name))
    return path, conn


def write(tmp_path, name, lines, encoding="utf-8", sep=",", eol="\n"):
    path = tmp_path / name
    path.write_bytes(eol.join(line.replace(",", sep) for line in lines).encode(encoding) + b"\n")
    return str(path)


def stored(conn):
    tests = conn.execute("SELECT id, site_id, local_time, channel, step, rings, wait_seconds,"
                         " working_days, auditor FROM mystery_tests ORDER BY id").fetchall()
    results = conn.execute("SELECT test_id, criterion, result FROM mystery_results"
                           " ORDER BY 1, 2").fetchall()
    return tests, results


def test_import_checks_computes_and_is_idempotent(db, tmp_path):
    path, conn = db
    f = write(tmp_path, "vague1.csv", [HEADER, *ROWS])
    report = mystery.import_file(conn, f, now_ms=NOW)
    assert report.errors == [] and len(report.new) == 6
    # Open screens of both sites are told to refresh.
    assert rollup.versions(conn, ["mairie", "annexe"]) == {"mairie": 1, "annexe": 1}
    tests, results = stored(conn)
    assert tests[0] == ("M-001", "mairie", "2025-04-30 10:15", "email", "treatment", None,
                        None, 5, "Hélène Lefèvre")
    res = {(t, c): r for t, c, r in results}
    assert res["M-001", "COURRIEL_REPONSE_5_JOURS"] == "pass"
    assert res["M-002", "COURRIEL_REPONSE_5_JOURS"] == "fail"
    assert res["M-003", "TEL_DECROCHE_5_SONNERIES"] == "fail"
    assert res["M-004", "TEL_DECROCHE_5_SONNERIES"] == "pass"
    assert res["M-005", "ACCUEIL_ATTENTE"] == "pass" and res["M-005", "COURTOISIE"] == "na"
    assert res["M-006", "COURRIER_REPONSE_15_JOURS"] == "fail"
    again = mystery.import_file(conn, f, now_ms=NOW)
    assert again.errors == [] and again.new == [] and len(again.already) == 6
    assert stored(conn) == (tests, results)
    assert rollup.versions(conn, ["mairie"]) == {"mairie": 1}


def test_results_per_channel_and_timeliness(db, tmp_path):
    path, conn = db
    mystery.import_file(conn, write(tmp_path, "v.csv", [HEADER, *ROWS]), now_ms=NOW)
    out = mystery.results(conn, "mairie", "2025-04-01", "2025-06-30")
    assert out["tests"] == 5 and set(out["channels"]) == {"email", "phone", "letter"}
    email = {c["code"]: c for c in out["channels"]["email"]["criteria"]}
    assert (email["INFO_EXACTE"]["passes"], email["INFO_EXACTE"]["fails"]) == (2, 0)
    phone = {c["code"]: c for c in out["channels"]["phone"]["criteria"]}
    assert phone["INFO_EXACTE"]["rate"] == 0.5
    # Weighted: rings w2 (1/2), info w3 (1/2), courtesy w2 (2/2), presentation w1 (2/2).
    assert out["channels"]["phone"]["rate"] == pytest.approx((2 + 3 + 4 + 2) / 16)
    timely = {t["code"]: t for t in out["timeliness"]}
    assert (timely["TEL_DECROCHE_5_SONNERIES"]["within"],
            timely["TEL_DECROCHE_5_SONNERIES"]["total"]) == (1, 2)
    assert timely["TEL_DECROCHE_5_SONNERIES"]["median"] == 5
    assert timely["COURRIEL_REPONSE_5_JOURS"]["rate"] == 0.5
    assert timely["COURRIER_REPONSE_15_JOURS"]["rate"] == 0.0
    assert mystery.results(conn, "mairie", "2025-06-01", "2025-06-30")["tests"] == 3
    latest = mystery.latest(conn, "mairie", 2)
    assert [t["test_id"] for t in latest] == ["M-006", "M-004"]
    assert latest[0]["failed"] == ["COURRIER_REPONSE_15_JOURS"]


@pytest.mark.parametrize("variant", ["bom", "semicolon", "windows-1252", "xlsx"])
def test_spreadsheet_variants_import_like_plain_csv(db, tmp_path, variant):
    path, conn = db
    lines = [HEADER, *ROWS]
    if variant == "bom":
        f = write(tmp_path, "v.csv", ["\ufeff" + lines[0], *lines[1:]])
    elif variant == "semicolon":
        f = write(tmp_path, "v.csv", lines, sep=";")
    elif variant == "windows-1252":  # what French Excel's "CSV (;)" writes
        f = write(tmp_path, "v.csv", lines, encoding="cp1252", sep=";", eol="\r\n")
    else:
        wb = openpyxl.Workbook()
        for line in lines:
            cells = line.split(",")
            if cells[0].startswith("M-"):  # real spreadsheet types: numbers and dates
                cells[6] = int(cells[6]) if cells[6] else None
                if "-" in cells[2]:
                    cells[2] = datetime.datetime.fromisoformat(cells[2])
            wb.active.append(cells)
        f = str(tmp_path / "v.xlsx")
        wb.save(f)
    report = mystery.import_file(conn, f, now_ms=NOW)
    assert report.errors == []
    plain_db = str(tmp_path / "plain.db")
    plain = connect(plain_db)
    plain.executemany("INSERT INTO sites (id, name, created_ms) VALUES (?, ?, 0)",
                      [("mairie", "M"), ("annexe", "A")])
    mystery.import_file(plain, write(tmp_path, "plain.csv", lines), now_ms=NOW)
    assert stored(conn) == stored(plain)


def errors_of(conn, tmp_path, lines, **kw):
    report = mystery.import_file(conn, write(tmp_path, "bad.csv", lines, **kw), now_ms=NOW)
    assert conn.execute("SELECT count(*) FROM mystery_tests").fetchone()[0] == 0
    return [(line, col.split(" ")[0], msg) for line, col, msg in report.errors]


def test_wrong_or_missing_columns(db, tmp_path):
    _, conn = db
    errs = errors_of(conn, tmp_path, ["test_id,site,date,heure,etape,couleur", "x"])
    assert (1, "-", "missing column 'channel'") in errs
    assert any(e[0] == 1 and e[1] == "couleur" and "unknown column" in e[2] for e in errs)
    errs = errors_of(conn, tmp_path, [HEADER + ",TEL_DECROCHE_5_SONNERIES", ROWS[0] + ",pass"])
    assert any("computed from the measure rings" in e[2] for e in errs)
    assert errors_of(conn, tmp_path, [HEADER])[0][2] == "the file has a header but no test"


def test_unknown_site_bad_dates_and_bad_values_are_all_listed(db, tmp_path):
    _, conn = db
    bad = [
        HEADER,
        ROWS[0].replace("mairie", "mairie-nord"),            # line 2: unknown site
        ROWS[1].replace("30/04/2025", "31/02/2025"),         # 3: no such date
        ROWS[2].replace("2025-06-02", "hier"),               # 4: not a date
        ROWS[3].replace("09:00", "25:00"),                   # 5: no such time
        ROWS[3].replace("M-004", "M-004b").replace(",3,", ",trois,"),  # 6: rings
        ROWS[4].replace("accueil", "fax"),                   # 7: channel
        ROWS[0].replace("M-001", "M-007").replace("pass,pass", "peut-être,pass"),  # 8
        ROWS[0].replace("2025-04-30", "2031-01-01").replace("M-001", "M-008"),  # 9: future
        ROWS[0],                                             # 10: fine
        ROWS[0],                                             # 11: duplicate id
        ROWS[1].replace("12/05/2025", "28/04/2025").replace("M-002", "M-009"),  # 12
        ROWS[4].replace("M-005", "M-010").replace(",420,", ",,").replace(
            "Éric Müller,pass", "Éric Müller,pass").replace(",sans objet,", ",sans objet,pass"),
    ]
    errs = errors_of(conn, tmp_path, bad)
    by_line = {}
    for line, col, msg in errs:
        by_line.setdefault(line, []).append((col, msg))
    assert by_line[2] == [("site", "unknown site 'mairie-nord' (see `borne site list`)")]
    assert by_line[3] == [("date", "no such date: '31/02/2025'")]
    assert by_line[4][0][0] == "date" and "not a date: 'hier'" in by_line[4][0][1]
    assert by_line[5] == [("heure", "no such time: '25:00'")]
    assert by_line[6][0][0] == "sonneries" and "whole number" in by_line[6][0][1]
    assert by_line[7][0][0] == "canal" and "unknown channel 'fax'" in by_line[7][0][1]
    assert by_line[8][0][0] == "INFO_EXACTE" and "'peut-être' is not a result" in by_line[8][0][1]
    assert "in the future" in by_line[9][0][1]
    assert 10 not in by_line
    assert by_line[11] == [("test_id", "test id 'M-001' already used on line 10")]
    assert "is before the test" in by_line[12][0][1]
    assert by_line[13][0][0] == "TEL_PRESENTATION" and "is for phone tests" in by_line[13][0][1]


def test_changed_test_under_a_known_id_is_refused(db, tmp_path):
    _, conn = db
    assert mystery.import_file(conn, write(tmp_path, "a.csv", [HEADER, ROWS[0]]),
                               now_ms=NOW).errors == []
    changed = ROWS[0].replace("pass,pass", "fail,pass")
    report = mystery.import_file(conn, write(tmp_path, "b.csv", [HEADER, changed, ROWS[3]]),
                                 now_ms=NOW)
    assert len(report.errors) == 1 and "already imported with other values" in \
        report.errors[0][2] and "a.csv:2" in report.errors[0][2]
    assert conn.execute("SELECT count(*) FROM mystery_tests").fetchone()[0] == 1


def test_cli_lists_errors_with_line_and_column_and_imports_nothing(db, tmp_path):
    path, conn = db
    bad = write(tmp_path, "bad.csv", [HEADER, ROWS[0].replace("mairie", "nulle-part"),
                                      ROWS[1].replace("30/04/2025", "2025-02-30")], sep=";")
    out = borne("mystery", "import", bad, "--db", path, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "line 2, column site (B): unknown site 'nulle-part'" in out.stderr
    assert "line 3, column date (C): no such date: '2025-02-30'" in out.stderr
    assert "nothing imported" in out.stderr
    good = write(tmp_path, "good.csv", [HEADER, *ROWS])
    dry = borne("mystery", "import", good, "--dry-run", "--db", path)
    assert "would import 6 test(s)" in dry.stdout
    assert borne("mystery", "import", good, "--db", path).stdout.count("imported 6 test(s)")
    assert "imported 0 test(s); 6 already imported" in borne(
        "mystery", "import", good, "--db", path).stdout
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT count(*) FROM mystery_tests").fetchone()[0] == 6


def test_own_criteria_file(db, tmp_path):
    path, conn = db
    crit = write(tmp_path, "grille.csv", [
        "code,label_fr,label_en,channel,step,weight,measure,target",
        "TEL_3_SONNERIES,Décroché en 3 sonneries,Answered within 3 rings,phone,access,1,rings,3",
        "ACCUEIL_SOURIRE,Sourire,Smile,desk,orientation,1,,"], sep=";")
    f = write(tmp_path, "v.csv", ["test_id,site,date,time,channel,step,rings,ACCUEIL_SOURIRE",
                                  "T1,mairie,2025-06-02,10:00,phone,access,3,",
                                  "T2,mairie,2025-06-02,11:00,desk,access,,non"])
    report = mystery.import_file(conn, f, criteria_path=crit, now_ms=NOW)
    assert report.errors == []
    assert stored(conn)[1] == [("T1", "TEL_3_SONNERIES", "pass"), ("T2", "ACCUEIL_SOURIRE", "fail")]
    broken = write(tmp_path, "broken.csv", [
        "code,label_fr,label_en,channel,step,weight,measure,target",
        "X1,A,B,fax,access,1,,", "X2,A,B,phone,access,-1,rings,"])
    errs = mystery.import_file(conn, f, criteria_path=broken, now_ms=NOW).errors
    assert [(line, col.split(" ")[0]) for line, col, _ in errs] == [
        (2, "channel"), (3, "weight"), (3, "target")]
    assert all(msg.startswith("criteria file: ") for _, _, msg in errs)


def test_the_documented_example_imports(tmp_path):
    import os
    import re
    doc = open(os.path.join(realparts.ROOT, "docs", "MYSTERY.md"),
               encoding="utf-8").read()
    example = re.search(r"### Example\n\n```\n(.*?)```", doc, re.S).group(1)
    path = tmp_path / "exemple.csv"
    path.write_bytes(example.encode("cp1252"))
    conn = connect(str(tmp_path / "borne.db"))
    conn.execute("INSERT INTO sites (id, name, created_ms) VALUES ('mairie-centre', 'M', 0)")
    report = mystery.import_file(conn, str(path), now_ms=NOW)
    assert report.errors == [] and report.new == ["M-001", "M-002", "M-003"]
    out = mystery.results(conn, "mairie-centre", "2025-01-01", "2025-12-31")
    assert {t["code"]: t["within"] for t in out["timeliness"]} == {
        "COURRIEL_REPONSE_5_JOURS": 1, "TEL_DECROCHE_5_SONNERIES": 0, "ACCUEIL_ATTENTE": 1}


def test_xlsx_errors_name_the_sheet_row_and_column(db, tmp_path):
    _, conn = db
    wb = openpyxl.Workbook()
    wb.active.append(HEADER.split(","))
    wb.active.append(ROWS[3].split(","))
    wb.active.append([])  # a blank row keeps the numbering of the rows below
    bad = ROWS[4].replace("annexe", "ailleurs").split(",")
    wb.active.append(bad)
    f = str(tmp_path / "v.xlsx")
    wb.save(f)
    report = mystery.import_file(conn, f, now_ms=NOW)
    assert report.errors == [(4, "site (B)", "unknown site 'ailleurs' (see `borne site list`)")]
    assert conn.execute("SELECT count(*) FROM mystery_tests").fetchone()[0] == 0
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    old = mystery.import_file(conn, str(tmp_path / "old.xls"), now_ms=NOW)
    assert "save the sheet as .xlsx or CSV" in old.errors[0][2]
