"""Finished rankings kept between calls: when votes arrived at a few sites,
the next ranking of the period rebuilds the rows of those sites and of the
sites whose rank moved, and reuses every other row.

A kept ranking is checked against what it was built from at each call: the
sites in service with their names (in name order), and each site's figures
(the objects `site_totals` keeps: an unchanged site hands back the same
object, so most checks are an identity test). Whatever changed, the rows
are those a fresh build gives.

Rows are shared: a list once returned is never changed (a later call
returns a new list), and its rows must not be changed by the caller. The
list also gives its JSON text (`Rows.json`), each row's text kept with the
row: the API's answer encodes only the rows built again."""
import bisect
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

KEPT = 8  # rankings kept (one per period, source and set of sites asked)

Row = dict[str, Any]
_lock = threading.Lock()
_kept: OrderedDict[tuple, "_Ranking"] = OrderedDict()


def _key(figures: Mapping[str, Any], position: int) -> tuple[bool, float, int]:
    # Best index first; equal indices, and sites without one, in name order.
    index = figures["happy_index"]
    return (index is None, math.inf if index is None else -index, position)


class Rows(list):
    """The rows of a ranking, best first."""

    __slots__ = ("_ranking",)

    def __init__(self, rows: list[Row], ranking: "_Ranking") -> None:
        super().__init__(rows)
        self._ranking = ranking

    def json(self) -> str:
        """The rows as JSON text, as `json.dumps` gives it."""
        parts: list[str] = []
        append = parts.append
        with _lock:
            current, texts = self._ranking.row_of, self._ranking.texts
            for row in self:
                sid = row["site"]
                if current.get(sid) is not row:  # built again since: not kept
                    append(json.dumps(row))
                    continue
                text = texts.get(sid)
                if text is None:
                    text = texts[sid] = json.dumps(row)
                append(text)
        return "[" + ", ".join(parts) + "]"


class _Ranking:
    """One finished ranking and what it was built from. The scored sites
    come first, so a site's rank is its position + 1 (None unscored)."""

    def __init__(self, names: list[tuple[str, str]], figures: Mapping[str, Any]) -> None:
        self.names = names
        self.figures = {sid: figures[sid] for sid, _name in names}
        self.keys = {sid: _key(self.figures[sid], i) for i, (sid, _name) in enumerate(names)}
        self.order = sorted(self.keys, key=self.keys.__getitem__)
        self.row_of: dict[str, Row] = {}
        self.texts: dict[str, str] = {}  # site -> JSON text of its row in row_of
        self.rows = Rows(self._rows(0, len(self.order), self.keys.keys()), self)

    def _rows(self, start: int, stop: int, changed) -> list[Row]:
        """The rows at positions start..stop-1 of the order: a new row for
        a site in `changed` or whose rank moved, the kept one otherwise."""
        out: list[Row] = []
        append = out.append
        row_of, figures, names, order = self.row_of, self.figures, self.names, self.order
        texts = self.texts
        for position in range(start, stop):
            sid = order[position]
            fig = figures[sid]
            rank = None if fig["happy_index"] is None else position + 1
            row = row_of.get(sid)
            if row is None or row["rank"] != rank or sid in changed:
                row = row_of[sid] = dict(fig, site=sid, name=names[self.keys[sid][2]][1],
                                         rank=rank)
                texts.pop(sid, None)
            append(row)
        return out

    def update(self, figures: Mapping[str, Any]) -> None:
        """Take the sites' current figures (same sites, same names)."""
        kept = self.figures
        changed = set()
        for sid in self.order:
            fig = figures[sid]
            if fig is not kept[sid]:
                if fig != kept[sid]:
                    changed.add(sid)
                kept[sid] = fig
        if not changed:
            return
        # Each changed site taken out and put back at its place: a site
        # that is not between a changed site's old and new places keeps its
        # place and its rank (as many changed sites before it as before).
        order = self.order[:]
        was = {sid: order.index(sid) for sid in changed}
        for sid in changed:
            order.remove(sid)
            self.keys[sid] = _key(kept[sid], self.keys[sid][2])
        for sid in changed:
            bisect.insort(order, sid, key=self.keys.__getitem__)
        self.order = order
        spans = sorted((min(was[sid], place), max(was[sid], place) + 1)
                       for sid, place in ((sid, order.index(sid)) for sid in changed))
        old = self.rows
        rows: list[Row] = []
        done = 0
        for start, stop in spans:
            start = max(start, done)
            if stop > start:
                rows += old[done:start]
                rows += self._rows(start, stop, changed)
                done = stop
        rows += old[done:]
        self.rows = Rows(rows, self)


def kept_names(key: tuple) -> list[tuple[str, str]] | None:
    """The sites and names the kept ranking `key` was built from, if kept
    (`registry.site_names` hands them back when unchanged)."""
    with _lock:
        kept = _kept.get(key)
        return None if kept is None else kept.names


def rows(key: tuple, names: list[tuple[str, str]], figures: Mapping[str, Any]) -> Rows:
    """The rows of the ranking of `names` ([(site, name)] in name order)
    with each site's `figures`, best first: the figures, "site", "name" and
    "rank" (None without a score). `key` names the ranking (period, source,
    sites asked). Shared: do not change them."""
    with _lock:
        kept = _kept.get(key)
        if kept is None or (kept.names is not names and kept.names != names):
            kept = _kept[key] = _Ranking(names, figures)
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
        else:
            kept.update(figures)
        _kept.move_to_end(key)
        return kept.rows


def forget() -> None:
    """Drop every kept ranking."""
    with _lock:
        _kept.clear()

