"""The zoo's own environments and environment factories.

Importing this package registers the zoo's environments with gymnasium (``gym.make("DynaMaze-v0")``).
"""

from __future__ import annotations

import gymnasium as gym

#: env id -> entry point of the zoo's own environments. Add a line for a new environment.
ZOO_ENVS: dict[str, dict] = {
    "DynaMaze-v0": {"entry_point": "zoo.envs.dyna_maze:DynaMazeEnv", "max_episode_steps": 10_000},
    # DeepMind Control through shimmy (the dmc extra), for PlaNet; dm_control ends episodes at 1000 steps itself.
    # The pixel version repeats each action 8 times (the paper's cartpole setting) and renders only the 8th frame.
    "CartpoleSwingup-v0": {"entry_point": "agents.planet.envs:make_dmc_env", "kwargs": {"domain": "cartpole", "task": "swingup"}},
    "CartpoleSwingupPixels-v0": {"entry_point": "agents.planet.envs:make_dmc_env",
                                 "kwargs": {"domain": "cartpole", "task": "swingup", "pixels": True, "action_repeat": 8}},
}


def register_zoo_envs() -> None:
    """Register the zoo's environments with gymnasium (idempotent)."""
    for env_id, kwargs in ZOO_ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kwargs)


register_zoo_envs()
