"""Which host NVIDIA files ``opengl`` shows where: snap-confine's globs over listings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from usersnap.interfaces.connect import Conn
from usersnap.interfaces.effects import Host, plan_effects
from usersnap.interfaces.gpu import DriverFile, HostDriver, plan_driver, read_driver
from usersnap.meta.model import frozen_map
from usersnap.sandbox.ops import Dir, RemountRo, RoBind, Symlink, Tmpfs
from usersnap.sandbox.plan import Entry

V = "550.54.14"
GL = "/var/lib/snapd/lib/gl"


def f(name: str) -> Entry:
    return Entry(name, "file")


def ln(name: str, target: str) -> Entry:
    return Entry(name, "symlink", target)


def d(name: str) -> Entry:
    return Entry(name, "dir")


DEBIAN = {
    "/usr/lib/x86_64-linux-gnu": (
        f(f"libnvidia-glcore.so.{V}"), f(f"libcuda.so.{V}"), ln("libcuda.so.1", f"libcuda.so.{V}"),
        ln("libGLX_nvidia.so.0", "/etc/alternatives/nvidia--libGLX_nvidia.so.0-x86_64-linux-gnu"),
        f("libGL.so.1"), f("libc.so.6"), f("libEGL_mesa.so.0"), d("vdpau"), d("nvidia"),
    ),
    "/usr/lib/x86_64-linux-gnu/vdpau": (f(f"libvdpau_nvidia.so.{V}"), f("libvdpau_va_gl.so.1")),
    "/usr/lib/i386-linux-gnu": (f(f"libnvidia-glcore.so.{V}"), f(f"libcuda.so.{V}")),
    "/usr/share/vulkan/icd.d": (f("nvidia_icd.json"), f("intel_icd.x86_64.json")),
    "/usr/share/glvnd/egl_vendor.d": (f("10_nvidia.json"), f("50_mesa.json")),
}


def plan(listings: dict[str, tuple[Entry, ...]], *, base: str = "core22", root: str = "",
         version: str = V) -> dict[str, DriverFile]:
    driver = HostDriver(version=version, root=root, listings=frozen_map(
        {root + path: entries for path, entries in listings.items()}))
    return {file.dest: file for file in plan_driver(driver, arch="amd64", base=base)}


def test_multiarch_takes_the_triplet_dirs_with_the_running_driver() -> None:
    files = plan(DEBIAN)
    lib = "/usr/lib/x86_64-linux-gnu"
    assert files == {
        f"{GL}/libGLX_nvidia.so.0": DriverFile(f"{GL}/libGLX_nvidia.so.0",
                                               src=f"{lib}/libGLX_nvidia.so.0"),
        f"{GL}/libcuda.so.1": DriverFile(f"{GL}/libcuda.so.1", link=f"libcuda.so.{V}"),
        f"{GL}/libcuda.so.{V}": DriverFile(f"{GL}/libcuda.so.{V}", src=f"{lib}/libcuda.so.{V}"),
        f"{GL}/libnvidia-glcore.so.{V}": DriverFile(f"{GL}/libnvidia-glcore.so.{V}",
                                                    src=f"{lib}/libnvidia-glcore.so.{V}"),
        f"{GL}/vdpau/libvdpau_nvidia.so.{V}": DriverFile(
            f"{GL}/vdpau/libvdpau_nvidia.so.{V}", src=f"{lib}/vdpau/libvdpau_nvidia.so.{V}"),
        f"{GL}32/libcuda.so.{V}": DriverFile(f"{GL}32/libcuda.so.{V}",
                                             src=f"/usr/lib/i386-linux-gnu/libcuda.so.{V}"),
        f"{GL}32/libnvidia-glcore.so.{V}": DriverFile(
            f"{GL}32/libnvidia-glcore.so.{V}",
            src=f"/usr/lib/i386-linux-gnu/libnvidia-glcore.so.{V}"),
        "/var/lib/snapd/lib/vulkan/icd.d/nvidia_icd.json": DriverFile(
            "/var/lib/snapd/lib/vulkan/icd.d/nvidia_icd.json",
            src="/usr/share/vulkan/icd.d/nvidia_icd.json"),
        "/var/lib/snapd/lib/glvnd/egl_vendor.d/10_nvidia.json": DriverFile(
            "/var/lib/snapd/lib/glvnd/egl_vendor.d/10_nvidia.json",
            src="/usr/share/glvnd/egl_vendor.d/10_nvidia.json"),
    }


def test_glvnd_libraries_only_for_core_and_nothing_without_the_module() -> None:
    assert f"{GL}/libGL.so.1" in plan(DEBIAN, base="core")
    assert f"{GL}/libGL.so.1" not in plan(DEBIAN, base="core22")
    assert plan(DEBIAN, version="") == {}


def test_mesa_only_hosts_expose_nothing() -> None:
    mesa = {"/usr/lib/x86_64-linux-gnu": (f("libGL.so.1"), f("libEGL_mesa.so.0")),
            "/usr/share/vulkan/icd.d": (f("intel_icd.x86_64.json"),)}
    assert plan(mesa) == {}


def test_biarch_searches_lib64_then_its_nvidia_dirs_and_lib_for_32_bit() -> None:
    fedora = {
        "/usr/lib64": (f("libnvidia-ml.so.1"), f("libGLX_nvidia.so.0"), d("nvidia")),
        "/usr/lib64/nvidia": (f("libGLX_nvidia.so.0"),),
        "/usr/lib": (f("libcuda.so.1"), d("x86_64-linux-gnu")),
    }
    files = plan(fedora, root="/fake")
    assert files == {
        f"{GL}/libGLX_nvidia.so.0": DriverFile(f"{GL}/libGLX_nvidia.so.0",
                                               src="/fake/usr/lib64/nvidia/libGLX_nvidia.so.0"),
        f"{GL}/libnvidia-ml.so.1": DriverFile(f"{GL}/libnvidia-ml.so.1",
                                              src="/fake/usr/lib64/libnvidia-ml.so.1"),
        f"{GL}32/libcuda.so.1": DriverFile(f"{GL}32/libcuda.so.1",
                                           src="/fake/usr/lib/libcuda.so.1"),
    }


def test_opengl_mounts_a_read_only_farm_and_sets_the_egl_dirs() -> None:
    files = tuple(plan({"/usr/lib64": (f("libcuda.so.1"), ln("libcuda.so", "libcuda.so.1"))}
                       ).values())
    host = Host(snap="app", revision="1", home="/home/u", uid=1000, mount="/m", data="/d",
                host_env={}, gpu_files=files, gpu_mount="/var/lib/snapd")
    conn = Conn(plug_snap="app", plug="opengl", slot_snap="snapd", slot="opengl",
                interface="opengl")
    effects = plan_effects([conn], ["opengl"], {}, host)
    lib = "/var/lib/snapd/lib"
    assert effects.ops[3:] == (
        Tmpfs("/var/lib/snapd"), Dir(f"{lib}/gl"), Dir(f"{lib}/gl32"), Dir(f"{lib}/vulkan"),
        Dir(f"{lib}/glvnd"), Symlink("libcuda.so.1", f"{GL}/libcuda.so"),
        RoBind("/usr/lib64/libcuda.so.1", f"{GL}/libcuda.so.1"), RemountRo("/var/lib/snapd"))
    assert effects.env["__EGL_VENDOR_LIBRARY_DIRS"] == f"{lib}/glvnd/egl_vendor.d"
    # a tree without /var/lib/snapd cannot hold them: said, not silently dropped
    bare = plan_effects([conn], ["opengl"], {}, replace(host, gpu_mount=""))
    assert len(bare.ops) == 3 and bare.env == {}
    assert "NVIDIA libraries are not shown" in bare.notices[0]


def test_read_driver_lists_what_the_globs_need(tmp_path: Path) -> None:
    root = tmp_path / "host"
    (root / "sys/module/nvidia").mkdir(parents=True)
    (root / "sys/module/nvidia/version").write_text(f"{V}\n")
    lib = root / "usr/lib/x86_64-linux-gnu"
    (lib / "vdpau").mkdir(parents=True)
    (lib / f"libnvidia-glcore.so.{V}").write_text("")
    (lib / "vdpau" / f"libvdpau_nvidia.so.{V}").write_text("")
    (lib / "libcuda.so.1").symlink_to(f"libcuda.so.{V}")
    tree = tmp_path / "base"
    (tree / "var/lib/snapd").mkdir(parents=True)
    driver = read_driver("amd64", str(tree), str(root))
    assert driver.version == V and driver.mount_at == "/var/lib/snapd"
    assert set(plan_driver(driver, arch="amd64", base="core22")) == {
        DriverFile(f"{GL}/libnvidia-glcore.so.{V}", src=f"{lib}/libnvidia-glcore.so.{V}"),
        DriverFile(f"{GL}/vdpau/libvdpau_nvidia.so.{V}",
                   src=f"{lib}/vdpau/libvdpau_nvidia.so.{V}"),
        DriverFile(f"{GL}/libcuda.so.1", link=f"libcuda.so.{V}"),
    }
    assert read_driver("amd64", str(tree), str(tmp_path / "nothing")) == HostDriver(
        root=str(tmp_path / "nothing"))


def test_the_snaps_own_environment_overrides_snap_confines() -> None:
    from tests.unit.sandbox.test_plan import BASE, DIRS, FACTS
    from usersnap.meta.parse import parse_snap_yaml
    from usersnap.sandbox.plan import plan_sandbox

    info = parse_snap_yaml(b"name: g\nversion: '1'\nbase: core22\nplugs:\n  opengl:\n"
                           b"apps:\n  a:\n    command: bin/a\n  b:\n    command: bin/b\n"
                           b"    environment:\n      __EGL_VENDOR_LIBRARY_DIRS: $SNAP/egl\n")
    driver = HostDriver(version=V, mount_at="/var/lib/snapd", listings=frozen_map(
        {"/usr/lib/x86_64-linux-gnu": (f(f"libnvidia-glcore.so.{V}"),)}))
    facts = replace(FACTS, gpu=driver)
    envs = {app: plan_sandbox(info, "1", DIRS, facts=facts, base_tree=BASE,
                              app=info.apps[app], host_env={}).env for app in "ab"}
    assert envs["a"]["__EGL_VENDOR_LIBRARY_DIRS"] == "/var/lib/snapd/lib/glvnd/egl_vendor.d"
    assert envs["b"]["__EGL_VENDOR_LIBRARY_DIRS"] == "/snap/g/1/egl"
    assert envs["b"]["__EGL_EXTERNAL_PLATFORM_CONFIG_DIRS"].startswith("/var/lib/snapd/")
