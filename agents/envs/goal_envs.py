"""Goal-conditioned versions of two classic-control tasks, in the convention of SB3's ``HerReplayBuffer``.

Each observation is a ``Dict`` with ``observation`` (what the original env observes), ``achieved_goal``
(where the system is, in goal coordinates) and ``desired_goal`` (where it should be). The reward is
sparse: ``0`` when every goal coordinate is within its threshold of the desired one, ``-1`` otherwise,
computed by the vectorised ``compute_reward(achieved_goal, desired_goal, info)``; ``info["is_success"]``
says whether the goal is reached, and reaching it ends the episode (``terminated``).

- :class:`GoalMountainCarContinuousEnv` (``GoalMountainCarContinuous-v0``): the goal is the car's
  position; by default the region ``|position - 0.5| <= 0.05``, i.e. reaching the flag at 0.45 as in
  ``MountainCarContinuous-v0``. Observation: position and velocity.
- :class:`GoalPendulumEnv` (``GoalPendulum-v1``): the goal is the pendulum's angle and angular
  velocity; by default upright (angle 0) and nearly still (``|angle| <= 0.25`` rad, ``|velocity| <= 1``
  rad/s). Observation: ``cos(angle)``, ``sin(angle)``, velocity as in ``Pendulum-v1``.
- :class:`GoalObservation`: a wrapper making any flat-``Box`` env goal-conditioned (a fixed goal on some
  of its observation coordinates).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.continuous_mountain_car import Continuous_MountainCarEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv, angle_normalize


def goal_reached(achieved_goal: np.ndarray, desired_goal: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Whether each goal coordinate is within its threshold (per dimension); works on batches."""
    return np.all(np.abs(np.asarray(achieved_goal) - np.asarray(desired_goal)) <= threshold, axis=-1)


def _as_vector(value: float | Sequence[float], size: int, name: str) -> np.ndarray:
    vector = np.broadcast_to(np.asarray(value, dtype=np.float32), (size,)).copy() if np.ndim(value) == 0 else np.asarray(value, dtype=np.float32)
    if vector.shape != (size,):
        raise ValueError(f"{name} must be a number or {size} numbers, got {value!r}")
    return vector


class _SparseGoalMixin:
    """``compute_reward`` and the goal test shared by the goal envs."""

    goal_threshold: np.ndarray

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any) -> np.ndarray | float:
        """``0`` where the achieved goal is within ``goal_threshold`` of the desired goal, else ``-1``."""
        reward = goal_reached(achieved_goal, desired_goal, self.goal_threshold).astype(np.float32) - 1.0
        return reward if np.ndim(reward) else float(reward)


class GoalMountainCarContinuousEnv(_SparseGoalMixin, Continuous_MountainCarEnv):
    """``MountainCarContinuous-v0`` with a goal position (see the module docstring).

    :param goal: the desired position (the centre of the goal region)
    :param goal_threshold: half-width of the goal region
    :param render_mode: as in gymnasium
    """

    def __init__(self, goal: float = 0.5, goal_threshold: float = 0.05, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        self.goal = _as_vector(goal, 1, "goal")
        self.goal_threshold = _as_vector(goal_threshold, 1, "goal_threshold")
        if not self.min_position <= self.goal[0] <= self.max_position:
            raise ValueError(f"goal must be a position in [{self.min_position}, {self.max_position}], got {goal}")
        positions = spaces.Box(self.min_position, self.max_position, shape=(1,), dtype=np.float32)
        self.observation_space = spaces.Dict({
            "observation": self.observation_space,
            "achieved_goal": positions,
            "desired_goal": positions,
        })

    def _goal_obs(self, state: np.ndarray) -> dict[str, np.ndarray]:
        state = np.asarray(state, dtype=np.float32)
        return {"observation": state.copy(), "achieved_goal": state[:1].copy(), "desired_goal": self.goal.copy()}

    def step(self, action: np.ndarray):
        state, _, _, truncated, info = super().step(action)
        obs = self._goal_obs(state)
        success = bool(goal_reached(obs["achieved_goal"], obs["desired_goal"], self.goal_threshold))
        reward = self.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)
        return obs, reward, success, truncated, {**info, "is_success": success}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        state, info = super().reset(seed=seed, options=options)
        return self._goal_obs(state), info


class GoalPendulumEnv(_SparseGoalMixin, PendulumEnv):
    """``Pendulum-v1`` with a goal angle and angular velocity (see the module docstring).

    :param goal: the desired ``(angle, angular velocity)``; angle 0 is upright
    :param goal_threshold: per-dimension tolerance, a number or one per goal coordinate
    :param terminate_on_success: end the episode when the goal is reached
    :param render_mode: as in gymnasium
    :param g: gravity, as in ``Pendulum-v1``
    """

    def __init__(self, goal: Sequence[float] = (0.0, 0.0), goal_threshold: float | Sequence[float] = (0.25, 1.0),
                 terminate_on_success: bool = True, render_mode: str | None = None, g: float = 10.0) -> None:
        super().__init__(render_mode=render_mode, g=g)
        self.goal = _as_vector(goal, 2, "goal")
        self.goal_threshold = _as_vector(goal_threshold, 2, "goal_threshold")
        self.terminate_on_success = terminate_on_success
        high = np.array([np.pi, self.max_speed], dtype=np.float32)
        goals = spaces.Box(-high, high, dtype=np.float32)
        if not goals.contains(self.goal):
            raise ValueError(f"goal must be an angle in [-pi, pi] and a velocity in [-{self.max_speed}, {self.max_speed}], got {goal}")
        self.observation_space = spaces.Dict({
            "observation": self.observation_space,
            "achieved_goal": goals,
            "desired_goal": goals,
        })

    def _goal_obs(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        theta, theta_dot = self.state
        achieved = np.array([angle_normalize(theta), theta_dot], dtype=np.float32)
        return {"observation": np.asarray(obs, dtype=np.float32), "achieved_goal": achieved, "desired_goal": self.goal.copy()}

    def step(self, u: np.ndarray):
        obs, _, _, truncated, info = super().step(u)
        goal_obs = self._goal_obs(obs)
        success = bool(goal_reached(goal_obs["achieved_goal"], goal_obs["desired_goal"], self.goal_threshold))
        reward = self.compute_reward(goal_obs["achieved_goal"], goal_obs["desired_goal"], info)
        return goal_obs, reward, success and self.terminate_on_success, truncated, {**info, "is_success": success}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = super().reset(seed=seed, options=options)
        return self._goal_obs(obs), info


class GoalObservation(gym.Wrapper):
    """Make any env with a ``Box`` observation goal-conditioned: a fixed goal on some of its coordinates.

    ``GoalObservation(gym.make("MountainCarContinuous-v0"), goal_indices=[0], goal=[0.5], goal_threshold=0.05)``
    observes ``{"observation": obs, "achieved_goal": obs[goal_indices], "desired_goal": goal}``, rewards
    ``0`` / ``-1`` (goal reached or not, per dimension) and reports ``info["is_success"]``; reaching the goal
    ends the episode when ``terminate_on_success``. As a config ``env_wrapper``:
    ``agents.envs.goal_envs.GoalObservation: {goal_indices: [0], goal: [0.5], goal_threshold: 0.05}``.

    :param env: the env to wrap (a ``Box`` observation)
    :param goal_indices: which observation coordinates form the goal
    :param goal: the desired value of those coordinates
    :param goal_threshold: per-dimension tolerance, a number or one per goal coordinate
    :param terminate_on_success: end the episode when the goal is reached
    """

    def __init__(self, env: gym.Env, goal_indices: Sequence[int], goal: Sequence[float],
                 goal_threshold: float | Sequence[float], terminate_on_success: bool = True) -> None:
        super().__init__(env)
        if not isinstance(env.observation_space, spaces.Box) or len(env.observation_space.shape) != 1:
            raise ValueError(f"GoalObservation needs a flat Box observation, got {env.observation_space}")
        self.goal_indices = [int(i) for i in goal_indices]
        self.goal = _as_vector(goal, len(self.goal_indices), "goal")
        self.goal_threshold = _as_vector(goal_threshold, len(self.goal_indices), "goal_threshold")
        self.terminate_on_success = terminate_on_success
        box = env.observation_space
        goals = spaces.Box(box.low[self.goal_indices].astype(np.float32), box.high[self.goal_indices].astype(np.float32), dtype=np.float32)
        self.observation_space = spaces.Dict({"observation": box, "achieved_goal": goals, "desired_goal": goals})

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any) -> np.ndarray | float:
        """``0`` where the achieved goal is within ``goal_threshold`` of the desired goal, else ``-1``."""
        return _SparseGoalMixin.compute_reward(self, achieved_goal, desired_goal, info)  # type: ignore[arg-type]

    def _goal_obs(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        obs = np.asarray(obs, dtype=self.observation_space["observation"].dtype)
        return {"observation": obs, "achieved_goal": obs[self.goal_indices].astype(np.float32), "desired_goal": self.goal.copy()}

    def step(self, action: Any):
        obs, _, terminated, truncated, info = self.env.step(action)
        goal_obs = self._goal_obs(obs)
        success = bool(goal_reached(goal_obs["achieved_goal"], self.goal, self.goal_threshold))
        reward = self.compute_reward(goal_obs["achieved_goal"], self.goal, info)
        return goal_obs, reward, terminated or (success and self.terminate_on_success), truncated, {**info, "is_success": success}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self._goal_obs(obs), info
