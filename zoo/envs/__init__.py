"""The zoo's own environments and environment factories.

Importing this package registers the zoo's environments with gymnasium (``gym.make("DynaMaze-v0")``).
"""

from __future__ import annotations

import gymnasium as gym

#: env id -> entry point of the zoo's own environments. Add a line for a new environment.
ZOO_ENVS: dict[str, dict] = {
    "DynaMaze-v0": {"entry_point": "zoo.envs.dyna_maze:DynaMazeEnv", "max_episode_steps": 10_000},
    # goal-conditioned envs (Dict observations for HER and HAC), defined in agents.envs
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
