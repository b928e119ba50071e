"""Observation wrappers of the zoo.

:class:`DiscretizeObservation` turns a ``Box`` observation into one ``Discrete`` index (a grid of
equal-width bins per dimension), so tabular agents can run on it. In a config::

    MountainCar-v0:
      env_wrapper:
        - zoo.envs.wrappers.DiscretizeObservation: {bins: [20, 20]}

CartPole's velocities are unbounded, so give ``low``/``high`` (values beyond them fall in the edge bins)::

    CartPole-v1:
      env_wrapper:
        - zoo.envs.wrappers.DiscretizeObservation: {bins: [1, 1, 8, 8], low: [-2.4, -3, -0.21, -3], high: [2.4, 3, 0.21, 3]}
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from zoo.errors import ZooError


class DiscretizeObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Replace a ``Box`` observation by the index of its cell in a grid of equal-width bins.

    Dimension ``i`` is cut into ``bins[i]`` equal intervals between ``low[i]`` and ``high[i]``; values
    outside fall into the first or last interval. The cell ``(b0, b1, ...)`` is numbered in mixed
    radix, the last dimension varying fastest: ``index = ((b0 * n1) + b1) * n2 + b2 ...``.

    :param env: an env with a ``Box`` observation space
    :param bins: number of bins, one for every dimension or a list with one per dimension
    :param low: lower edge of the grid per dimension (a number or a list); default: the space's bounds
    :param high: upper edge of the grid per dimension (a number or a list); default: the space's bounds
    """

    def __init__(
        self,
        env: gym.Env,
        bins: int | Sequence[int] = 10,
        low: float | Sequence[float] | None = None,
        high: float | Sequence[float] | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, bins=bins, low=low, high=high)
        gym.ObservationWrapper.__init__(self, env)
        space = env.observation_space
        if not isinstance(space, spaces.Box):
            raise ZooError(f"DiscretizeObservation needs a Box observation space, got {space}")
        n_dims = int(np.prod(space.shape))
        self.bins = self._per_dimension(bins, n_dims, "bins").astype(np.int64)
        self.low = self._per_dimension(space.low.reshape(-1) if low is None else low, n_dims, "low")
        self.high = self._per_dimension(space.high.reshape(-1) if high is None else high, n_dims, "high")
        if np.any(self.bins < 1):
            raise ZooError(f"DiscretizeObservation: bins must be >= 1, got {self.bins.tolist()}")
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))):
            raise ZooError(
                f"DiscretizeObservation: the observation bounds of {env.spec.id if env.spec else env} are infinite; "
                "give finite low and high in the wrapper's arguments"
            )
        if np.any(self.high <= self.low):
            raise ZooError("DiscretizeObservation: every high must be greater than its low")
        self.radix = np.array([int(np.prod(self.bins[i + 1 :])) for i in range(n_dims)], dtype=np.int64)
        self.observation_space = spaces.Discrete(int(np.prod(self.bins)))

    @staticmethod
    def _per_dimension(value: float | Sequence[float] | np.ndarray, n_dims: int, name: str) -> np.ndarray:
        array = np.asarray(value, dtype=np.float64).reshape(-1)
        if array.size == 1:
            return np.full(n_dims, float(array[0]))
        if array.size != n_dims:
            raise ZooError(f"DiscretizeObservation: {name} needs 1 or {n_dims} values, got {array.size}")
        return array

    def cell(self, observation: np.ndarray) -> np.ndarray:
        """The bin of each dimension of ``observation``."""
        scaled = (np.asarray(observation, dtype=np.float64).reshape(-1) - self.low) / (self.high - self.low)
        return np.clip(np.floor(scaled * self.bins), 0, self.bins - 1).astype(np.int64)

    def observation(self, observation: np.ndarray) -> int:
        return int(self.cell(observation) @ self.radix)
