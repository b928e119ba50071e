"""gymnasium-robotics' ``PointMaze_UMaze-v3``, made without importing gymnasium-robotics at ``import zoo``.

gymnasium-robotics registers its envs only when it is imported (and importing it loads MuJoCo), so the
zoo registers the one maze it benchmarks, ``PointMaze_UMaze-v3``, with this factory as entry point: the
package is imported when the env is made, and a missing package gets one line saying what to install.
It needs ``pip install agent-zoo[robotics]`` (gymnasium-robotics with MuJoCo 4; its Fetch envs crash
with MuJoCo 4, the mazes work). The env reports success as ``info["success"]``, not ``is_success``.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym

from agents.errors import ZooError


def point_maze_u_maze(**kwargs: Any) -> Any:
    """A ``PointMazeEnv`` on the U-shaped map with sparse reward, as gymnasium-robotics registers it.

    :param kwargs: keyword arguments of ``PointMazeEnv`` (``continuing_task``, ``reward_type``, ...)
    """
    try:
        with warnings.catch_warnings():  # its import re-registers PointMaze_UMaze-v3 (the same env) over ours
            warnings.simplefilter("ignore")
            from gymnasium_robotics.envs.maze.maps import U_MAZE
            from gymnasium_robotics.envs.maze.point_maze import PointMazeEnv
    except ImportError:
        raise ZooError("PointMaze_UMaze-v3 needs gymnasium-robotics: pip install 'agent-zoo[robotics]'") from None
    return PointMazeEnv(**{"maze_map": U_MAZE, "reward_type": "sparse", **kwargs})


class EndAtGoal(gym.Wrapper):
    """End a gymnasium-robotics episode at the goal and report it as ``info["is_success"]`` (SB3's key).

    The mazes run on after the goal by default (``continuing_task=True``) and say ``info["success"]``; as a
    config ``env_wrapper`` this makes an episode one attempt at one goal, as HER and HAC benchmarks use them.
    """

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        success = bool(info.get("success", info.get("is_success", False)))
        return obs, reward, terminated or success, truncated, {**info, "is_success": success}
