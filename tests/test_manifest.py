"""What hassfest and the HACS action would check, checked here (they cannot run offline)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration

from custom_components.echo_sense.const import DOMAIN

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "custom_components" / DOMAIN
QUALITY_STATUSES = {"done", "todo", "exempt"}


async def test_manifest_loads_as_a_home_assistant_integration(hass: HomeAssistant) -> None:
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.domain == DOMAIN
    assert integration.config_flow is True
    assert integration.manifest["iot_class"] == "local_push"
    assert integration.manifest["integration_type"] == "device"
    assert str(integration.version) == json.loads((COMPONENT / "manifest.json").read_text())["version"]
    for key in ("codeowners", "documentation", "issue_tracker", "requirements"):
        assert integration.manifest[key], key


def test_requirement_pins_the_library_version() -> None:
    manifest = json.loads((COMPONENT / "manifest.json").read_text())
    library = tomllib.loads((ROOT / "dsp" / "pyproject.toml").read_text())["project"]
    assert f"echo-sense-dsp=={library['version']}" in manifest["requirements"]


def test_hacs_json_schema() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert set(hacs) <= {
        "name",
        "homeassistant",
        "render_readme",
        "content_in_root",
        "zip_release",
        "country",
        "hide_default_branch",
        "persistent_directory",
        "filename",
        "hacs",
    }
    assert isinstance(hacs["name"], str) and hacs["name"]
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", hacs["homeassistant"])
    assert hacs["render_readme"] is True


def test_translations_match_strings() -> None:
    strings = json.loads((COMPONENT / "strings.json").read_text())
    english = json.loads((COMPONENT / "translations" / "en.json").read_text())
    assert strings == english


def test_every_quality_scale_rule_has_a_status() -> None:
    rules = yaml.safe_load((COMPONENT / "quality_scale.yaml").read_text())["rules"]
    assert len(rules) >= 50
    for name, rule in rules.items():
        status = rule if isinstance(rule, str) else rule["status"]
        assert status in QUALITY_STATUSES, name
        if status == "exempt":
            assert isinstance(rule, dict) and rule.get("comment"), f"{name} is exempt without a reason"


def test_brand_images_follow_the_brands_rules() -> None:
    """Home Assistant (2026.3+) and HACS read custom_components/echo_sense/brand/: square icons of 256 and
    512 px, logos whose shorter side is 128-256 (256-512 for @2x) px, PNG with transparency, trimmed."""
    from PIL import Image

    brand = COMPONENT / "brand"
    for name, (low, high) in {"icon.png": (256, 256), "icon@2x.png": (512, 512), "logo.png": (128, 256)}.items():
        image = Image.open(brand / name)
        assert image.format == "PNG" and image.mode == "RGBA", name
        assert low <= min(image.size) <= high, (name, image.size)
        if name.startswith("icon"):
            assert image.size[0] == image.size[1], name
        else:
            assert image.getbbox() == (0, 0, *image.size), f"{name} is not trimmed"
    logo_2x = Image.open(brand / "logo@2x.png")
    assert 256 <= min(logo_2x.size) <= 512
