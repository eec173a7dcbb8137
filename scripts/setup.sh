#!/usr/bin/env bash
# One-time (idempotent) set-up for a fresh machine: system audio packages, a Python
# >= 3.13.2, and .venv with Home Assistant, the test stack and the library (editable).
# Usage: scripts/setup.sh            (called by `make demo` and `make test`)
set -euo pipefail
cd "$(dirname "$0")/.."

HA_VERSION=2026.2.3
APT_PACKAGES=(libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins chromium chromium-driver)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=.venv/.echo_sense_setup
want="$HA_VERSION $(cat requirements/test.txt dsp/pyproject.toml | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

PY=$(scripts/python.sh)
echo "setup: using $PY ($("$PY" --version))"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip uv
cons_dir=$(mktemp -d)
trap 'rm -rf "$cons_dir"' EXIT
.venv/bin/python -m pip download -q --no-deps -d "$cons_dir" "homeassistant==$HA_VERSION"
.venv/bin/python - "$cons_dir" <<'PY'
import sys, zipfile, pathlib
d = pathlib.Path(sys.argv[1])
wheel = next(d.glob("homeassistant-*.whl"))
with zipfile.ZipFile(wheel) as z:
    text = z.read("homeassistant/package_constraints.txt").decode()
(d / "constraints.txt").write_text(text)
PY
echo "setup: installing Home Assistant $HA_VERSION, the test stack and echo-sense-dsp (a few minutes)"
VIRTUAL_ENV=$PWD/.venv .venv/bin/uv pip install -q -c "$cons_dir/constraints.txt" -r requirements/test.txt -e ./dsp
echo "$want" > "$stamp"
