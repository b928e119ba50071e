"""Hugging Face Hub support: loading and publishing agents, model cards, a Hub-compatible server.

``from hub import load_from_hub, push_to_hub`` gives the two entry points; they are imported on first
use, so ``import hub`` (and ``zoo --help``) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_agent", "load_from_hub", "push_to_hub"]


def __getattr__(name: str) -> Any:
    if name in ("load_agent", "load_from_hub"):
        from hub import loading

        return getattr(loading, name)
    if name == "push_to_hub":
        from hub.push import push_to_hub

        return push_to_hub
    raise AttributeError(f"module 'hub' has no attribute {name!r}")
