"""``opengl`` shows the host's NVIDIA libraries at /var/lib/snapd/lib, in a real sandbox.

This machine has no GPU: ``USERSNAP_TEST_GL_ROOT`` points the driver search at a fake
host (a ``/sys/module/nvidia/version`` and libraries in ``/usr/lib/<triplet>``), and the
sandbox's root is a small base tree with ``/var/lib/snapd`` as core bases have it.
The launcher runs in a child process (this module's ``__main__``), as ``usersnap run``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.helpers.snaps import build_snap
from tests.integration.test_launch import make_base
from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError
from usersnap.interfaces.gpu import ROOT_ENV, TRIPLETS
from usersnap.meta.parse import parse_snap_yaml
from usersnap.sandbox.environment import dpkg_arch

pytestmark = [
    pytest.mark.requires_bwrap,
    pytest.mark.requires_mksquashfs,
    pytest.mark.skipif(shutil.which("ldd") is None, reason="ldd is needed to build a base"),
    pytest.mark.skipif(dpkg_arch() not in TRIPLETS, reason="no multiarch triplet known"),
]

REPO = Path(__file__).resolve().parents[2]
NAME, REV, V = "gltest", "x1", "550.54.14"
SNAP_YAML = ("name: gltest\nversion: '1'\nbase: core22\napps:\n"
             "  gl:\n    command: bin/sh-c\n    plugs: [opengl]\n"
             "  plain:\n    command: bin/sh-c\n")
SH_C = '#!/bin/sh\nexec /bin/sh -c "$1"\n'
TIMEOUT = 60


def main(argv: list[str]) -> int:
    """The launcher: BASE_TREE APP COMMAND."""
    from usersnap.sandbox.facts import gather_host_facts
    from usersnap.sandbox.launch import prepare_host_dirs, run_sandboxed
    from usersnap.sandbox.plan import plan_sandbox

    base, app, command = Path(argv[0]), argv[1], argv[2]
    info = parse_snap_yaml(SNAP_YAML.encode())
    dirs = Dirs.from_env()
    try:
        spec = plan_sandbox(info, REV, dirs, facts=gather_host_facts(base), base_tree=base,
                            app=info.apps[app], args=[command], host_env=os.environ)
        prepare_host_dirs(dirs, NAME, REV)
        return run_sandboxed(spec, run_lock=dirs.run_lock)
    except UsersnapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """(base tree, fake host root with an NVIDIA driver)."""
    dirs = Dirs.from_env()
    image = build_snap(tmp_path, SNAP_YAML, {"bin/sh-c": SH_C}, executables=("bin/sh-c",))
    dirs.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    (dirs.mount / NAME).mkdir(parents=True, exist_ok=True)
    subprocess.run(["unsquashfs", "-no-progress", "-d", str(dirs.mount / NAME / REV),
                    str(image)], check=True, capture_output=True, timeout=TIMEOUT)
    base = dirs.mount / "core22" / "1"
    make_base(base)
    (base / "var/lib/snapd").mkdir(parents=True)
    host = tmp_path / "host"
    (host / "sys/module/nvidia").mkdir(parents=True)
    (host / "sys/module/nvidia/version").write_text(f"{V}\n")
    lib = host / "usr/lib" / TRIPLETS[dpkg_arch()][0]
    (lib / "vdpau").mkdir(parents=True)
    (lib / f"libnvidia-glcore.so.{V}").write_text("glcore\n")
    (lib / f"libcuda.so.{V}").write_text("cuda\n")
    (lib / "libcuda.so.1").symlink_to(f"libcuda.so.{V}")
    (lib / "vdpau" / f"libvdpau_nvidia.so.{V}").write_text("vdpau\n")
    (lib / "libEGL_mesa.so.0").write_text("mesa\n")
    icd = host / "usr/share/vulkan/icd.d"
    icd.mkdir(parents=True)
    (icd / "nvidia_icd.json").write_text("{}\n")
    return base, host


def run(base: Path, host: Path, app: str, command: str) -> subprocess.CompletedProcess[str]:
    env: Mapping[str, str] = {**os.environ, ROOT_ENV: str(host)}
    return subprocess.run([sys.executable, "-m", "tests.integration.test_opengl", str(base),
                           app, command], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def test_nvidia_libraries_appear_read_only_with_opengl(setup: tuple[Path, Path]) -> None:
    base, host = setup
    gl = "/var/lib/snapd/lib/gl"
    result = run(base, host, "gl",
                 f"cd {gl} && ls; ls vdpau; ls ../vulkan/icd.d; ls -A ../gl32; "
                 "cat libcuda.so.1 vdpau/*; echo $__EGL_VENDOR_LIBRARY_DIRS; "
                 'case "$(ls -l libcuda.so.1)" in *" -> libcuda.so.5"*) echo relative;; esac; '
                 'case "$(touch new 2>&1)" in *"Read-only file system"*) echo read-only;; esac')
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "libcuda.so.1", f"libcuda.so.{V}", f"libnvidia-glcore.so.{V}", "vdpau",
        f"libvdpau_nvidia.so.{V}", "nvidia_icd.json", "cuda", "vdpau",
        "/var/lib/snapd/lib/glvnd/egl_vendor.d", "relative", "read-only"]


def test_without_opengl_nothing_is_shown(setup: tuple[Path, Path]) -> None:
    base, host = setup
    result = run(base, host, "plain",
                 "ls -A /var/lib/snapd; echo ${__EGL_VENDOR_LIBRARY_DIRS-unset}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "unset\n"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
