#!/usr/bin/env bash
# Prints the path of a Python >= 3.13.2 interpreter, building 3.13.5 into a cache
# outside the clone when none is on PATH (see ../shared/design/ENVIRONMENT.md).
# The cache is rebuilt by this same script whenever it is missing.
set -euo pipefail

CACHE="${ECHO_SENSE_CACHE:-$HOME/.cache/echo_sense}"
PREFIX="$CACHE/python-3.13.5"
TARBALL_SHA256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640

ok() {  # ok PYTHON -> true if it is >= 3.13.2 and has venv
  "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 13, 2) else 1)' 2>/dev/null
}

for cand in "${ECHO_SENSE_PYTHON:-}" python3.14 python3.13 python3; do
  [ -n "$cand" ] || continue
  p=$(command -v "$cand" 2>/dev/null) || continue
  if ok "$p"; then echo "$p"; exit 0; fi
done
if [ -x "$PREFIX/bin/python3" ] && ok "$PREFIX/bin/python3"; then
  echo "$PREFIX/bin/python3"; exit 0
fi

echo "echo_sense: no Python >= 3.13.2 found; building 3.13.5 into $PREFIX (6-15 min)" >&2
W="$CACHE/build"
mkdir -p "$W/apt/parts" "$W/apt/lists/partial" "$W/apt/cache/archives/partial" "$W/src" "$W/pycache"
mirror=$(grep -rhE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
         | grep -oE 'https?://[^ ]+/debian/?( |$)' | tr -d ' ' | head -n 1 || true)
[ -n "$mirror" ] || { echo "echo_sense: no Debian mirror configured in /etc/apt" >&2; exit 1; }
cat > "$W/apt/parts/trixie.sources" <<SRC
Types: deb-src
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
A=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$W/apt/parts"
   -o "Dir::State::Lists=$W/apt/lists" -o "Dir::Cache=$W/apt/cache")
apt-get "${A[@]}" update >&2
(cd "$W/src" && apt-get "${A[@]}" source --download-only python3.13 >&2)
orig=$(ls "$W"/src/python3.13_3.13.5*.orig.tar.xz | head -n 1)
echo "$TARBALL_SHA256  $orig" | sha256sum -c - >&2
cp "$orig" "$W/pycache/Python-3.13.5.tar.xz"
PB="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/plugins/python-build/bin/python-build"
[ -x "$PB" ] || { echo "echo_sense: pyenv's python-build not found at $PB" >&2; exit 1; }
PYTHON_BUILD_CACHE_PATH="$W/pycache" PYTHON_BUILD_SKIP_MIRROR=1 MAKE_OPTS=-j2 \
  "$PB" 3.13.5 "$PREFIX" >&2
echo "$PREFIX/bin/python3"
