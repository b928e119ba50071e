"""QMIX's replay buffer of whole episodes, sampled as whole episodes, padded to a common length and masked.

An episode of ``T`` steps is kept as ``T + 1`` observations, states and action masks (the last ones are
those the final step led to, for the bootstrap) and ``T`` joint actions, team rewards and termination
flags. Episodes are stored in preallocated arrays padded to the longest episode seen so far (the arrays
grow when a longer one comes); ``filled`` marks the real steps. Padded steps have every action available,
zero rewards, and count nowhere in the loss.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch as th


class EpisodeBatch(NamedTuple):
    """A batch of ``B`` episodes padded to ``T`` steps (the longest in the batch).

    :param obs: each agent's observation ``(B, T + 1, n_agents, obs_dim)``
    :param state: the global state ``(B, T + 1, state_dim)``
    :param avail: available actions ``(B, T + 1, n_agents, n_actions)``
    :param actions: the joint actions ``(B, T, n_agents)``
    :param rewards: the team rewards ``(B, T)``
    :param terminated: 1 where the episode terminated at this step (not at a time limit) ``(B, T)``
    :param filled: 1 for real steps, 0 for padding ``(B, T)``
    """

    obs: th.Tensor
    state: th.Tensor
    avail: th.Tensor
    actions: th.Tensor
    rewards: th.Tensor
    terminated: th.Tensor
    filled: th.Tensor


class EpisodeReplayBuffer:
    """A ring buffer of ``buffer_size`` episodes (the oldest is overwritten first).

    :param buffer_size: number of episodes kept (EPyMARL: 5000)
    :param n_agents: number of agents
    :param obs_dim: each agent's (padded) observation size
    :param state_dim: size of the global state
    :param n_actions: each agent's (padded) number of actions
    :param device: torch device of the sampled batches
    :param max_steps: initial episode length the arrays hold (they grow as needed)
    """

    def __init__(self, buffer_size: int, n_agents: int, obs_dim: int, state_dim: int, n_actions: int,
                 device: th.device | str = "cpu", max_steps: int = 1):
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be at least 1 episode, got {buffer_size}")
        self.buffer_size, self.device = buffer_size, device
        self.n_agents, self.obs_dim, self.state_dim, self.n_actions = n_agents, obs_dim, state_dim, n_actions
        self.pos, self.full = 0, False
        self.max_steps = 0
        self.lengths = np.zeros(buffer_size, dtype=np.int64)
        self._allocate(max(1, max_steps))

    def _allocate(self, steps: int) -> None:
        """(Re)allocate the arrays for episodes of up to ``steps`` steps, keeping what is stored."""
        n, old = self.buffer_size, self.max_steps
        new = {
            "obs": np.zeros((n, steps + 1, self.n_agents, self.obs_dim), np.float32),
            "state": np.zeros((n, steps + 1, self.state_dim), np.float32),
            "avail": np.ones((n, steps + 1, self.n_agents, self.n_actions), bool),
            "actions": np.zeros((n, steps, self.n_agents), np.int64),
            "rewards": np.zeros((n, steps), np.float32),
            "terminated": np.zeros((n, steps), np.float32),
            "filled": np.zeros((n, steps), np.float32),
        }
        if old:
            for key, array in new.items():
                array[:, : getattr(self, key).shape[1]] = getattr(self, key)
        for key, array in new.items():
            setattr(self, key, array)
        self.max_steps = steps

    def size(self) -> int:
        """Number of episodes stored."""
        return self.buffer_size if self.full else self.pos

    def add(self, obs: np.ndarray, state: np.ndarray, avail: np.ndarray, actions: np.ndarray,
            rewards: np.ndarray, terminated: np.ndarray) -> None:
        """Store one episode of ``T`` steps (``obs``, ``state``, ``avail`` have ``T + 1`` entries)."""
        steps = len(rewards)
        if steps > self.max_steps:
            self._allocate(max(steps, 2 * self.max_steps) if self.max_steps > 1 else steps)
        i = self.pos
        self.obs[i] = 0.0
        self.state[i] = 0.0
        self.avail[i] = True
        self.rewards[i] = 0.0
        self.terminated[i] = 0.0
        self.filled[i] = 0.0
        self.actions[i] = 0
        self.obs[i, : steps + 1] = obs
        self.state[i, : steps + 1] = state
        self.avail[i, : steps + 1] = avail
        self.actions[i, :steps] = actions
        self.rewards[i, :steps] = rewards
        self.terminated[i, :steps] = terminated
        self.filled[i, :steps] = 1.0
        self.lengths[i] = steps
        self.pos = (self.pos + 1) % self.buffer_size
        self.full = self.full or self.pos == 0

    def sample(self, batch_size: int, rng: np.random.Generator | None = None) -> EpisodeBatch:
        """``batch_size`` distinct episodes, uniformly (all stored ones when fewer), cut to the longest of them."""
        rng = rng or np.random.default_rng()
        size = self.size()
        index = rng.choice(size, size=min(batch_size, size), replace=False)
        return self.get(index)

    def get(self, index: np.ndarray) -> EpisodeBatch:
        """The episodes at ``index`` as a batch, cut to the longest of them."""
        steps = int(self.lengths[index].max())

        def tensor(array: np.ndarray) -> th.Tensor:
            return th.as_tensor(array, device=self.device)

        return EpisodeBatch(
            obs=tensor(self.obs[index, : steps + 1]),
            state=tensor(self.state[index, : steps + 1]),
            avail=tensor(self.avail[index, : steps + 1]),
            actions=tensor(self.actions[index, :steps]),
            rewards=tensor(self.rewards[index, :steps]),
            terminated=tensor(self.terminated[index, :steps]),
            filled=tensor(self.filled[index, :steps]),
        )
