"""The zoo's environments and environment factories.

Importing this package registers the zoo's environments with gymnasium (``gym.make("DynaMaze-v0")``);
they are defined and listed in :mod:`agents.environments`.
"""

from __future__ import annotations

from agents.environments import ZOO_ENVS, register_zoo_envs

__all__ = ["ZOO_ENVS", "register_zoo_envs"]
