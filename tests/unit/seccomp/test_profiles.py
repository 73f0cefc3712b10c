"""The shipped template and interface snippets: they parse, and allow or deny what snapd does."""

from __future__ import annotations

import errno

import pytest

from usersnap.seccomp.policy import Policy, compose, parse_policy
from usersnap.seccomp.profiles import (
    UnknownSnippetError,
    connected_snippets,
    default_template,
    known_interfaces,
    render_profile,
    snippet_for,
)

ISSUE_4_INTERFACES = (
    "audio-playback", "camera", "content", "desktop", "hardware-observe", "home",
    "mount-observe", "network", "network-bind", "opengl", "personal-files", "process-control",
    "pulseaudio", "removable-media", "system-files", "system-observe", "wayland", "x11",
)
#: Left out of snapd's template on purpose, and so out of usersnap's: they fail with EPERM.
NEVER_ALLOWED = {
    "mount", "umount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "keyctl", "add_key", "request_key",
    "bpf", "ptrace", "process_vm_readv", "process_vm_writev", "unshare", "setns",
    "init_module", "finit_module", "delete_module", "create_module", "kexec_load",
    "kexec_file_load", "name_to_handle_at", "open_by_handle_at", "perf_event_open",
    "userfaultfd", "io_uring_setup", "io_uring_enter", "acct", "swapon", "swapoff", "reboot",
    "socketcall", "ioperm",
}


@pytest.fixture(scope="module")
def template() -> Policy:
    return parse_policy(default_template(), "default.src")


def allowed(policy: Policy) -> set[str]:
    return {rule.syscall for rule in policy.allow_rules}


def test_template_sections(template: Policy) -> None:
    text = default_template()
    for heading in ("# 1. snapd: defaultTemplate", "# 2. snapd: barePrivDropSyscalls",
                    "# 3. snapd: bindSyscallWorkaround", "# 4. usersnap: "):
        assert heading in text
    assert not template.complain and not template.unrestricted
    assert len(template.allow_rules) == 430
    assert len(template.deny_rules) == 31


def test_template_leaves_out_what_snapd_leaves_out(template: Policy) -> None:
    assert not NEVER_ALLOWED & allowed(template)


def test_template_allows_the_basics(template: Policy) -> None:
    assert {"read", "write", "openat", "execve", "clone", "clone3", "ioctl", "futex", "mmap",
            "seccomp", "landlock_restrict_self", "bind", "setuid", "setresgid"} <= allowed(template)
    families = {rule.args[0].token for rule in template.allow_rules if rule.syscall == "socket"}
    assert len(families) == 40
    assert "AF_UNIX" in families and "AF_NETLINK" not in families and "AF_CONN" not in families


def test_template_denials(template: Policy) -> None:
    denials = {rule.render(): rule.deny_errno for rule in template.deny_rules}
    for text in ("~ioctl - TIOCSTI", "~ioctl - TIOCLINUX", "~ioctl - 4294967295|TIOCSTI",
                 "~ioctl - 4294967295|TIOCLINUX", "~openat2", "~chmod - |S_ISUID",
                 "~openat - - |O_CREAT |S_ISGID", "~pipe2 - |O_NOTIFICATION_PIPE",
                 "~clone |CLONE_NEWUSER", "~unshare |CLONE_NEWUSER"):
        assert denials.pop(text) == errno.EACCES, text
    assert denials.pop("~clone3:ENOSYS") == errno.ENOSYS


def test_known_interfaces() -> None:
    assert known_interfaces() == tuple(sorted(ISSUE_4_INTERFACES))


@pytest.mark.parametrize("interface", ISSUE_4_INTERFACES)
def test_snippets_parse_and_never_open_the_dangerous_calls(interface: str) -> None:
    text = snippet_for(interface)
    assert text.startswith(f"# The seccomp snippet of the {interface} interface")
    policy = parse_policy(text, interface)
    assert not policy.deny_rules and not policy.complain and not policy.unrestricted
    assert not NEVER_ALLOWED & allowed(policy)


@pytest.mark.parametrize(("interface", "rules"), [
    ("network", {"bind", "socket AF_NETLINK - NETLINK_ROUTE", "socket AF_CONN"}),
    ("network-bind", {"accept", "accept4", "bind", "listen",
                      "socket AF_NETLINK - NETLINK_ROUTE"}),
    ("x11", {"socket AF_NETLINK - NETLINK_KOBJECT_UEVENT", "bind"}),
    ("audio-playback", {"shmctl"}),
    ("pulseaudio", {"shmctl"}),
    ("mount-observe", {"quotactl Q_GETQUOTA", "quotactl Q_GETINFO", "quotactl Q_GETFMT",
                       "quotactl Q_XGETQUOTA", "quotactl Q_XGETQSTAT", "listmount",
                       "statmount"}),
    ("process-control", {"nice", "setpriority", "sched_setaffinity", "sched_setattr",
                         "sched_setparam", "sched_setscheduler"}),
    ("system-observe", {"lsm_get_self_attr"}),
    ("hardware-observe", {"iopl", "riscv_hwprobe", "socket AF_NETLINK - NETLINK_GENERIC",
                          "socket AF_NETLINK - NETLINK_KOBJECT_UEVENT", "bind"}),
    ("home", set()), ("wayland", set()), ("opengl", set()), ("content", set()),
])
def test_snippet_rules(interface: str, rules: set[str]) -> None:
    assert {rule.render() for rule in parse_policy(snippet_for(interface)).rules} == rules


@pytest.mark.parametrize("name", ["no-such-interface", "../default", "Network", "", "a/b"])
def test_unknown_snippet(name: str) -> None:
    with pytest.raises(UnknownSnippetError) as info:
        snippet_for(name)
    assert str(info.value) == f'usersnap has no seccomp snippet for interface "{name}"'


def test_everything_composes() -> None:
    policy = compose(default_template(), {name: snippet_for(name) for name in known_interfaces()})
    assert len(policy.rules) == 492


def test_connected_snippets_skip_interfaces_without_a_seccomp_side() -> None:
    assert connected_snippets(["home", "no-such-interface"]) == {"home": snippet_for("home")}


def test_render_profile_heads_each_source() -> None:
    text = render_profile(["network-bind", "no-such-interface"], confinement="strict")
    heads = [line for line in text.splitlines() if line.startswith("# source:")]
    assert heads[0].startswith("# source: default template (") and heads[0].endswith(
        "default.src)")
    assert heads[1].startswith('# source: interface "network-bind" (')
    assert heads[2] == '# source: interface "no-such-interface" (no seccomp snippet)'
    assert "@complain" not in text.splitlines()
    # what is printed is what is compiled: the same policy as compose()
    def rules(policy: Policy) -> list[tuple[object, ...]]:
        return [(r.syscall, r.args, r.deny_errno) for r in policy.rules]

    assert rules(parse_policy(text)) == rules(
        compose(default_template(), connected_snippets(["network-bind"])))


def test_render_profile_devmode_and_classic() -> None:
    assert render_profile([], confinement="devmode").splitlines()[1] == "@complain"
    assert render_profile(["home"], confinement="classic") == (
        "# classic confinement: no seccomp filter is loaded (@unrestricted)\n")
