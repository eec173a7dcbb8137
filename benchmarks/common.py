"""What every benchmark prints above its tables: the machine, the versions and the commit."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_commit() -> str:
    """The short hash of the checked-out commit, or "unknown"."""
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def environment_header(sample_rate: str | int, *extra: str) -> str:
    """``CPU | Python | numpy | onnxruntime | commit | sample rate`` (+ ``extra`` fields), one line."""
    rate = f"{sample_rate} Hz" if isinstance(sample_rate, int) else sample_rate
    fields = [
        f"CPU: {cpu_name()}",
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"onnxruntime {package_version('onnxruntime')}",
        f"commit {git_commit()}",
        f"sample rate {rate}",
        *extra,
    ]
    return " | ".join(fields)
