"""Create the demo's user and mark onboarding done, through Home Assistant's own auth code.

Usage: .venv/bin/python scripts/demo_users.py CONFIG_DIR USERNAME PASSWORD
Does nothing when the configuration already has users.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from homeassistant.auth import auth_manager_from_config
from homeassistant.auth.const import GROUP_ID_ADMIN
from homeassistant.auth.providers.homeassistant import HassAuthProvider
from homeassistant.components.onboarding import STORAGE_KEY as ONBOARDING_KEY
from homeassistant.components.onboarding import STORAGE_VERSION as ONBOARDING_VERSION
from homeassistant.components.onboarding.const import STEPS
from homeassistant.core import HomeAssistant


async def create_demo_user(config_dir: Path, username: str, password: str) -> None:
    storage = config_dir / ".storage"
    if (storage / "auth").exists():
        return
    hass = HomeAssistant(str(config_dir))
    hass.auth = await auth_manager_from_config(hass, [{"type": "homeassistant"}], [])
    provider = hass.auth.auth_providers[0]
    assert isinstance(provider, HassAuthProvider)
    await provider.async_initialize()
    assert provider.data is not None
    provider.data.add_auth(username, password)
    await provider.data.async_save()
    credentials = await provider.async_get_or_create_credentials({"username": username})
    user = await hass.auth.async_create_user("Demo", group_ids=[GROUP_ID_ADMIN], local_only=False)
    await hass.auth.async_link_user(user, credentials)
    await hass.async_stop(force=True)
    onboarding = {"version": ONBOARDING_VERSION, "minor_version": 1, "key": ONBOARDING_KEY, "data": {"done": STEPS}}
    (storage / ONBOARDING_KEY).write_text(json.dumps(onboarding, indent=2))


if __name__ == "__main__":
    asyncio.run(create_demo_user(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
