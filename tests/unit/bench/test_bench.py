"""The benchmark's pure parts: statistics, parsing of tool output, report rewriting, and
the probe's answers (the run's correctness checks rely on them)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bench import probe, report
from bench.launch import _IMPORT_LINE
from bench.profile import summarise
from bench.report import Results


def test_ratio_is_the_median_of_per_round_ratios() -> None:
    res = Results()
    for us, ref in ((1.0, 2.0), (3.0, 2.0), (1.0, 1.0)):
        res.add("w", "usersnap", us)
        res.add("w", "squashfuse", ref)
    # per-round ratios 0.5, 1.5, 1.0 -> 1.0; the ratio of medians would be 1.0/2.0.
    assert res.ratio("w", "usersnap", "squashfuse") == 1.0
    assert res.median("w", "usersnap") == 1.0
    assert res.ratio("w", "usersnap", "kernel") is None


def test_scale_compares_the_fewest_and_most_snaps_round_by_round() -> None:
    res = Results(scale_labels={"list": "`usersnap list`", "run": "`usersnap run`"})
    res.scale = {"list": {"1": [0.060, 0.070], "50": [0.063, 0.077]},
                 "run": {"1": [0.050, 0.050], "50": [0.055, 0.050]}}
    table = report.scale_table(res)
    assert "| `usersnap list` | 65.0 ms | 70.0 ms | x1.07 |" in table
    (target,) = [t for t in report.targets(res) if "installed snaps" in t.what]
    assert target.measured == "list x1.07, run x1.05" and target.met
    res.scale["run"]["50"] = [0.060, 0.060]
    (target,) = [t for t in report.targets(res) if "installed snaps" in t.what]
    assert not target.met
    assert report.scale_table(Results()) == ""


def test_table_cells_escape_pipes() -> None:
    text = report._table(["a", "b"], [["`find | wc -l`", "1"]])
    assert "`find \\| wc -l`" in text
    assert text.splitlines()[1] == "| --- | ---: |"


def test_write_replaces_only_the_generated_part(tmp_path: Path) -> None:
    doc = tmp_path / "b.md"
    report.write(doc, f"{report.BEGIN}\nold\n{report.END}", "T")
    doc.write_text("intro\n" + doc.read_text() + "\nanalysis\n")
    report.write(doc, f"{report.BEGIN}\nnew\n{report.END}", "T")
    text = doc.read_text()
    assert "intro" in text and "analysis" in text and "new" in text and "old" not in text


def test_importtime_lines() -> None:
    top = _IMPORT_LINE.match("import time:       250 |     155000 | usersnap.cli.commands.run")
    nested = _IMPORT_LINE.match("import time:        20 |         20 |   trio._core")
    assert top and top.group(4) == "usersnap.cli.commands.run" and len(top.group(3)) == 1
    assert nested and len(nested.group(3)) == 3


def test_py_spy_raw_summary(tmp_path: Path) -> None:
    raw = tmp_path / "p.raw"
    raw.write_text(
        "Thread 0x1;run (threading.py);read (usersnap/snapfile/squashfs.py) 3\n"
        "Thread 0x1;run (threading.py);lookup (usersnap/fusefs/operations.py) 1\n"
        "Thread 0x2;run (threading.py);WorkerThread._work (trio/_core/_thread_cache.py) 4\n")
    prof = summarise([raw])
    assert (prof.samples, prof.idle) == (4, 4)
    assert prof.own[0] == ("usersnap/snapfile/squashfs.py:read", 75.0)
    assert all(not f.startswith("threading.py") for f, _ in prof.inclusive)


def test_probe_answers(tmp_path: Path) -> None:
    data = os.urandom(3 * probe.PAGE + 100)
    f = tmp_path / "f"
    f.write_bytes(data)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "l").symlink_to("../f")
    assert probe.seq_read(str(f))["bytes"] == len(data)
    assert probe.file_sha256(str(f))["sha256"] == hashlib.sha256(data).hexdigest()
    offsets = probe.random_offsets(len(data), 50, seed=7)
    assert offsets == probe.random_offsets(len(data), 50, seed=7)
    assert all(o % probe.PAGE == 0 and o < len(data) for o in offsets)
    want = hashlib.sha256(b"".join(data[o:o + probe.PAGE] for o in offsets)).hexdigest()
    assert probe.random_read(str(f), 50, 7)["sha256"] == want
    m = probe.manifest(str(tmp_path))
    assert m["d/l"] == ["link", "../f"]
    assert m["f"][0] == "file" and m["f"][2] == len(data)
