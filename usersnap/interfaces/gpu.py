"""The host's NVIDIA userspace driver under /var/lib/snapd/lib, as snap-confine shows it.

A snap brings its own Mesa, but the proprietary NVIDIA driver must match the host's
kernel module, so snap-confine (``cmd/snap-confine/mount-support-nvidia.c``) puts the
host's copy of its libraries where snaps look for them: ``/var/lib/snapd/lib/gl`` (and
``gl32``) is on ``$SNAP_LIBRARY_PATH``, which snapcraft's launchers put on
``LD_LIBRARY_PATH``; the Vulkan ICD and EGL vendor files go to ``vulkan`` and ``glvnd``.
It does so only while the ``nvidia`` kernel module is loaded (``/sys/module/nvidia/version``).

Which files: snap-confine's globs, searched where snap-confine searches them, chosen at
run time instead of at snapd's build time:

* *multiarch* (Debian, Ubuntu): ``/usr/lib/<triplet>`` when it holds
  ``libnvidia-glcore.so.<module version>``, and the 32-bit triplet likewise for ``gl32``;
* *biarch* (Fedora, Arch, ...) otherwise: ``/usr/lib64`` (else ``/usr/lib``) and its
  ``nvidia*`` subdirectories, later matches replacing earlier ones of the same name;
  the 32-bit directory (``/usr/lib`` beside ``/usr/lib64``, else ``/usr/lib32``) for ``gl32``.

snap-confine makes a farm of symlinks into /var/lib/snapd/hostfs; usersnap has no
hostfs, so each file is bound read-only at its name (an absolute symlink is followed
by that bind, as snap-confine's hostfs link would be) and relative symlinks
(``libcuda.so.1 -> libcuda.so.550.54``) are recreated as they are.  Left out: the
legacy ``/usr/lib/nvidia-<major>`` directory of Ubuntu <= 18.04's packages and the
libva driver snap-confine binds into ``$SNAP`` itself.

Planning is pure (:func:`plan_driver` takes directory listings); :func:`read_driver`
reads them.  ``USERSNAP_TEST_GL_ROOT`` (test-only) makes every host path above
relative to another directory, so tests can fake a driver on a machine without a GPU.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from usersnap.meta.model import frozen_map

if TYPE_CHECKING:  # plan imports this module
    from usersnap.sandbox.plan import Entry

EXTRA_LIB_DIR = "/var/lib/snapd/lib"
VERSION_FILE = "/sys/module/nvidia/version"
#: Test-only: the directory standing for / when looking for the driver.
ROOT_ENV = "USERSNAP_TEST_GL_ROOT"
#: What snap-confine sets for the vendor files it exposes.
ENV = {
    "__EGL_VENDOR_LIBRARY_DIRS": f"{EXTRA_LIB_DIR}/glvnd/egl_vendor.d",
    "__EGL_EXTERNAL_PLATFORM_CONFIG_DIRS": f"{EXTRA_LIB_DIR}/glvnd/egl_external_platform.d",
}

#: snap-confine's ``nvidia_globs`` (snapd master, 2025).
NVIDIA_GLOBS = (
    "libEGL_nvidia.so*", "libGLESv1_CM_nvidia.so*", "libGLESv2_nvidia.so*",
    "libGLX_nvidia.so*", "libXvMCNVIDIA.so*", "libXvMCNVIDIA_dynamic.so*",
    "libnvidia-cfg.so*", "libnvidia-compiler.so*", "libnvidia-eglcore.so*", "libnvidia-egl*",
    "libnvidia-encode.so*", "libnvidia-fatbinaryloader.so*", "libnvidia-fbc.so*",
    "libnvidia-glcore.so*", "libnvidia-glsi.so*", "libnvidia-glvkspirv.so*",
    "libnvidia-gpucomp.so*", "libnvidia-ifr.so*", "libnvidia-ml.so*", "libnvidia-opencl.so*",
    "libnvidia-opticalflow.so*", "libnvidia-ptxjitcompiler.so*", "libnvidia-rtcore.so*",
    "libnvidia-tls.so*", "libnvoptix.so*", "tls/libnvidia-tls.so*",
    "vdpau/libvdpau_nvidia.so*",
    # Tegra
    "libnvdc.so*", "libnvos.so*", "libnvrm_gpu.so*", "libnvimp.so*", "libnvrm.so*",
    "libnvrm_graphics.so*",
    # CUDA, cuDNN
    "libcuda.so*", "libcudart.so*", "libnvcuvid.so*", "libcufft.so*", "libcublas.so*",
    "libcublasLt.so*", "libcusolver.so*", "libcuparse.so*", "libcurand.so*", "libnppc.so*",
    "libnppig.so*", "libnppial.so*", "libnppicc.so*", "libnppidei.so*", "libnppist.so*",
    "libnppcif.so*", "libnppim.so*", "libnppitc.so*", "libnvrtc*", "libnvrtc-builtins*",
    "libnvToolsExt.so*", "libcudnn.so*", "libcudnn_adv_infer*", "libcudnn_adv_train*",
    "libcudnn_cnn_infer*", "libcudnn_cnn_train*", "libcudnn_ops_infer*",
    "libcudnn_ops_train*",
)
#: ``glvnd_globs``: added for snaps on ``core`` (Ubuntu 16.04 had no glvnd).
GLVND_GLOBS = (
    "libEGL.so*", "libGL.so*", "libOpenGL.so*", "libGLESv1_CM.so*", "libGLESv2.so*",
    "libGLX_indirect.so*", "libGLX.so*", "libGLdispatch.so*", "libGLU.so*",
)
#: (host directory, globs, directory under EXTRA_LIB_DIR), for every driver layout.
VENDOR_FILES = (
    ("/usr/share/vulkan", ("icd.d/*nvidia*.json",), "vulkan"),
    ("/usr/share/glvnd", ("egl_vendor.d/*nvidia*.json",), "glvnd"),
    ("/usr/share/egl", ("egl_external_platform.d/*nvidia*.json",), "glvnd"),
)
#: The directories globs look into below the searched ones (tls, vdpau, icd.d, ...).
_GLOB_SUBDIRS = frozenset(g.rpartition("/")[0] for g in (
    *NVIDIA_GLOBS, *(g for _, globs, _ in VENDOR_FILES for g in globs)) if "/" in g)
#: dpkg architecture -> (its triplet, the triplet of its 32-bit companion or "").
TRIPLETS = {
    "amd64": ("x86_64-linux-gnu", "i386-linux-gnu"),
    "arm64": ("aarch64-linux-gnu", "arm-linux-gnueabihf"),
    "i386": ("i386-linux-gnu", ""),
    "armhf": ("arm-linux-gnueabihf", ""),
    "ppc64el": ("powerpc64le-linux-gnu", ""),
    "s390x": ("s390x-linux-gnu", ""),
    "riscv64": ("riscv64-linux-gnu", ""),
}


@dataclass(frozen=True, slots=True)
class DriverFile:
    """One entry of /var/lib/snapd/lib: a host file bound read-only, or a symlink."""

    dest: str
    src: str = ""
    link: str = ""


@dataclass(frozen=True, slots=True)
class HostDriver:
    """What :func:`read_driver` found: the module's version and the listings searched."""

    version: str = ""
    #: host directory -> its entries, for every non-empty directory the globs may look in
    listings: Mapping[str, tuple[Entry, ...]] = field(default_factory=lambda: frozen_map())
    #: what stands for / (ROOT_ENV), prefixed to every host path
    root: str = ""
    #: the deepest of /var/lib/snapd/lib, /var/lib/snapd that the sandbox's tree has, to
    #: mount a tmpfs on ("": none, the base's read-only /var/lib cannot hold the driver)
    mount_at: str = ""


def search_dirs(arch: str, root: str) -> list[str]:
    """Every host directory :func:`plan_driver` may look in, before ``nvidia*`` expansion."""
    native, compat = TRIPLETS.get(arch, ("", ""))
    dirs = [f"/usr/lib/{t}" for t in (native, compat) if t]
    dirs += ["/usr/lib64", "/usr/lib", "/usr/lib32"]
    dirs += [d for d, _, _ in VENDOR_FILES]
    return [root + d for d in dirs]


def _lib_sources(arch: str, version: str, listings: Mapping[str, Sequence[Entry]],
                 root: str) -> list[tuple[str, str]]:
    """(host directory, gl or gl32) in the order their matches are taken."""
    native, compat = TRIPLETS.get(arch, ("", ""))
    canary = f"libnvidia-glcore.so.{version}"

    def has_canary(path: str) -> bool:
        return any(e.name == canary for e in listings.get(root + path, ()))

    if native and has_canary(f"/usr/lib/{native}"):
        sources = [(f"/usr/lib/{native}", "gl")]
        if compat and has_canary(f"/usr/lib/{compat}"):
            sources.append((f"/usr/lib/{compat}", "gl32"))
        return sources
    lib64 = root + "/usr/lib64" in listings
    pairs = [("/usr/lib64" if lib64 else "/usr/lib", "gl")]
    if compat or lib64:
        pairs.append(("/usr/lib" if lib64 else "/usr/lib32", "gl32"))
    sources = []
    for path, dest in pairs:
        sources.append((path, dest))
        sources += sorted((posixpath.join(path, e.name), dest)
                          for e in listings.get(root + path, ())
                          if e.kind == "dir" and fnmatch.fnmatchcase(e.name, "nvidia*"))
    return sources


def plan_driver(driver: HostDriver, *, arch: str, base: str) -> tuple[DriverFile, ...]:
    """The entries of /var/lib/snapd/lib for ``driver``, sorted by destination; empty
    without the kernel module.  ``base`` is the snap's base (``core`` adds glvnd)."""
    if not driver.version:
        return ()
    globs = NVIDIA_GLOBS + (GLVND_GLOBS if base == "core" else ())
    searches = [(d, globs, sub) for d, sub in _lib_sources(arch, driver.version,
                                                            driver.listings, driver.root)]
    searches += VENDOR_FILES
    found: dict[str, DriverFile] = {}
    for directory, patterns, sub in searches:
        for pattern in patterns:
            subdir, _, name_glob = pattern.rpartition("/")
            host_dir = posixpath.join(driver.root + directory, subdir).rstrip("/")
            dest_dir = posixpath.join(EXTRA_LIB_DIR, sub, subdir).rstrip("/")
            for entry in driver.listings.get(host_dir, ()):
                if entry.kind == "dir" or not fnmatch.fnmatchcase(entry.name, name_glob):
                    continue
                dest = posixpath.join(dest_dir, entry.name)
                # later directories replace earlier matches (snap-confine unlinks first)
                found[dest] = DriverFile(dest, link=entry.target) \
                    if entry.kind == "symlink" and not entry.target.startswith("/") \
                    else DriverFile(dest, src=posixpath.join(host_dir, entry.name))
    return tuple(found[dest] for dest in sorted(found))


def driver_root(environ: Mapping[str, str]) -> str:
    return environ.get(ROOT_ENV, "").rstrip("/")


def read_driver(arch: str, tree: str, root: str = "") -> HostDriver:
    """The kernel module's version and every listing :func:`plan_driver` may need, for a
    sandbox whose / is ``tree``; nothing is listed without the module."""
    from usersnap.sandbox.facts import list_entries  # facts imports plan, plan this

    try:
        with open(root + VERSION_FILE, encoding="ascii", errors="replace") as f:
            version = f.read().strip()
    except OSError:
        return HostDriver(root=root)
    biarch = {root + d for d in ("/usr/lib64", "/usr/lib", "/usr/lib32")}
    listings: dict[str, tuple[Entry, ...]] = {}
    pending = search_dirs(arch, root)
    while pending:
        path = pending.pop()
        entries = () if path in listings else list_entries(path)
        if entries:
            listings[path] = entries
            # the globs' own subdirectories, and biarch's nvidia* ones
            pending += [posixpath.join(path, e.name) for e in entries if e.kind == "dir" and (
                e.name in _GLOB_SUBDIRS or (path in biarch and e.name.startswith("nvidia")))]
    mount_at = next((d for d in (EXTRA_LIB_DIR, posixpath.dirname(EXTRA_LIB_DIR))
                     if os.path.isdir(tree.rstrip("/") + d)), "")
    return HostDriver(version=version, listings=frozen_map(listings), root=root,
                      mount_at=mount_at)


def driver_sources(arch: str, root: str) -> list[str]:
    """What a change of the driver changes (for the run cache's fingerprint)."""
    return [root + VERSION_FILE, *search_dirs(arch, root)]
