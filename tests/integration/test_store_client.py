"""The store client against a loopback store: download (channels, revisions, resume,
wrong digest, revoked declaration, unreachable store), find through usersnapd, and a
downloaded snap installed without --dangerous."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import assertsign
from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.fakestore import FakeStore, serve
from tests.helpers.snaps import build_snap
from tests.integration.test_hooks import hook_log, hooky
from tests.integration.test_real_snap_client import Real
from tests.integration.test_real_snap_client import snap as snap  # the fixture
from usersnap.asserts.format import encode_stream
from usersnap.client import connect

pytestmark = [pytest.mark.requires_mksquashfs, pytest.mark.timeout(180)]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStore]:
    signer, trusted = assertsign.authority()
    trust = tmp_path / "trust.assert"
    trust.write_bytes(encode_stream(trusted))
    trust.chmod(0o600)
    monkeypatch.setenv("USERSNAP_TEST_TRUST", str(trust))
    fake = FakeStore(signer=signer, account=trusted[0])
    with serve(fake) as running:
        monkeypatch.setenv("USERSNAP_STORE_URL", running.url)
        yield running


@pytest.fixture
def us(store: FakeStore) -> Iterator[Usersnap]:
    with usersnap_session() as session:
        yield session


def _blob(tmp: Path, version: str, name: str = "hello") -> bytes:
    yaml = (f"name: {name}\nversion: '{version}'\nsummary: s\ndescription: d\n"
            "apps:\n  hi:\n    command: bin/hi\n")
    path = build_snap(tmp, yaml,
                      {"bin/hi": f"#!/bin/sh\necho {version}\n"}, executables=["bin/hi"],
                      name=f"{name}-{version}.snap")
    return path.read_bytes()


def test_download_channels_revisions_and_install(
        us: Usersnap, store: FakeStore, tmp_path: Path) -> None:
    store.publish("hello", "1.0", 10, _blob(tmp_path, "1.0"))
    store.publish("hello", "2.0", 11, _blob(tmp_path, "2.0"), channels=("latest/beta",))
    out_dir = tmp_path / "dl"
    out_dir.mkdir()
    out = us.run("download", "hello", "--target-directory", str(out_dir)).stdout
    assert out == ('Fetching snap "hello"\nFetching assertions for "hello"\n'
                   "Install the snap with:\n   usersnap ack hello_10.assert\n"
                   "   usersnap install hello_10.snap\n")
    us.run("download", "hello", "--channel=beta", "--target-directory", str(out_dir))
    us.run("download", "hello", "--revision=10", "--target-directory", str(out_dir))
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "hello_10.assert", "hello_10.snap", "hello_11.assert", "hello_11.snap"]
    refresh = [h for m, p, h in store.requests if p == "/v2/snaps/refresh"]
    assert refresh[0]["Snap-Device-Series"] == "16" and refresh[0]["Snap-Device-Architecture"]
    # what was downloaded installs without --dangerous once acknowledged
    us.run("ack", str(out_dir / "hello_11.assert"))
    installed = us.run("install", str(out_dir / "hello_11.snap")).stdout
    assert installed == "hello 2.0 from Test Root (testrootorg**) installed\n"
    assert us.run("list").stdout.splitlines()[1].split()[:3] == ["hello", "2.0", "11"]


def test_find_through_usersnapd(us: Usersnap, store: FakeStore, tmp_path: Path) -> None:
    store.publish("hello", "1.0", 10, _blob(tmp_path, "1.0"))
    lines = us.run("find", "hell").stdout.splitlines()
    assert lines[0].split() == ["Name", "Version", "Publisher", "Notes", "Summary"]
    assert lines[1].split() == ["hello", "1.0", "testrootorg**", "-", "the", "hello", "snap"]
    none = us.run("find", "zzz")
    assert (none.stdout, none.stderr) == ("", 'No matching snaps for "zzz"\n')


def test_download_errors(us: Usersnap, store: FakeStore, tmp_path: Path) -> None:
    blob = _blob(tmp_path, "1.0")
    store.publish("hello", "1.0", 10, blob)
    target = ["--target-directory", str(tmp_path)]
    assert us.run("download", "nope", *target, check=False).stderr == \
        'error: snap "nope" not found\n'
    assert us.run("download", "hello", "--channel=edge", *target, check=False).stderr == \
        'error: snap "hello" is not available on edge\n'
    assert us.run("download", "hello", "--channel=a/b/c/d", *target, check=False).stderr == \
        'error: invalid channel name: "a/b/c/d"\n'
    # the connection drops mid-download: the partial file stays and the next run resumes
    store.cut_after = len(blob) // 2
    cut = us.run("download", "hello", *target, check=False)
    assert cut.returncode == 1 and cut.stderr.startswith('error: cannot download snap "hello"')
    assert "resume" in cut.stderr
    assert (tmp_path / "hello_10.snap.partial").stat().st_size == len(blob) // 2
    us.run("download", "hello", *target)
    ranges = [h.get("Range") for m, p, h in store.requests if p.startswith("/download/")]
    assert ranges[-1] == f"bytes={len(blob) // 2}-"
    assert (tmp_path / "hello_10.snap").read_bytes() == blob
    # a wrong digest leaves nothing behind
    (tmp_path / "hello_10.snap").unlink()
    store.corrupt = True
    bad = us.run("download", "hello", *target, check=False)
    assert bad.stderr.startswith('error: sha3-384 mismatch for "hello": got ')
    assert not (tmp_path / "hello_10.snap").exists()
    assert not (tmp_path / "hello_10.snap.partial").exists()


def test_revoked_or_changed_declaration(us: Usersnap, store: FakeStore, tmp_path: Path) -> None:
    store.publish("hello", "1.0", 10, _blob(tmp_path, "1.0"), snap_name="")
    proc = us.run("download", "hello", "--target-directory", str(tmp_path), check=False)
    assert proc.stderr == ('error: cannot verify the assertions of "hello": cannot install '
                           'snap "hello" with a revoked snap declaration\n')
    store.publish("other", "1.0", 3, _blob(tmp_path, "1.1"), snap_name="renamed")
    proc = us.run("download", "other", "--target-directory", str(tmp_path), check=False)
    assert proc.returncode == 0  # the store's name for it is the declaration's business
    us.run("ack", str(tmp_path / "other_3.assert"))
    refused = us.run("install", str(tmp_path / "other_3.snap"), check=False)
    assert refused.stderr.startswith(f'error: cannot install snap "{tmp_path}/other_3.snap": '
                                     'its snap.yaml name "hello" does not match')


def test_unreachable_store(us: Usersnap, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERSNAP_STORE_URL", "http://127.0.0.1:9")
    proc = us.run("download", "hello", check=False)
    assert (proc.returncode, proc.stderr) == (
        1, "error: cannot reach the store at http://127.0.0.1:9: Connection refused\n")


@pytest.mark.requires_fuse
@pytest.mark.requires_bwrap
def test_install_by_name(us: Usersnap, store: FakeStore, tmp_path: Path) -> None:
    store.publish("hello", "1.0", 10, _blob(tmp_path, "1.0"))
    store.publish("hello", "2.0", 11, _blob(tmp_path, "2.0"), channels=("latest/beta",))
    assert us.run("install", "hello", "--channel=beta").stdout == \
        "hello (beta) 2.0 from Test Root (testrootorg**) installed\n"
    assert us.run("run", "hello.hi").stdout == "2.0\n"
    again = us.run("install", "hello", check=False)
    assert again.stderr == "error: snap \"hello\" is already installed, see 'usersnap help " \
                           "refresh'\n"
    assert us.run("install", "nope", check=False).stderr == 'error: snap "nope" not found\n'
    assert "snap-revision: 11\n" in us.run("known", "snap-revision").stdout


def _table(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


@pytest.mark.requires_fuse
@pytest.mark.requires_bwrap
def test_refresh_keeps_previous_revision_and_switches_channels(
        us: Usersnap, store: FakeStore, tmp_path: Path) -> None:
    store.publish("hello", "1.0", 10, _blob(tmp_path, "1.0"))
    store.publish("hello", "2.0", 11, _blob(tmp_path, "2.0"),
                  channels=("latest/beta", "latest/candidate"))
    assert us.run("install", "hello").stdout == \
        "hello 1.0 from Test Root (testrootorg**) installed\n"
    assert _table(us.run("list").stdout)[1] == [
        "hello", "1.0", "10", "latest/stable", "testrootorg**", "-"]
    assert "tracking:     latest/stable\n" in us.run("info", "hello").stdout
    # nothing newer: said, not failed
    none = us.run("refresh", "hello")
    assert (none.returncode, none.stdout, none.stderr) == (
        0, "", 'snap "hello" has no updates available\n')
    assert us.run("refresh").stderr == "All snaps up to date.\n"
    assert us.run("refresh", "--list").stderr == "All snaps up to date.\n"
    # a newer stable revision: listed, then refreshed; the old one is kept for revert
    store.publish("hello", "1.1", 12, _blob(tmp_path, "1.1"))
    listed = _table(us.run("refresh", "--list").stdout)
    assert listed[0] == ["Name", "Version", "Rev", "Size", "Publisher", "Notes"]
    assert listed[1][:3] == ["hello", "1.1", "12"] and listed[1][4:] == ["testrootorg**", "-"]
    assert us.run("refresh").stdout == "hello 1.1 from Test Root (testrootorg**) refreshed\n"
    assert us.run("run", "hello.hi").stdout == "1.1\n"
    assert [r[2] for r in _table(us.run("list", "--all").stdout)[1:]] == ["10", "12"]
    assert us.run("revert", "hello").returncode == 0
    assert us.run("run", "hello.hi").stdout == "1.0\n"
    # the revision reverted from is not offered again (snapd's Block)
    assert us.run("refresh").stderr == "All snaps up to date.\n"
    # --channel: a newer revision there, then a channel with the same revision
    assert us.run("refresh", "hello", "--channel=beta").stdout == \
        "hello (beta) 2.0 from Test Root (testrootorg**) refreshed\n"
    assert us.run("run", "hello.hi").stdout == "2.0\n"
    assert _table(us.run("list").stdout)[1][3] == "latest/beta"
    assert us.run("refresh", "hello", "--channel=candidate").stdout == \
        "hello (candidate) 2.0 from Test Root (testrootorg**) refreshed\n"
    assert _table(us.run("list").stdout)[1][2:4] == ["11", "latest/candidate"]
    refresh = [p for m, p, h in store.requests if p == "/v2/snaps/refresh"]
    assert refresh  # every refresh asked the store's refresh endpoint
    bad = us.run("refresh", "hello", "--channel=a/b/c/d", check=False)
    assert (bad.returncode, bad.stderr) == (1, 'error: invalid channel name: "a/b/c/d"\n')


@pytest.mark.requires_fuse
@pytest.mark.requires_bwrap
def test_install_revision_local_snaps_and_wrong_digest(
        us: Usersnap, store: FakeStore, tmp_path: Path) -> None:
    blob = _blob(tmp_path, "1.0")
    store.publish("hello", "1.0", 10, blob)
    store.publish("hello", "1.1", 12, _blob(tmp_path, "1.1"))
    # the connection drops mid-download: the change fails, the next install resumes
    store.cut_after = len(blob) // 2
    cut = us.run("install", "hello", "--revision=10", check=False)
    assert cut.returncode == 1 and "run the command again to resume" in cut.stderr
    assert us.run("list").stderr.startswith("No snaps are installed yet")
    assert us.run("install", "hello", "--revision=10").stdout == \
        "hello 1.0 from Test Root (testrootorg**) installed\n"
    ranges = [h.get("Range") for m, p, h in store.requests if p.startswith("/download/")]
    assert ranges[-1] == f"bytes={len(blob) // 2}-"
    with connect(us.dirs) as client:  # the download's progress is the task's, as snapd's
        changes = client.get("/v2/changes", {"select": "all"})
    assert isinstance(changes, list)
    done = [c for c in changes if c["kind"] == "install-snap" and c["status"] == "Done"]
    kinds = [t["kind"] for t in done[0]["tasks"]]
    assert kinds[:4] == ["download-snap", "validate-snap", "prepare-snap", "mount-snap"]
    assert done[0]["tasks"][0]["progress"]["total"] == len(blob)
    local = tmp_path / "local.snap"
    build_snap(tmp_path, "name: local\nversion: '1'\nsummary: s\ndescription: d\n",
               name="local.snap")
    us.run("install", "--dangerous", str(local))
    assert [r[3] for r in _table(us.run("list").stdout)[1:]] == ["latest/stable", "-"]
    refused = us.run("refresh", "local", check=False)
    assert (refused.returncode, refused.stderr) == (
        1, 'error: local snap "local" is unknown to the store, use --amend to proceed '
           "anyway\n")
    # a wrong digest during refresh: the change fails and nothing changes
    before = us.state_bytes()
    store.corrupt = True
    bad = us.run("refresh", check=False)
    assert bad.returncode == 1 and 'sha3-384 mismatch for "hello"' in bad.stderr
    assert us.state_bytes() == before
    assert [r[2] for r in _table(us.run("list", "--all").stdout)[1:]] == ["10", "x1"]
    assert not list((us.dirs.cache / "download").iterdir())
    # the store down: one line, nothing changes
    us.stop_daemon()
    down = {"USERSNAP_STORE_URL": "http://127.0.0.1:9"}
    for argv in (["refresh"], ["refresh", "hello"], ["refresh", "--list"]):
        proc = us.run(*argv, check=False, env=down)
        assert (proc.returncode, proc.stderr) == (
            1, "error: cannot reach the store at http://127.0.0.1:9: Connection refused\n")
    assert us.state_bytes() == before


def test_remote_info_and_unreachable_store(us: Usersnap, store: FakeStore,
                                           tmp_path: Path) -> None:
    store.publish("hello", "1.0", 10, _blob(tmp_path, "1.0"))
    store.publish("hello", "2.0", 11, _blob(tmp_path, "2.0"), channels=("latest/edge",))
    out = us.run("info", "hello").stdout
    assert out.startswith("name:      hello\nsummary:   the hello snap\n"
                          "publisher: Test Root (testrootorg**)\nlicense:   MIT\n"
                          "description: |\n  All about hello.\n"
                          f"snap-id: {'hello' + '0' * 27}\nchannels:\n")
    channels = _table(out.split("channels:\n")[1])
    assert channels == [["latest/stable:", "1.0", "2020-01-02", "(10)", "4kB", "-"],
                        ["latest/candidate:", "^"], ["latest/beta:", "^"],
                        ["latest/edge:", "2.0", "2020-01-02", "(11)", "4kB", "-"]]
    nope = us.run("info", "nope", check=False)
    assert (nope.returncode, nope.stderr) == (1, 'error: no snap found for "nope"\n')
    assert us.run("install", "nope", check=False).stderr == 'error: snap "nope" not found\n'
    # a store that cannot be reached: one line, nothing installed
    us.stop_daemon()
    down = {"USERSNAP_STORE_URL": "http://127.0.0.1:9"}
    proc = us.run("install", "hello", check=False, env=down)
    assert (proc.returncode, proc.stderr) == (
        1, "error: cannot reach the store at http://127.0.0.1:9: Connection refused\n")
    assert us.run("info", "hello", check=False, env=down).stderr == \
        'error: no snap found for "hello"\n'
    assert us.run("refresh", "--list", env=down).stderr == "All snaps up to date.\n"


@pytest.mark.requires_fuse
@pytest.mark.requires_bwrap
def test_real_snap_client_installs_and_refreshes(store: FakeStore, snap: Real,
                                                 tmp_path: Path) -> None:
    """Debian's snap 2.57.6 drives the same endpoints: install NAME, refresh, info."""
    store.publish("hello", "1.0", 10, _blob(tmp_path, "1.0"))
    out = snap("install", "hello", "--channel=stable")
    assert (out.returncode, out.stdout) == (
        0, "hello 1.0 from Test Root (testrootorg**) installed\n"), out.stderr
    assert snap("list").stdout.splitlines()[1].split()[3] == "latest/stable"
    assert snap("refresh").stderr == "All snaps up to date.\n"
    assert snap("refresh", "hello").stderr == 'snap "hello" has no updates available\n'
    store.publish("hello", "1.1", 12, _blob(tmp_path, "1.1"))
    assert snap("refresh", "--list").stdout.splitlines()[1].split()[:3] == ["hello", "1.1", "12"]
    assert snap("refresh").stdout == "hello 1.1 from Test Root (testrootorg**) refreshed\n"
    # snap info of a store snap, installed and not: usersnap prints what snap prints
    assert snap.us.run("info", "hello").stdout == snap("info", "hello").stdout
    store.publish("other", "3", 5, _blob(tmp_path, "3"), channels=("latest/edge",))
    assert snap.us.run("info", "other").stdout == snap("info", "other").stdout
    assert snap("info", "nope").stderr == 'error: no snap found for "nope"\n'
    # many names: one change through POST /v2/snaps; one bad snap undoes it all
    store.publish("third", "1.0", 7, _blob(tmp_path, "1.0", "third"))
    store.publish("fourth", "1.0", 8, _blob(tmp_path, "3.2"))  # its snap.yaml says hello
    many = snap("install", "third", "fourth")
    assert many.returncode == 1 and 'its snap.yaml name "hello" does not match' in " ".join(
        many.stderr.split())
    assert [r[0] for r in _table(snap("list").stdout)[1:]] == ["hello"]
    store.publish("fifth", "2.0", 9, _blob(tmp_path, "2.0", "fifth"))
    assert snap("install", "third", "fifth").stdout == (  # snap lists them by name
        "fifth 2.0 from Test Root (testrootorg**) installed\n"
        "third 1.0 from Test Root (testrootorg**) installed\n")


@pytest.mark.requires_fuse
@pytest.mark.requires_bwrap
def test_store_refresh_runs_the_refresh_chain(us: Usersnap, store: FakeStore,
                                              tmp_path: Path) -> None:
    """The refresh of a store snap is the install chain's: hooks in snapd's order, data
    copied, configuration kept."""
    store.publish("hooky", "1.0", 1, hooky(tmp_path, "1.0", name="h1.snap").read_bytes())
    store.publish("hooky", "1.1", 2, hooky(tmp_path, "1.1", name="h2.snap").read_bytes())
    us.run("install", "hooky", "--revision=1")
    (us.dirs.data_dir("hooky") / "1" / "marker").write_text("kept\n")
    assert us.run("refresh", "hooky").stdout == \
        "hooky 1.1 from Test Root (testrootorg**) refreshed\n"
    assert hook_log(us) == ["install 1", "configure 1", "pre-refresh 1", "post-refresh 2",
                            "configure 2"]
    assert (us.dirs.data_dir("hooky") / "2" / "marker").read_text() == "kept\n"
    assert us.run("get", "hooky", "installed").stdout == "yes\n"
    with connect(us.dirs) as client:
        changes = client.get("/v2/changes", {"select": "all"})
    assert isinstance(changes, list)
    kinds = [t["kind"] for c in changes if c["kind"] == "refresh-snap" for t in c["tasks"]]
    assert kinds[:5] == ["download-snap", "validate-snap", "prepare-snap", "mount-snap",
                         "run-hook"]
    assert kinds.index("stop-snap-services") < kinds.index("link-snap") < \
        kinds.index("start-snap-services")
