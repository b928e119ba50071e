"""Episode replay for PlaNet: whole episodes kept, sequence chunks sampled uniformly from them."""

from __future__ import annotations

import numpy as np


class EpisodeReplay:
    """Finished episodes; samples chunks of consecutive steps that never cross an episode's end.

    An episode is stored as ``observations`` ``o_0 .. o_T`` (``T + 1``, the last one the observation
    the episode ended on), ``actions`` ``a_0 .. a_{T-1}`` and ``rewards`` ``r_0 .. r_{T-1}``
    (``r_t`` follows ``a_t``). The oldest episodes are dropped once more than ``capacity`` steps are kept.

    :param capacity: environment steps kept at most
    """

    def __init__(self, capacity: int = 1_000_000):
        self.capacity = capacity
        self.episodes: list[dict[str, np.ndarray]] = []
        self.n_steps = 0

    def __len__(self) -> int:
        return len(self.episodes)

    def add(self, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Store one episode (see the class docstring for the shapes)."""
        if len(actions) == 0:
            return
        assert len(observations) == len(actions) + 1 == len(rewards) + 1
        self.episodes.append({"observations": observations, "actions": actions.astype(np.float32), "rewards": rewards.astype(np.float32)})
        self.n_steps += len(actions)
        while self.n_steps > self.capacity and len(self.episodes) > 1:
            self.n_steps -= len(self.episodes.pop(0)["actions"])

    def sample(self, batch_size: int, length: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch_size`` chunks of ``length`` observations, time first.

        Chunks are as long as the longest stored episode allows when that is shorter than ``length``.

        :return: ``observations`` ``(L, B, ...)``, ``actions`` and ``rewards`` ``(L - 1, B, ...)``
        """
        longest = max(len(ep["observations"]) for ep in self.episodes)
        length = min(length, longest)
        starts = np.array([max(len(ep["observations"]) - length + 1, 0) for ep in self.episodes], dtype=np.float64)
        chosen = rng.choice(len(self.episodes), size=batch_size, p=starts / starts.sum())
        obs, actions, rewards = [], [], []
        for index in chosen:
            episode = self.episodes[index]
            i = int(rng.integers(int(starts[index])))
            obs.append(episode["observations"][i : i + length])
            actions.append(episode["actions"][i : i + length - 1])
            rewards.append(episode["rewards"][i : i + length - 1])
        return {"observations": np.stack(obs, 1), "actions": np.stack(actions, 1), "rewards": np.stack(rewards, 1)}
