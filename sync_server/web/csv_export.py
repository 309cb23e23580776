"""CSV downloads of the manager view: UTF-8 with a BOM so that spreadsheet
software reads the accents right; a missing figure is an empty cell."""
import csv
import io
from collections.abc import Iterable, Sequence

from aiohttp import web


def cell(x: object) -> object:
    return "" if x is None else x


def response(name: str, header: Sequence[str], rows: Iterable[Sequence]) -> web.Response:
    """A CSV attachment called `name`."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows([cell(x) for x in row] for row in rows)
    return web.Response(body=("\ufeff" + buf.getvalue()).encode("utf-8"),
                        content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="%s"' % name})
