"""What the results of a poll may show without exposing anyone (METHOD.md,
"The agents' voice"). Pure functions, so that each rule can be checked by
hand.

- A group (the respondents of one site, or of every site of the poll) is
  shown only from MIN_GROUP respondents.
- Hiding a small group is not enough when the total of the poll is shown
  beside the other groups: the total minus the shown groups would give the
  hidden ones. So while the hidden groups together count from 1 to
  MIN_GROUP - 1 respondents, the smallest shown group is hidden too; if none
  is left, the total is hidden.
- Results are shown only once the poll is closed: a figure that moved from
  5 to 6 respondents between two looks would give the sixth person's answer.
- Any figure that adds several polls (the mirror) adds only groups that are
  shown, so the difference between two such figures is itself a sum of
  groups of at least MIN_GROUP."""
import hashlib
from collections.abc import Mapping

MIN_GROUP = 5


def visible_groups(sizes: Mapping[str, int], min_n: int = MIN_GROUP) -> tuple[set[str], bool]:
    """(the groups whose results may be shown, whether the total may be).
    sizes: {group: respondents}. Groups with no respondent have nothing to
    show and count as neither."""
    shown = {g for g, n in sizes.items() if n >= min_n}
    hidden = sum(n for g, n in sizes.items() if g not in shown)
    while 0 < hidden < min_n and shown:
        smallest = min(shown, key=lambda g: (sizes[g], g))
        shown.discard(smallest)
        hidden += sizes[smallest]
    total = sum(sizes.values())
    total_ok = total >= min_n and not (0 < hidden < min_n)
    return shown, total_ok


def device_hash(kind: str, scope_id: int, cookie: str) -> str:
    """What is kept of a device's random cookie for one poll (kind "poll")
    or one idea ("idea"): a hash that differs from one to the next, so two
    of them cannot be linked to one device."""
    return hashlib.sha256(("%s|%d|%s" % (kind, scope_id, cookie)).encode()).hexdigest()
