"""Password hashing (argon2id) and login throttling (rate limit per client, lockout with backoff).

argon2id with argon2-cffi's RFC 9106 low-memory profile (64 MiB, 3 passes): about 100-150 ms a
hash on the development machines, which is itself a brake on guessing; the throttle below keeps
a flood of logins from becoming a denial of service.

>>> h = hash_password("correct horse")
>>> h.startswith("$argon2id$"), verify_password(h, "correct horse"), verify_password(h, "wrong")
(True, True, False)
>>> lockout_s(4), lockout_s(5), lockout_s(6), lockout_s(50)
(0.0, 30.0, 60.0, 3600.0)
"""

from __future__ import annotations

import time
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
# A hash to verify against when the user does not exist, so the answer takes as long.
_DUMMY = _HASHER.hash("no such user: constant-time answer")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt included) of ``password``."""
    return _HASHER.hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    """Whether ``password`` matches; a missing user costs the same time as a wrong password."""
    try:
        return _HASHER.verify(hashed or _DUMMY, password) and hashed is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    return _HASHER.check_needs_rehash(hashed)


def check_password_policy(password: str) -> None:
    """Raise ValueError naming the rule a new password breaks."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() == "" or len(set(password)) < 4:
        raise ValueError("password must not be one repeated character or blank")


def lockout_s(failures: int, threshold: int = 5, base_s: float = 30.0, max_s: float = 3600.0) -> float:
    """Seconds an account stays locked after ``failures`` consecutive failed logins.

    No lock below ``threshold``; then ``base_s`` doubling with each further failure, capped.
    """
    if failures < threshold:
        return 0.0
    return float(min(max_s, base_s * 2 ** (failures - threshold)))


class RateLimiter:
    """Sliding window: at most ``limit`` attempts per ``window_s`` per key (client address).

    >>> r = RateLimiter(limit=2, window_s=60)
    >>> [r.hit("10.0.0.1", now=t) for t in (0, 1, 2, 61)]
    [0.0, 0.0, 58.0, 0.0]
    """

    def __init__(self, limit: int = 10, window_s: float = 60.0, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> float:
        """Record an attempt; returns 0 when allowed, else the seconds until it would be."""
        now = time.monotonic() if now is None else now
        q = self._hits.get(key)
        if q is None:
            if len(self._hits) >= self.max_keys:  # forget the stalest keys rather than grow
                for stale in list(self._hits)[: self.max_keys // 10]:
                    del self._hits[stale]
            q = self._hits[key] = deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if len(q) >= self.limit:
            return float(round(q[0] + self.window_s - now, 3))
        q.append(now)
        return 0.0
