"""The versions a run was made with, recorded in every checkpoint and report."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

import torch


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "dev" if package == "headstart" else "not installed"


def versions(*packages: str) -> dict[str, str]:
    """headstart, torch and ``packages`` (distribution names), then Python and the platform."""
    out = {"headstart": _version("headstart"), "torch": torch.__version__}
    out.update({name: _version(name) for name in packages})
    out["python"] = sys.version.split()[0]
    out["platform"] = platform.platform()
    return out
