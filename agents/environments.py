"""The zoo's own gymnasium environments, registered with gymnasium on import.

``import agents.environments`` makes ``gym.make("DynaMaze-v0")`` work; the application (``zoo.envs``)
imports it too. Each algorithm family adds its environments here, one line each: the env id, where
its class lives (in the ``agents`` layer) and its registration arguments.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec

from agents.multiagent.envs import multiagent_env_ids

#: env id -> ``gym.register`` arguments of the zoo's own environments. Add a line for a new environment.
ZOO_ENVS: dict[str, dict[str, Any]] = {
    "DynaMaze-v0": {"entry_point": "agents.tabular.dyna_maze:DynaMazeEnv", "max_episode_steps": 10_000},
    # DeepMind Control through shimmy (the dmc extra), for PlaNet; dm_control ends episodes at 1000 steps itself.
    # The pixel version repeats each action 8 times (the paper's cartpole setting) and renders only the 8th frame.
    "CartpoleSwingup-v0": {"entry_point": "agents.planet.envs:make_dmc_env", "kwargs": {"domain": "cartpole", "task": "swingup"}},
    "CartpoleSwingupPixels-v0": {"entry_point": "agents.planet.envs:make_dmc_env",
                                 "kwargs": {"domain": "cartpole", "task": "swingup", "pixels": True, "action_repeat": 8}},
    # goal-conditioned envs (Dict observations for HER and HAC)
    "GoalMountainCarContinuous-v0": {"entry_point": "agents.envs.goal_envs:GoalMountainCarContinuousEnv", "max_episode_steps": 999},
    "GoalPendulum-v1": {"entry_point": "agents.envs.goal_envs:GoalPendulumEnv", "max_episode_steps": 200},
    "PointMaze_UMaze-v3": {"entry_point": "agents.envs.robotics:point_maze_u_maze", "max_episode_steps": 300},
}
# every mpe2 scenario (mpe2/simple_spread_v3 ...) and lbforaging task (lbforaging/Foraging-8x8-2p-2f-coop-v3 ...)
ZOO_ENVS.update(multiagent_env_ids())


def register_zoo_envs() -> None:
    """Register the zoo's environments with gymnasium (idempotent)."""
    # EnvSpec straight into the registry: gym.register checks each new id against every registered one,
    # which made importing the zoo a third of a second slower for the ~1,900 multi-agent ids
    for env_id, kwargs in ZOO_ENVS.items():
        if env_id not in gym.registry:
            gym.registry[env_id] = EnvSpec(id=env_id, **kwargs)


register_zoo_envs()
