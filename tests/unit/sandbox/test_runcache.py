"""The run cache's pure parts: records survive a round trip and refuse what is not
theirs, fingerprints see what they must and nothing else, and the lookups planning
makes in the caller's environment are the ones recorded."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path

from usersnap.sandbox.process import Launch
from usersnap.sandbox.runcache import (
    RECORD_VERSION,
    Record,
    code_files,
    file_prints,
    fingerprint,
    record_path,
)
from usersnap.sandbox.runrecord import RecordingEnv


def record(stamp: tuple[object, ...] = ("s",)) -> Record:
    return Record(
        launch=Launch("hello", "/usr/bin/bwrap", ["--unshare-user"], None, ["/c/1.bpf"],
                      ["a notice"]),
        env=({"SNAP": "/snap/hello/x1"}, (("A", "$SNAP/a"),)), argv=(("/snap/hello/x1/bin",),
                                                                      ("$A",)),
        revision="x1", host_dirs=("/u", "/d", "/t", "/x"), paths=("/p",), env_keys=("K",),
        stamp=stamp,
    )


def test_a_record_round_trips() -> None:
    loaded = Record.load(record().dump())
    assert loaded is not None
    assert loaded.launch.to_data() == record().launch.to_data()
    assert (loaded.env, loaded.argv, loaded.revision, loaded.host_dirs, loaded.paths,
            loaded.env_keys, loaded.stamp) == (
        ({"SNAP": "/snap/hello/x1"}, (("A", "$SNAP/a"),)), (("/snap/hello/x1/bin",), ("$A",)),
        "x1", ("/u", "/d", "/t", "/x"), ("/p",), ("K",), ("s",))


def test_foreign_or_damaged_records_are_misses() -> None:
    blob = record().dump()
    assert Record.load(blob[:-3]) is None
    assert Record.load(b"not marshal") is None
    data = list(marshal.loads(blob))
    data[0] = RECORD_VERSION + 1
    assert Record.load(marshal.dumps(tuple(data))) is None
    data[0], data[1] = RECORD_VERSION, "another python"
    assert Record.load(marshal.dumps(tuple(data))) is None


def test_file_prints_see_changes_and_absence(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("a")
    link = tmp_path / "link"
    link.symlink_to("f")
    before = file_prints([str(f), str(link), str(tmp_path / "missing")])
    assert file_prints([str(f), str(link), str(tmp_path / "missing")]) == before
    f.write_text("ab")
    assert file_prints([str(f)]) != before[:1]
    link.unlink()
    link.symlink_to("g")
    assert file_prints([str(link)]) != before[1:2]
    (tmp_path / "missing").mkdir()
    assert file_prints([str(tmp_path / "missing")]) != before[2:]


def test_fingerprint_covers_only_the_looked_up_variables() -> None:
    prints = ("p",)
    base = fingerprint(prints, {"K": "1", "OTHER": "x"}, ["K"])
    assert fingerprint(prints, {"K": "1", "OTHER": "y"}, ["K"]) == base
    assert fingerprint(prints, {"K": "2"}, ["K"]) != base
    assert fingerprint(prints, {}, ["K"]) != base


def test_recording_env_notes_lookups_not_the_bulk_copy() -> None:
    env = RecordingEnv({"A": "1", "B": "2", "C": "3"})
    assert dict(env.items()) == {"A": "1", "B": "2", "C": "3"}
    assert list(env) == ["A", "B", "C"] and len(env) == 3
    assert env.looked_up == {}
    assert env.get("A") == "1" and env.get("Z") is None
    assert "B" in env
    assert list(env.looked_up) == ["A", "Z", "B"]


def test_code_files_are_usersnaps_modules() -> None:
    files = code_files()
    assert any(f.endswith(os.path.join("usersnap", "sandbox", "runcache.py")) for f in files)
    assert all(f.endswith(".py") and "__pycache__" not in f for f in files)


def test_record_path_is_per_app() -> None:
    assert record_path("/r", "hello", "env") == "/r/cache/run/hello.env"


def test_the_cached_path_imports_no_planner() -> None:
    """What a cache hit imports: no pathlib, dataclasses, typing, yaml or the client."""
    code = ("import sys; import usersnap.cli.commands.run, usersnap.sandbox.runcache; "
            "print(sorted(m for m in ('pathlib', 'dataclasses', 'typing', 'yaml', 'enum', "
            "'usersnap.client', 'usersnap.meta.model', 'usersnap.sandbox.plan', 'argparse') "
            "if m in sys.modules))")
    src = str(Path(__file__).resolve().parents[3])
    out = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; "
                          f"sys.path.insert(0, {src!r}); {code}"],
                         capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "[]"
