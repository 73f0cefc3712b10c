from __future__ import annotations

import pytest

from usersnap.daemon.hooks import Context
from usersnap.daemon.snapctl import SnapctlError, Unsuccessful, run_snapctl
from usersnap.meta.model import App, Plug, Slot, SnapInfo, frozen_map
from usersnap.state.config import Transaction

INFO = SnapInfo(
    name="hello", version="1.0",
    apps=frozen_map({
        "hello": App("hello", command="bin/hello"),
        "svc": App("svc", command="bin/svc", daemon="simple"),
        "timer": App("timer", command="bin/t", daemon="oneshot", timer="00:00"),
        "user": App("user", command="bin/u", daemon="simple", daemon_scope="user"),
    }),
    plugs=frozen_map({"home": Plug("home", "home")}),
    slots=frozen_map({"audio": Slot("audio", "pulseaudio")}),
)


class Host:
    def __init__(self, config: dict[str, object] | None = None) -> None:
        self.config = config if config is not None else {"a": {"b": 1}, "s": "text"}
        self.connections: set[str] = set()
        self.active = {"svc"}
        self.controlled: list[tuple[str, list[str], dict[str, bool]]] = []

    def snap_info(self, snap: str, revision: str) -> SnapInfo:
        return INFO

    def connected(self, snap: str, name: str) -> bool:
        return name in self.connections

    def service_status(self, snap: str, app: str) -> tuple[bool, bool]:
        return app in self.active, app in self.active

    def control_services(self, action: str, names: list[str], flags: dict[str, bool]) -> None:
        self.controlled.append((action, names, flags))

    def config_transaction(self, context: Context) -> Transaction:
        if context.config is None:
            context.config = Transaction(context.snap, self.config)
        return context.config


def ctx(hook: str = "configure") -> Context:
    return Context("cookie", "hello", "x1", hook)


def run(*argv: str, context: Context | None = None, host: Host | None = None) -> str:
    stdout, stderr = run_snapctl(ctx() if context is None else context, list(argv),
                                 host or Host())
    assert stderr == ""
    return stdout


def test_get_prints_like_snapd() -> None:
    assert run("get", "s") == "text\n"
    assert run("get", "a.b") == "1\n"
    assert run("get", "a") == '{\n\t"b": 1\n}\n'
    assert run("get", "s", "a.b") == '{\n\t"a.b": 1,\n\t"s": "text"\n}\n'
    assert run("get", "-d", "s") == '{\n\t"s": "text"\n}\n'
    assert run("get", "-t", "s") == '"text"\n'
    assert run("get", "missing") == "\n"
    assert run("get", "-t", "missing") == "null\n"
    assert run("get", "--", "s") == "text\n"


@pytest.mark.parametrize(("argv", "message"), [
    (["get"], "get which option?"),
    (["get", "-d", "-t", "s"], "cannot use -d and -t together"),
    (["get", ":home"], "get which attribute?"),
    (["get", ":", "x"], "plug or slot name not provided"),
    (["get", "other:home", "x"], '"snapctl get other:home" not supported, use "snapctl get '
                                 ':home" instead'),
    (["get", ":home", "x"], "interface attributes can only be read during the execution of "
                            "interface hooks"),
    (["get", "--plug", "x"], "cannot use --plug or --slot without <snap>:<plug|slot> argument"),
    (["get", "--nope"], "unknown flag `nope'"),
    (["get", "-x"], "unknown flag `x'"),
    (["set"], "set which option?"),
    (["set", "-t", "-s", "a=1"], "cannot use -t and -s together"),
    (["set", "novalue"], 'invalid parameter: "novalue" (want key=value)'),
    (["set", "Bad=1"], 'invalid option name: "Bad"'),
    (["set", "-t", "a=notjson"], "failed to parse JSON: Expecting value: line 1 column 1 "
                                 "(char 0)"),
    (["set", ":home", "a=1"], "interface attributes can only be set during the execution of "
                              "prepare hooks"),
    (["unset"], "unset which option?"),
    (["frob"], "Unknown command `frob'. Please specify one command of: get, is-connected, "
               "restart, services, set, set-health, start, stop, unset"),
    (["--verbose"], "unknown flag `verbose'"),
    (["is-connected"], "the required argument `<plug|slot>` was not provided"),
    (["is-connected", "nope"], 'snap "hello" has no plug or slot named "nope"'),
    (["is-connected", "--pid", "1", "home"], "cannot use --pid check with hello:home"),
    (["is-connected", "--pid"], "expected argument for flag `--pid'"),
    (["services", "hello.hello"], 'unknown service: "hello.hello"'),
    (["services", "other.svc"], 'unknown service: "other.svc"'),
    (["start", "other.svc"], 'unknown service: "other.svc"'),
    (["set-health"], "the required argument `<status>` was not provided"),
    (["set-health", "okay", "all good"], 'when status is "okay", message and code must be '
                                         "empty"),
    (["set-health", "fine"], 'invalid status "fine", must be one of "unknown", "okay", '
                             '"waiting", "blocked", "error"'),
    (["set-health", "unknown"], 'status cannot be manually set to "unknown"'),
    (["set-health", "error"], 'when status is not "okay", message is required'),
    (["set-health", "error", "short"], "message must be at least 7 characters long (got 5)"),
    (["set-health", "error", "long enough", "--code=X12"],
     'invalid code "X12" (code must start with lowercase ASCII letters, and contain only ASCII '
     "letters and numbers, optionally separated by single dashes)"),
    (["set-health", "error", "long enough", "--code", "ab"],
     "code must have between 3 and 30 characters, got 2"),
])
def test_errors_are_snapds(argv: list[str], message: str) -> None:
    with pytest.raises(SnapctlError) as err:
        run(*argv)
    assert err.value.message == message


def test_set_and_unset_change_only_the_contexts_transaction() -> None:
    host, context = Host(), ctx()
    run("set", "a.c=[1,\"x\"]", "n=007", "-s", "t=true", context=context, host=host)
    run("set", "j=007", "k={\"z\":null}", "s!", context=context, host=host)
    run("unset", "a.b", context=context, host=host)
    assert context.config is not None
    assert context.config.doc == {"a": {"c": '[1,"x"]'}, "n": "007", "t": "true", "j": "007",
                                  "k": {}}
    assert run("get", "j", context=context, host=host) == "007\n"
    assert host.config == {"a": {"b": 1}, "s": "text"}  # nothing committed by snapctl itself


def test_is_connected_is_a_silent_exit_code() -> None:
    with pytest.raises(Unsuccessful) as err:
        run("is-connected", "home")
    assert err.value.exit_code == 1
    with pytest.raises(Unsuccessful) as err:
        run("is-connected", "--apparmor-label", "snap.x.y", "audio")
    assert err.value.exit_code == 11
    host = Host()
    host.connections.add("home")
    assert run("is-connected", "home", host=host) == ""


def test_services_table() -> None:
    assert run("services").splitlines() == [
        "Service      Startup   Current   Notes",
        "hello.svc    enabled   active    -",
        "hello.timer  disabled  inactive  timer-activated",
        "hello.user   disabled  -         user"]
    assert run("services", "hello.svc").splitlines()[1].startswith("hello.svc")
    assert run("services", "hello").count("\n") == 4


def test_service_control_goes_to_the_supervisor() -> None:
    host = Host()
    assert run("restart", "--reload", "hello.svc", host=host) == ""
    assert host.controlled == [("restart", ["hello.svc"],
                                {"enable": False, "disable": False, "reload": True})]


def test_set_health_is_kept_in_the_context() -> None:
    context = ctx("check-health")
    long = "x" * 80
    run("set-health", "waiting", long, "--code=net-down", context=context)
    assert context.health is not None
    assert {k: context.health[k] for k in ("status", "message", "code", "revision")} == {
        "status": "waiting", "message": "x" * 69 + "…", "code": "net-down", "revision": "x1"}
    run("set-health", "okay", context=context)
    assert context.health["status"] == "okay" and "message" not in context.health


def test_outside_a_snap_only_help_works() -> None:
    with pytest.raises(SnapctlError) as err:
        run_snapctl(None, ["get", "a"], Host())
    assert err.value.message == ('cannot invoke snapctl operation commands (here "get") from '
                                 "outside of a snap")
    out, _ = run_snapctl(None, ["set", "--help"], Host())
    assert out.startswith("Usage:\n  snapctl [OPTIONS] set [set-OPTIONS]")
    assert "[set command options]" in out
    out, _ = run_snapctl(None, ["-h"], Host())
    assert "Available commands:" in out and "  set-health" in out
    with pytest.raises(SnapctlError, match="snapctl cannot run without args"):
        run_snapctl(None, [], Host())
