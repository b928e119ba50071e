"""The zoo's algorithms, each a Stable-Baselines3 ``BaseAlgorithm``.

``from agents import PPO, TRPO, QLearning`` imports the class on first use (see ``agents.registry``),
so importing this package costs nothing until an algorithm is needed.
"""

from __future__ import annotations

from typing import Any

from agents.registry import ALGOS, AlgoSpec, get_class, get_spec, register

__all__ = ["ALGOS", "AlgoSpec", "get_class", "get_spec", "register"]


def _by_class_name() -> dict[str, AlgoSpec]:
    return {spec.class_name: spec for spec in ALGOS.values()}


def __getattr__(name: str) -> Any:
    spec = _by_class_name().get(name)
    if spec is None:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    return spec.load()


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_by_class_name()))
