"""Hugging Face Hub support: loading and publishing agents, model cards, a Hub-compatible server.

``from hub import load_from_hub`` loads an agent pickle-free; it is imported on first use, so ``import hub``
(and ``zoo --help``) stays cheap. Publishing evaluates the agent, which is the application's part:
``from zoo.publish import push_to_hub``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_agent", "load_from_hub"]


def __getattr__(name: str) -> Any:
    if name in ("load_agent", "load_from_hub"):
        from hub import loading

        return getattr(loading, name)
    raise AttributeError(f"module 'hub' has no attribute {name!r}")
