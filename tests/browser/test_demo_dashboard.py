"""The demo in a real browser: log in, open the dashboard, watch occupancy turn on.

A real Home Assistant (``python -m homeassistant``, as ``make demo`` starts it) runs in a
temporary configuration written by ``scripts/demo_config.py`` and ``scripts/demo_users.py``
on a free port of 127.0.0.1. Debian's Chromium, driven headless by Selenium through Debian's
ChromeDriver, logs in through the real login page as the demo user, opens the demo dashboard
and waits until the Occupancy tile shows the simulated visitor ("demo_day" scenario: they
walk in 8 s after the room starts). The access token the frontend stored confirms the state
through the REST API, and the history card draws its timeline chart with the turn on in it.
A screenshot of the dashboard is saved to ``artifacts/dashboard.png``.

This test does not use the ``hass`` fixture: Home Assistant runs in its own process, so
the autouse fixtures of ``tests/conftest.py`` that need ``hass`` are replaced here by
no-ops, and sockets are allowed to localhost only (pytest-socket, which the Home Assistant
test plugin configures for 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_socket

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
USERNAME = "demo"
PASSWORD = "echosense-demo"  # the demo's documented password (README.md)
OCCUPANCY_ENTITY = "binary_sensor.simulated_room_demo_occupancy"
MOTION_ENTITY = "binary_sensor.simulated_room_demo_motion"
OCCUPANCY_TILE_NAME = "Occupancy"
OCCUPIED_TEXT = "Detected"  # the occupancy device class shows "Detected" / "Clear"
CLEAR_TEXT = "Clear"

# Bounds, in seconds.
HA_START_TIMEOUT_S = 150.0  # first start of a fresh configuration on 2 busy cores
PAGE_TIMEOUT_S = 60.0  # login page, dashboard and tile rendering
OCCUPANCY_TIMEOUT_S = 180.0  # the visitor walks in 8 s after the room starts; detection takes seconds
HA_STOP_TIMEOUT_S = 30.0
HISTORY_CARD_TIMEOUT_S = 30.0  # the chart follows the recorder's live history stream
POLL_S = 0.5

try:
    import selenium  # noqa: F401

    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver); "
        "scripts/setup.sh installs them",
    ),
    pytest.mark.skipif(not HAVE_SELENIUM, reason="needs selenium (requirements/test.txt; scripts/setup.sh)"),
]

# Collects every element matching a selector, through open shadow roots.
DEEP_ALL_JS = """
const selector = arguments[0];
const found = [];
const walk = (root) => {
  root.querySelectorAll(selector).forEach((e) => found.push(e));
  root.querySelectorAll('*').forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
};
walk(document);
return found;
"""

# The visible text of every card of a type (arguments[0], e.g. hui-tile-card), read through shadow roots.
CARD_TEXTS_JS = """
const cards = [];
const walk = (root) => {
  root.querySelectorAll(arguments[0]).forEach((e) => cards.push(e));
  root.querySelectorAll('*').forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
};
walk(document);
const text = (node) => {
  if (node.nodeType === Node.TEXT_NODE) return node.textContent;
  if (node.nodeType === Node.ELEMENT_NODE && ['STYLE', 'SCRIPT'].includes(node.tagName)) return '';
  let t = '';
  if (node.shadowRoot) t += text(node.shadowRoot);
  node.childNodes.forEach((c) => { t += ' ' + text(c); });
  return t;
};
return cards.map((c) => text(c).replace(/\\s+/g, ' ').trim());
"""

# The history card's timeline charts: per chart, whether its canvas is drawn and, per row, the
# entity and its states in order (the chart's own data, from the recorder's history stream).
HISTORY_CHARTS_JS = """
const deep = (root, selector, found = []) => {
  root.querySelectorAll(selector).forEach((e) => found.push(e));
  root.querySelectorAll('*').forEach((e) => { if (e.shadowRoot) deep(e.shadowRoot, selector, found); });
  return found;
};
return deep(document, 'hui-history-graph-card').flatMap((card) =>
  deep(card.shadowRoot, 'state-history-chart-timeline').map((chart) => ({
    drawn: deep(chart.shadowRoot, 'canvas').length > 0,
    rows: (chart.data || []).map((row) => ({entity_id: row.entity_id, states: row.data.map((s) => s.state)})),
  }))
);
"""


# The suite's conftest sets these up with the ``hass`` fixture; this test runs Home Assistant
# in its own process instead, so they are replaced by no-ops here.
@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No in-process Home Assistant: nothing to enable."""


@pytest.fixture(autouse=True)
def private_config_dir() -> None:
    """The configuration is the temporary folder of :func:`home_assistant`."""


@pytest.fixture(autouse=True)
def ha_core() -> None:
    """No in-process Home Assistant."""


@pytest.fixture
def localhost_sockets() -> Generator[None]:
    """Allow sockets to this machine only (the plugin allows connections to 127.0.0.1 and no socket creation)."""
    pytest_socket.socket_allow_hosts(["127.0.0.1", "localhost"], allow_unix_socket=True)
    pytest_socket.enable_socket()
    yield
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    pytest_socket.disable_socket(allow_unix_socket=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _write_config(config_dir: Path, port: int) -> None:
    """The demo's configuration (same scripts as ``make demo``), served on 127.0.0.1:port."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from demo_config import CONFIGURATION_YAML
    finally:
        sys.path.remove(str(REPO / "scripts"))
    config_dir.mkdir(parents=True)
    # demo_config.py keeps an existing configuration.yaml: write the demo's, plus the port.
    (config_dir / "configuration.yaml").write_text(
        CONFIGURATION_YAML + f"\nhttp:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
    )
    (config_dir / "custom_components").mkdir()
    (config_dir / "custom_components" / "echo_sense").symlink_to(REPO / "custom_components" / "echo_sense")
    for script, args in (("demo_config.py", []), ("demo_users.py", [USERNAME, PASSWORD])):
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / script), str(config_dir), *args],
            check=True,
            cwd=REPO,
            timeout=120,
        )


@pytest.fixture
def home_assistant(localhost_sockets: None) -> Generator[str]:
    """A real Home Assistant with the demo's configuration; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="echo_sense_browser_") as tmp:
        config_dir = Path(tmp) / "config"
        port = _free_port()
        _write_config(config_dir, port)
        log_path = Path(tmp) / "hass.out"
        base_url = f"http://127.0.0.1:{port}"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "homeassistant", "-c", str(config_dir), "--skip-pip"],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                deadline = time.monotonic() + HA_START_TIMEOUT_S
                while _http_status(f"{base_url}/manifest.json") != 200:
                    if process.poll() is not None:
                        pytest.fail(f"Home Assistant exited with {process.returncode}:\n{_tail(log_path)}")
                    if time.monotonic() > deadline:
                        pytest.fail(f"Home Assistant did not serve {base_url} in {HA_START_TIMEOUT_S} s")
                    time.sleep(POLL_S)
                yield base_url
            except BaseException:
                print(f"Home Assistant's output:\n{_tail(log_path)}")
                print(f"home-assistant.log:\n{_tail(config_dir / 'home-assistant.log')}")
                raise
            finally:
                process.terminate()
                try:
                    process.wait(timeout=HA_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=HA_STOP_TIMEOUT_S)


@pytest.fixture
def browser() -> Generator[Any]:
    """Debian's Chromium, headless, in a fresh profile, driven by Debian's ChromeDriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="echo_sense_chromium_") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1000",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console, for failures
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def _wait_for(description: str, timeout_s: float, check: Any) -> Any:
    """Poll ``check()`` until it returns something truthy; fail naming ``description`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {description}")
        time.sleep(POLL_S)


def _deep(driver: Any, selector: str) -> list[Any]:
    return list(driver.execute_script(DEEP_ALL_JS, selector))


def _log_in(driver: Any) -> None:
    """Fill in the real login page (its fields may sit in shadow roots) and submit it."""
    from selenium.webdriver.common.keys import Keys

    def fields() -> tuple[Any, Any] | None:
        if "/auth/authorize" not in driver.current_url:
            return None
        user = _deep(driver, "input[name='username']")
        password = _deep(driver, "input[name='password']")
        return (user[0], password[0]) if user and password else None

    user, password = _wait_for("the login form", PAGE_TIMEOUT_S, fields)
    user.send_keys(USERNAME)
    password.send_keys(PASSWORD)
    password.send_keys(Keys.ENTER)
    _wait_for("the login to finish", PAGE_TIMEOUT_S, lambda: "/auth/authorize" not in driver.current_url)


def _api_get(url: str, token: str) -> Any:
    request = urllib.request.Request(url)
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _history(base_url: str, token: str) -> list[str] | None:
    """The occupancy sensor's recorded states since the start, in order (None until "on" is recorded)."""
    since = urllib.parse.quote((datetime.now(UTC) - timedelta(hours=1)).isoformat())
    url = (
        f"{base_url}/api/history/period/{since}?filter_entity_id={OCCUPANCY_ENTITY}"
        "&minimal_response&no_attributes&significant_changes_only=0"
    )
    states = [s["state"] for series in _api_get(url, token) for s in series]
    return states if "on" in states else None


def _console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _history_chart(driver: Any) -> list[dict[str, Any]] | None:
    """The history card's drawn timeline charts, once one holds the occupancy sensor's turn on."""
    charts = driver.execute_script(HISTORY_CHARTS_JS)
    for chart in charts:
        states = [row["states"] for row in chart["rows"] if row["entity_id"] == OCCUPANCY_ENTITY]
        if chart["drawn"] and states and "on" in states[0]:
            return list(charts)
    return None


def _occupancy_tile_text(driver: Any) -> str | None:
    texts = driver.execute_script(CARD_TEXTS_JS, "hui-tile-card")
    return next((t for t in texts if t.startswith(OCCUPANCY_TILE_NAME)), None)


def test_dashboard_shows_occupancy_turn_on(home_assistant: str, browser: Any) -> None:
    """Log in as the demo user, open the dashboard and see the simulated visitor detected."""
    started = time.monotonic()
    browser.get(f"{home_assistant}/lovelace/hub")
    _log_in(browser)
    first_text = _wait_for("the Occupancy tile", PAGE_TIMEOUT_S, lambda: _occupancy_tile_text(browser))
    print(f"Occupancy tile when the dashboard opened ({time.monotonic() - started:.0f} s): {first_text!r}")

    seen: list[str] = []

    def occupied() -> str | None:
        text = _occupancy_tile_text(browser) or ""
        if not seen or seen[-1] != text:
            seen.append(text)
        return text if OCCUPIED_TEXT in text else None

    tile_text = _wait_for(f"the Occupancy tile to show {OCCUPIED_TEXT!r}", OCCUPANCY_TIMEOUT_S, occupied)
    print(f"Occupancy tile texts seen, in order: {seen}")
    assert tile_text.startswith(OCCUPANCY_TILE_NAME)
    assert OCCUPIED_TEXT in tile_text

    # The frontend's own access token (from the login above) confirms the state through the REST API.
    token = json.loads(browser.execute_script("return window.localStorage.getItem('hassTokens');"))["access_token"]
    state = _api_get(f"{home_assistant}/api/states/{OCCUPANCY_ENTITY}", token)
    print(f"REST API: {OCCUPANCY_ENTITY} = {state['state']} {state['attributes']}")
    assert state["state"] == "on"
    assert state["attributes"].get("device_class") == "occupancy"

    # The recorder's history shows the turn on itself, whatever the page showed first.
    history = _wait_for(
        "the recorder's history to hold the turn on", PAGE_TIMEOUT_S, lambda: _history(home_assistant, token)
    )
    print(f"recorded occupancy states, in order: {history}")
    assert "off" in history
    assert history.index("off") < history.index("on")
    print(f"the page showed {CLEAR_TEXT!r} before {OCCUPIED_TEXT!r}: {any(CLEAR_TEXT in t for t in seen)}")

    # The history card draws the same turn on in its timeline chart (it stays on "Loading state
    # history" if its start fails, e.g. the sensor integration not yet set up when the page opened).
    try:
        charts = _wait_for(
            "the history card's chart to show the turn on", HISTORY_CARD_TIMEOUT_S, lambda: _history_chart(browser)
        )
    except BaseException:
        print(f"history card: {browser.execute_script(CARD_TEXTS_JS, 'hui-history-graph-card')}")
        print(f"history charts: {browser.execute_script(HISTORY_CHARTS_JS)}")
        print(f"browser console errors: {_console_errors(browser)}")
        raise
    print(f"history card charts: {charts}")
    rows = {row["entity_id"] for chart in charts for row in chart["rows"]}
    assert rows == {OCCUPANCY_ENTITY, MOTION_ENTITY}
    assert "Loading" not in " ".join(browser.execute_script(CARD_TEXTS_JS, "hui-history-graph-card"))
    time.sleep(1.0)  # let the tile's "on" colour transition finish before the picture
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot of the dashboard: {screenshot} ({time.monotonic() - started:.0f} s after opening it)")
