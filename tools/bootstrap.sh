#!/usr/bin/env bash
# Prepare a Debian/Ubuntu machine for usersnap: system packages (installed with apt-get when we
# are root; otherwise the exact apt-get line is printed and we stop), then .venv/ in the repo
# root with usersnap installed editable.  Idempotent and quick when nothing changed.
#   tools/bootstrap.sh            packages + venv
#   tools/bootstrap.sh --system   packages only (CI runs this as root, then tests as a user)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(bubblewrap fuse3 squashfs-tools squashfuse pkg-config libseccomp2
          liblzo2-dev python3-venv python3-dev gcc libc6-dev)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]]; then
        echo "bootstrap: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "usersnap needs these system packages; install them and run this again:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
[[ ${1:-} == --system ]] && exit 0

# Debian's interpreter, not a version manager's shim: it is readable by every user and adds no
# start-up cost to `usersnap run`.
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=$(command -v python3)
stamp=.venv/.usersnap-stamp
# editable_mode=compat: a path in a .pth instead of setuptools' import finder, which costs
# every start of usersnap 15-20 ms (measured: `python -c pass` 30-40 -> 10-20 ms).
EDITABLE=(--config-settings editable_mode=compat)
want=$( (cat pyproject.toml; echo "${EDITABLE[*]}") | sha256sum | cut -c1-16)
if [[ ! -x .venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    echo "bootstrap: creating .venv and installing usersnap (editable)" >&2
    "$PYTHON" -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check "${EDITABLE[@]}" -e '.[test]'
    echo "$want" > "$stamp"
fi
# An editable install is not byte-compiled, and PYTHONDONTWRITEBYTECODE (set in some CI
# images) would make every `usersnap run` compile what it imports.
.venv/bin/python -m compileall -q usersnap >/dev/null
