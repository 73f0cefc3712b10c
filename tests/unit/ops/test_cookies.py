from __future__ import annotations

import os
import stat
from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.ops.cookies import cookie_file, read_cookie, sync_cookies


def test_files_follow_the_state(tmp_path: Path) -> None:
    dirs = Dirs(root=tmp_path, runtime=tmp_path / "rt", home=tmp_path, uid=os.getuid())
    assert read_cookie(dirs, "a") == ""
    sync_cookies(dirs, {"c1": "a", "c2": "b"})
    assert (read_cookie(dirs, "a"), read_cookie(dirs, "b")) == ("c1", "c2")
    assert stat.S_IMODE(cookie_file(dirs, "a").stat().st_mode) == 0o600
    assert stat.S_IMODE(cookie_file(dirs, "a").parent.stat().st_mode) == 0o700
    sync_cookies(dirs, {"c3": "a"})
    assert (read_cookie(dirs, "a"), read_cookie(dirs, "b")) == ("c3", "")
    assert sorted(p.name for p in cookie_file(dirs, "a").parent.iterdir()) == ["snap.a"]
