"""The assertions usersnap knows: built-in ones plus those acknowledged, under
``<root>/assertions/TYPE/KEY.assert`` (snapd's /var/lib/snapd/assertions).

Every assertion is checked (:func:`usersnap.asserts.verify.check`) before it is written,
and written under a temporary name then renamed, so what is on disk was verified.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from usersnap.asserts import trust
from usersnap.asserts.format import PRIMARY_KEYS, AssertError, Assertion, decode_stream
from usersnap.asserts.verify import check


class AssertionDb:
    def __init__(self, path: Path, trusted: Iterable[Assertion] = (),
                 predefined: Iterable[Assertion] = trust.PREDEFINED) -> None:
        self.path = path
        self.trusted = (*trust.TRUSTED, *trusted)
        self.predefined = tuple(predefined)

    @classmethod
    def open(cls, root: Path) -> AssertionDb:
        """The database of a usersnap root, with the test authority when one is set."""
        return cls(root / "assertions", trusted=trust.extra_trusted())

    def _file(self, type_: str, key: tuple[str, ...]) -> Path:
        name = ",".join(urllib.parse.quote(k, safe="") for k in key)
        return self.path / type_ / f"{name}.assert"

    def find(self, type_: str, headers: dict[str, str]) -> Assertion | None:
        found = self.find_many(type_, headers)
        return found[0] if found else None

    def find_many(self, type_: str, headers: dict[str, str]) -> list[Assertion]:
        """Trusted, then predefined, then acknowledged assertions matching ``headers``."""
        if type_ not in PRIMARY_KEYS:
            raise AssertError(f'invalid assertion type: "{type_}"')
        keys = PRIMARY_KEYS[type_]
        builtin = [a for a in (*self.trusted, *self.predefined) if a.type == type_]
        if all(k in headers for k in keys):
            stored_file = self._file(type_, tuple(headers[k] for k in keys))
            stored = [stored_file] if stored_file.exists() else []
        else:
            stored = sorted((self.path / type_).glob("*.assert"))
        found = [*builtin, *(a for f in stored for a in decode_stream(f.read_bytes()))]
        return [a for a in found if all(a.headers.get(k) == v for k, v in headers.items())]

    def is_trusted_account(self, account_id: str) -> bool:
        return any(a.type == "account" and a.header("account-id") == account_id
                   for a in self.trusted)

    def add(self, a: Assertion, now: float | None = None) -> bool:
        """Check and store; False when this revision is already known.  As in snapd,
        the check comes first: a same-revision copy must verify too."""
        check(a, self, time.time() if now is None else now)
        if any(b.type == a.type and b.primary_key == a.primary_key
               for b in (*self.trusted, *self.predefined)):
            if any(b.encode().rstrip(b"\n") == a.encode().rstrip(b"\n")
                   for b in (*self.trusted, *self.predefined)):
                return False
            raise AssertError(f'cannot add "{a.type}" assertion with primary key clashing '
                                  f"with a trusted assertion: {list(a.primary_key)}")
        current = self.find(a.type, dict(zip(PRIMARY_KEYS[a.type], a.primary_key, strict=True)))
        if current is not None and current.revision >= a.revision:
            if current.revision > a.revision:
                raise AssertError(f"revision {a.revision} is older than current revision "
                                      f"{current.revision}")
            return False
        target = self._file(a.type, a.primary_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_bytes(a.encode().rstrip(b"\n") + b"\n")
        os.replace(tmp, target)
        return True

    def add_all(self, assertions: Iterable[Assertion], now: float | None = None) -> int:
        """Add a stream in any order, prerequisites first (snapd's batch); returns how many
        were new.  The first error that no ordering resolves is raised."""
        pending = list(assertions)
        added = 0
        while pending:
            failed: list[tuple[Assertion, AssertError]] = []
            for a in pending:
                try:
                    added += self.add(a, now)
                except AssertError as e:
                    failed.append((a, e))
            if len(failed) == len(pending):
                raise failed[0][1]
            pending = [a for a, _ in failed]
        return added
