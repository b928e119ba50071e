"""Gymnasium wrappers PlaNet's configs use: action repeat and 64x64 pixel observations."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ActionRepeat(gym.Wrapper):
    """Repeat each action ``repeat`` times, summing the rewards (stops early when the episode ends).

    :param env: the env
    :param repeat: how many env steps one action lasts (the paper: 2 to 8 per task)
    """

    def __init__(self, env: gym.Env, repeat: int = 2):
        super().__init__(env)
        if repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {repeat}")
        self.repeat = repeat

    def step(self, action: Any):
        total = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class PixelObservation(gym.ObservationWrapper):
    """Replace the observation with the env's ``rgb_array`` render, resized to ``size x size`` (uint8, HWC).

    The env must be made with ``render_mode="rgb_array"`` (``env_kwargs`` in a config); a render that
    is already ``size x size`` (dm_control's ``render_kwargs``) is used as it is.

    :param env: the env
    :param size: side of the square image
    """

    def __init__(self, env: gym.Env, size: int = 64):
        super().__init__(env)
        if env.render_mode != "rgb_array":
            raise ValueError(f"PixelObservation needs the env made with render_mode='rgb_array', not {env.render_mode!r}")
        self.size = size
        self.observation_space = spaces.Box(0, 255, (size, size, 3), dtype=np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        frame = np.asarray(self.env.render())
        if frame.shape[:2] != (self.size, self.size):
            rows = np.linspace(0, frame.shape[0] - 1, self.size).round().astype(int)
            cols = np.linspace(0, frame.shape[1] - 1, self.size).round().astype(int)
            frame = frame[rows][:, cols]  # nearest-neighbour resize, no image library needed
        return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
