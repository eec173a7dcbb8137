#!/usr/bin/env bash
# Start a real Home Assistant on http://localhost:8123 with echo_sense on the simulated hub.
# The configuration lives in .demo/config (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=.demo/config
mkdir -p "$CONFIG/custom_components"
ln -sfn "$PWD/custom_components/echo_sense" "$CONFIG/custom_components/echo_sense"
.venv/bin/python scripts/demo_config.py "$CONFIG"
.venv/bin/python scripts/demo_users.py "$CONFIG" demo echosense-demo
echo "demo: Home Assistant starts on http://localhost:8123 (first start takes a minute)"
echo "demo: log in as 'demo' with the password 'echosense-demo'"
exec .venv/bin/hass -c "$CONFIG" --skip-pip "$@"
