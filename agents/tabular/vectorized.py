"""Many copies of a toy-text env stepped at once in NumPy, from its transition table.

Gymnasium's toy-text envs (Taxi, FrozenLake, CliffWalking) and the zoo's DynaMaze-v0 publish their
dynamics as ``unwrapped.P``. :class:`TransitionTableVecEnv` is an SB3 ``VecEnv`` that samples the
next state of ``n_envs`` copies with a handful of array operations per step instead of ``n_envs``
Python ``env.step`` calls, so any tabular agent trains on it through the usual API::

    from agents import QLearning
    from agents.tabular.vectorized import TransitionTableVecEnv

    env = TransitionTableVecEnv("Taxi-v4", n_envs=256, seed=0)
    QLearning("TabularPolicy", env, alpha=0.5).learn(2_000_000)

It behaves like ``DummyVecEnv`` over Monitor-wrapped copies: the env's time limit truncates episodes
(``"TimeLimit.truncated"``), a finished copy resets at once and its info holds
``"terminal_observation"`` and Monitor's ``"episode"`` record. It does not render. With many copies
the agent makes batched updates (see :mod:`agents.tabular.core`).

With ``time_bins`` it does what :class:`zoo.envs.wrappers.ObserveTime` does to one env:
observations are ``(state, time bin)`` and the time limit ends episodes as a terminal state. That
is how a tabular agent learns the time-dependent optimum of a time-limited task (FrozenLake8x8-v1).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.env_util import unwrap_wrapper
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from agents.tabular.exact import transition_table
from agents.common.wrappers import ObserveTime, time_bin
from agents.errors import ZooError


class TransitionTableVecEnv(VecEnv):
    """``n_envs`` copies of a toy-text env, stepped together from its transition table.

    :param env: env id or env exposing ``unwrapped.P`` and ``unwrapped.initial_state_distrib``; its
        ``TimeLimit`` and :class:`zoo.envs.wrappers.ObserveTime` wrappers give the defaults below
    :param n_envs: number of copies
    :param seed: seed of the sampling (``None``: random)
    :param max_episode_steps: time limit; default the env's (``None`` and no env limit: none)
    :param time_bins: observe the time too, in this many equal bins of the time limit: observations are
        ``(state, steps taken * time_bins // limit)`` in ``Tuple(Discrete(n_states), Discrete(time_bins + 1))``
        and the time limit ends episodes as a terminal state; default the bins of the env's ``ObserveTime``
        wrapper (``None`` and no such wrapper: observe the state only)
    """

    def __init__(
        self,
        env: gym.Env | str,
        n_envs: int = 64,
        seed: int | None = None,
        max_episode_steps: int | None = None,
        time_bins: int | None = None,
    ) -> None:
        env = gym.make(env) if isinstance(env, str) else env
        self.table = transition_table(env)
        self.render_mode = None
        self.max_episode_steps = max_episode_steps if max_episode_steps is not None else self.table.horizon
        if time_bins is None and (observe_time := unwrap_wrapper(env, ObserveTime)) is not None:
            time_bins = observe_time.bins
        self.time_bins = time_bins
        self.observe_time = time_bins is not None
        observation_space: spaces.Space = spaces.Discrete(self.table.n_states)
        if self.observe_time:
            if not self.max_episode_steps:
                raise ZooError("time_bins needs a time limit: give max_episode_steps")
            if not 1 <= time_bins <= self.max_episode_steps:
                raise ZooError(f"time_bins must be between 1 and the time limit ({self.max_episode_steps}), got {time_bins}")
            observation_space = spaces.Tuple((observation_space, spaces.Discrete(time_bins + 1)))
        super().__init__(n_envs, observation_space, spaces.Discrete(self.table.n_actions))
        self.spec = env.spec
        self._cumulative = np.cumsum(self.table.probs, axis=2)
        self._cumulative[..., -1] = np.inf  # rounding never sends a draw past the last outcome
        self._initial_cumulative = np.cumsum(self.table.initial)
        self._initial_cumulative[-1] = np.inf
        self._rng = np.random.default_rng(seed)
        self._states = np.zeros(n_envs, dtype=np.int64)
        self._lengths = np.zeros(n_envs, dtype=np.int64)
        self._returns = np.zeros(n_envs, dtype=np.float64)
        self._actions = np.zeros(n_envs, dtype=np.int64)
        self._start = time.time()

    def _initial_states(self, n: int) -> np.ndarray:
        return np.searchsorted(self._initial_cumulative, self._rng.random(n), side="right")

    def reset(self) -> VecEnvObs:
        if self._seeds[0] is not None:
            self._rng = np.random.default_rng(self._seeds[0])
        self._reset_seeds()
        self._states = self._initial_states(self.num_envs)
        self._lengths[:] = 0
        self._returns[:] = 0.0
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return self._observation(self._states)

    def _observation(self, states: np.ndarray) -> VecEnvObs:
        if not self.observe_time:
            return states.copy()
        return states.copy(), time_bin(self._lengths, self.time_bins, self.max_episode_steps)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64).reshape(-1)

    def step_wait(self) -> VecEnvStepReturn:
        s, a = self._states, self._actions
        # outcome k of (s, a) with probability probs[s, a, k]
        outcome = (self._cumulative[s, a] < self._rng.random(self.num_envs)[:, None]).sum(axis=1)
        next_states = self.table.next_states[s, a, outcome]
        rewards = self.table.rewards[s, a, outcome]
        terminated = self.table.terminated[s, a, outcome]
        self._lengths += 1
        self._returns += rewards
        truncated = ~terminated & (self._lengths >= self.max_episode_steps) if self.max_episode_steps else np.zeros_like(terminated)
        if self.observe_time:  # the time is part of the state: running out of it is a terminal state
            terminated, truncated = terminated | truncated, np.zeros_like(truncated)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        ended = np.flatnonzero(dones)
        if len(ended):
            elapsed = round(time.time() - self._start, 6)
            for i in ended.tolist():
                last = int(next_states[i])
                if self.observe_time:
                    last = (last, time_bin(int(self._lengths[i]), self.time_bins, self.max_episode_steps))
                infos[i] = {
                    "terminal_observation": last,
                    "TimeLimit.truncated": bool(truncated[i]),
                    "episode": {"r": float(self._returns[i]), "l": int(self._lengths[i]), "t": elapsed},
                }
            next_states = next_states.copy()
            next_states[ended] = self._initial_states(len(ended))
            self._lengths[ended] = 0
            self._returns[ended] = 0.0
        self._states = next_states
        return self._observation(next_states), rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any) -> list[Any]:
        raise NotImplementedError("TransitionTableVecEnv copies have no methods of their own")

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def _get_indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)
