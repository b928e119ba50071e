"""The zoo's own gymnasium environments, registered with gymnasium on import.

``import agents.environments`` makes ``gym.make("DynaMaze-v0")`` work; the application (``zoo.envs``)
imports it too. Each algorithm family adds its environments here, one line each: the env id, where
its class lives (in the ``agents`` layer) and its registration arguments.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

#: env id -> ``gym.register`` arguments of the zoo's own environments. Add a line for a new environment.
ZOO_ENVS: dict[str, dict[str, Any]] = {
    "DynaMaze-v0": {"entry_point": "agents.tabular.dyna_maze:DynaMazeEnv", "max_episode_steps": 10_000},
    # goal-conditioned envs (Dict observations for HER and HAC)
    "GoalMountainCarContinuous-v0": {"entry_point": "agents.envs.goal_envs:GoalMountainCarContinuousEnv", "max_episode_steps": 999},
    "GoalPendulum-v1": {"entry_point": "agents.envs.goal_envs:GoalPendulumEnv", "max_episode_steps": 200},
    "PointMaze_UMaze-v3": {"entry_point": "agents.envs.robotics:point_maze_u_maze", "max_episode_steps": 300},
}


def register_zoo_envs() -> None:
    """Register the zoo's environments with gymnasium (idempotent)."""
    for env_id, kwargs in ZOO_ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kwargs)


register_zoo_envs()
