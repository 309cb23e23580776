"""Reading a spreadsheet as rows of text: CSV as French spreadsheet software
writes it (UTF-8 with or without a byte-order mark, or Windows-1252; comma,
semicolon or tab separators) and XLSX (first sheet). Line numbers are those
the user sees in the file or the sheet."""
import csv
import datetime
import io
import os


class TableError(Exception):
    """The file cannot be read at all."""


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, as spreadsheets name columns."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def decode(data: bytes) -> str:
    """Text of a CSV file: UTF-8 (BOM stripped), else Windows-1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_rows(path: str) -> list[tuple[int, list[str]]]:
    """[(line, [cell text, ...]), ...], header first; blank rows skipped."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TableError("cannot read %s: %s" % (path, e.strerror or e)) from None
    ext = os.path.splitext(path)[1].lower()
    if data.startswith(b"PK\x03\x04") or ext == ".xlsx":
        return _xlsx_rows(data)
    if ext == ".xls" or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise TableError("old .xls workbooks are not read: save the sheet as .xlsx or CSV")
    text = decode(data)
    if "\x00" in text:
        raise TableError("%s is not a text (CSV) file" % path)
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(first))
    rows = []
    try:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            if any(c.strip() for c in row):
                rows.append((start, [c.strip() for c in row]))
    except csv.Error as e:
        raise TableError("line %d: unreadable CSV (%s)" % (reader.line_num, e)) from None
    return rows


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_rows(data):
    import openpyxl  # only for workbooks
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a damaged file
        raise TableError("unreadable XLSX workbook (%s)" % e) from None
    try:
        ws = wb.worksheets[0]
        rows = []
        for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if any(cells):
                rows.append((n, cells))
        return rows
    finally:
        wb.close()
