"""The intent package imports neither Home Assistant nor torch."""

import subprocess
import sys

CODE = """
import sys
sys.modules["torch"] = None
sys.modules["homeassistant"] = None
import importlib, pkgutil
import echo_sense_dsp.intent as pkg
for mod in pkgutil.iter_modules(pkg.__path__):
    importlib.import_module(f"echo_sense_dsp.intent.{mod.name}")
print("ok")
"""


def test_every_intent_module_imports_without_homeassistant_or_torch() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=False, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
