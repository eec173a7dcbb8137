#!/usr/bin/env bash
# Linters, type checks and every test, against a PulseAudio null sink at 96 kHz so the
# sounddevice backend meets a real audio stream. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy dsp/echo_sense_dsp custom_components/echo_sense

# A private, headless PulseAudio with a 96 kHz stereo null sink (see ENVIRONMENT.md).
runtime=$(mktemp -d)
chmod 700 "$runtime"
export XDG_RUNTIME_DIR="$runtime" PULSE_RUNTIME_PATH="$runtime/pulse"
stop_pulse() { pulseaudio --kill >/dev/null 2>&1 || true; rm -rf "$runtime"; }
trap stop_pulse EXIT
if command -v pulseaudio >/dev/null && pulseaudio -D -n --exit-idle-time=-1 \
    --load=module-native-protocol-unix \
    --load="module-null-sink sink_name=echo_null rate=96000 channels=2" >/dev/null 2>&1; then
  pactl set-default-sink echo_null && pactl set-default-source echo_null.monitor
  export ECHO_SENSE_PULSE=1
else
  echo "test: PulseAudio could not start; tests that need a real audio stream will be skipped"
fi

echo "== pytest"
pytest "$@"
