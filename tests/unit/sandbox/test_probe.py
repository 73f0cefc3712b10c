"""User namespace failures are explained in one line with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from usersnap.errors import SandboxError
from usersnap.sandbox.probe import bwrap_supports, check_userns, explain_userns_failure

UID_MAP = "bwrap: setting up uid map: Permission denied\n"


def test_apparmor_restriction() -> None:
    text = explain_userns_failure(UID_MAP, {"kernel.apparmor_restrict_unprivileged_userns": "1"})
    assert "kernel.apparmor_restrict_unprivileged_userns=1" in text
    assert "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0" in text
    assert "\n" not in text


def test_debian_sysctl() -> None:
    text = explain_userns_failure("bwrap: No permissions to create new namespace\n",
                                  {"kernel.unprivileged_userns_clone": "0"})
    assert text.endswith("sudo sysctl kernel.unprivileged_userns_clone=1")


def test_max_user_namespaces() -> None:
    text = explain_userns_failure("", {"user.max_user_namespaces": "0"})
    assert "user.max_user_namespaces=0" in text


def test_unknown_cause_quotes_bwrap() -> None:
    stderr = "warning\nbwrap: Can't mount proc on /newroot/proc: Operation not permitted\n"
    text = explain_userns_failure(stderr, {"kernel.unprivileged_userns_clone": "1"})
    assert "(bwrap: Can't mount proc on /newroot/proc: Operation not permitted)" in text
    assert "\n" not in text


def test_check_userns_with_failing_bwrap(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(SandboxError, match=r"uid map|user namespace"):
        check_userns(str(fake))


def test_check_userns_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="cannot run"):
        check_userns(str(tmp_path / "nope"))


def test_bwrap_supports_looks_for_the_option_in_the_executable(tmp_path: Path) -> None:
    binary = tmp_path / "bwrap"
    binary.write_bytes(b"\x7fELF...--unshare-user\0--disable-userns\0usage: %s\0")
    assert bwrap_supports(str(binary), "--disable-userns")
    assert not bwrap_supports(str(binary), "--disable")  # a prefix is not the option
    assert not bwrap_supports(str(binary), "--assert-userns-disabled")
    assert not bwrap_supports(str(tmp_path / "missing"), "--disable-userns")
