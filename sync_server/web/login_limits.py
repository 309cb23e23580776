"""Throttling of manager logins, per account name and per client address,
with delays that grow: after `free` failures in a row, each further attempt
waits base_s, then twice as long after each new failure, up to max_s. An
attempt during the wait is answered 429 with Retry-After, without checking
the password (so guessing goes no faster than the delays allow, and a
locked account's right password is refused too until the wait ends). An
attempt counts from its start, so simultaneous attempts are held back as if
they came one after the other.

Kept in memory (one process serves the pages): a restart forgets the
counts, and a count is forgotten `forget_s` after its last failure. Account
names are counted whether they exist or not, so the answers tell nothing
about which exist."""
import math
import time
from collections import OrderedDict

ACCOUNT_FREE = 5    # failures in a row on one account before delays start
ADDRESS_FREE = 20   # from one address, over any account names
BASE_S = 1.0
MAX_S = 900.0       # a 15-minute wait at most
FORGET_S = 3600.0
MAX_KEYS = 10_000   # the oldest counts go first when more are kept


class Throttle:
    def __init__(self, base_s: float = BASE_S, max_s: float = MAX_S,
                 forget_s: float = FORGET_S, max_keys: int = MAX_KEYS) -> None:
        self.base_s, self.max_s, self.forget_s, self.max_keys = base_s, max_s, forget_s, max_keys
        # key -> (failures in a row, monotonic time of the last one)
        self.failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def _delay(self, failures: int, free: int) -> float:
        if failures < free:
            return 0.0
        return min(self.max_s, self.base_s * 2 ** min(failures - free, 32))

    def wait_s(self, keys: list[tuple[str, str, int]]) -> int:
        """Whole seconds to wait before the next attempt (0: go on), for
        keys (kind, value, free failures)."""
        now = time.monotonic()
        wait = 0.0
        for kind, value, free in keys:
            got = self.failures.get((kind, value))
            if got is None:
                continue
            count, last = got
            if now - last > self.forget_s:
                del self.failures[(kind, value)]
                continue
            wait = max(wait, last + self._delay(count, free) - now)
        return math.ceil(wait) if wait > 0 else 0

    def attempt(self, keys: list[tuple[str, str, int]]) -> None:
        """Count an attempt as failed before its password is checked, so
        that a burst of simultaneous attempts is held back as a sequence
        would be; `succeeded` takes it back."""
        now = time.monotonic()
        for kind, value, _free in keys:
            count, _last = self.failures.pop((kind, value), (0, now))
            self.failures[(kind, value)] = (count + 1, now)
        while len(self.failures) > self.max_keys:
            self.failures.popitem(last=False)

    def succeeded(self, keys: list[tuple[str, str, int]]) -> None:
        """A right password clears its account's count and takes its own
        attempt back from its address's (a valid account must not reset the
        guessing of others from the same address)."""
        for kind, value, _free in keys:
            count, last = self.failures.pop((kind, value), (0, 0.0))
            if kind != "account" and count > 1:
                self.failures[(kind, value)] = (count - 1, last)


def keys_of(account: str, address: str | None) -> list[tuple[str, str, int]]:
    return [("account", account, ACCOUNT_FREE), ("address", address or "?", ADDRESS_FREE)]
