"""Exact evaluation from an env's transition table (``env.unwrapped.P`` of the toy-text envs).

``P[s][a]`` lists the outcomes ``(probability, next_state, reward, terminated)`` of action ``a`` in
state ``s``. With it the expected return of a policy is computed, not sampled:

- :func:`policy_return`: the expected undiscounted return of a deterministic policy within a time
  limit of ``horizon`` steps, from the env's initial-state distribution (Taxi's mean return,
  FrozenLake's success probability within its step limit); the policy may depend on the time;
- :func:`greedy_actions`: a tabular agent's deterministic greedy policy as such an action table, for
  agents that observe the state alone and for those that also observe the time
  (:class:`zoo.envs.wrappers.ObserveTime`);
- :func:`optimal_return`: the best expected return any policy can reach within ``horizon`` steps
  (finite-horizon value iteration, the optimum the benchmarks compare against);
- :func:`value_iteration`: the discounted optimal action values Q*;
- :func:`exact_evaluation`: both figures for a tabular agent on an env built like its training one
  (what ``zoo push`` writes to ``results.json`` and the model card).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.common.wrappers import ObserveTime, time_bin, time_limit
from agents.errors import ZooError

if TYPE_CHECKING:
    from agents.tabular.core import TabularPolicy


@dataclass
class TransitionTable:
    """``P`` as padded arrays: outcome ``k`` of ``(s, a)`` has probability ``probs[s, a, k]`` (0 = padding).

    :param probs: ``(n_states, n_actions, n_outcomes)`` probabilities
    :param next_states: next state of each outcome
    :param rewards: reward of each outcome
    :param terminated: whether each outcome ends the episode
    :param initial: initial-state distribution, ``(n_states,)``
    :param horizon: the env's time limit (``None``: none)
    """

    probs: np.ndarray
    next_states: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    initial: np.ndarray
    horizon: int | None

    @property
    def n_states(self) -> int:
        return self.probs.shape[0]

    @property
    def n_actions(self) -> int:
        return self.probs.shape[1]

    def expected(self, values: np.ndarray) -> np.ndarray:
        """``Q[s, a] = sum_k p_k (r_k + (not terminated_k) * values[s'_k])``, shape ``(n_states, n_actions)``."""
        return (self.probs * (self.rewards + ~self.terminated * values[self.next_states])).sum(axis=2)


def transition_table(env: gym.Env | str) -> TransitionTable:
    """Read the transition table of a toy-text env (or env id): ``unwrapped.P`` and its initial distribution."""
    if isinstance(env, str):
        import agents.environments  # noqa: F401  (the zoo's own envs)

        env = gym.make(env)
    horizon = time_limit(env)
    raw = env.unwrapped
    table = getattr(raw, "P", None)
    initial = getattr(raw, "initial_state_distrib", getattr(raw, "isd", None))
    if table is None or initial is None:
        raise ZooError(f"{env.spec.id if env.spec else raw} exposes no transition table (unwrapped.P and initial_state_distrib)")
    n_states, n_actions = len(table), len(table[0])
    n_outcomes = max(len(outcomes) for row in table.values() for outcomes in row.values())
    shape = (n_states, n_actions, n_outcomes)
    probs, rewards = np.zeros(shape), np.zeros(shape)
    next_states, terminated = np.zeros(shape, dtype=np.int64), np.ones(shape, dtype=bool)
    for s, row in table.items():
        for a, outcomes in row.items():
            for k, (p, s2, r, done) in enumerate(outcomes):
                probs[s, a, k], next_states[s, a, k], rewards[s, a, k], terminated[s, a, k] = p, s2, r, done
    return TransitionTable(probs, next_states, rewards, terminated, np.asarray(initial, dtype=np.float64), horizon)


def policy_return(table: TransitionTable, actions: np.ndarray, horizon: int | None = None) -> float:
    """Expected undiscounted return of a deterministic policy within ``horizon`` steps.

    :param table: the env's transition table
    :param actions: the action in each state, ``(n_states,)`` (e.g. ``model.q_table.argmax(axis=1)``),
        or, for a policy that depends on the time, ``(horizon, n_states)``: ``actions[t, s]`` after ``t`` steps
    :param horizon: time limit; default the env's
    """
    horizon = _horizon(table, horizon)
    actions = np.asarray(actions)
    if actions.ndim == 2 and actions.shape[0] != horizon:
        raise ZooError(f"a time-dependent policy needs one row per step: {horizon} rows, got {actions.shape[0]}")
    values = np.zeros(table.n_states)
    states = np.arange(table.n_states)
    for t in reversed(range(horizon)):  # values[s]: expected return from step t on
        values = table.expected(values)[states, actions[t] if actions.ndim == 2 else actions]
    return float(table.initial @ values)


def greedy_actions(policy: TabularPolicy, n_states: int, horizon: int | None = None) -> np.ndarray:
    """The deterministic greedy policy of a tabular agent as an action table for :func:`policy_return`.

    :param policy: the agent's policy (``model.policy``); its observations are the env's states
        (``Discrete(n_states)``) or states and time bins (``Tuple(Discrete(n_states), Discrete(bins + 1))``,
        :class:`zoo.envs.wrappers.ObserveTime`)
    :param n_states: number of states of the env
    :param horizon: the time limit the time bins cut (needed for an agent that observes the time)
    :return: ``(n_states,)`` actions, or ``(horizon, n_states)`` for an agent that observes the time
    """
    states = np.arange(n_states)
    space = policy.observation_space
    if isinstance(space, spaces.Discrete) and space.n == n_states:
        return policy.greedy(policy.indexer(states), deterministic=True)
    if not (isinstance(space, spaces.Tuple) and len(space.spaces) == 2 and space.spaces[0].n == n_states):
        raise ZooError(f"a policy over {space} is not one of an env with {n_states} states (and the time)")
    if horizon is None:
        raise ZooError("an agent that observes the time is evaluated over a horizon: give it")
    bins = int(space.spaces[1].n) - 1
    rows = []
    for t in range(horizon):  # the row of step t: every state in the time bin of t
        observations = (states, np.full(n_states, time_bin(t, bins, horizon)))
        rows.append(policy.greedy(policy.indexer(observations), deterministic=True))
    return np.stack(rows)


def optimal_return(table: TransitionTable, horizon: int | None = None) -> float:
    """Best expected undiscounted return within ``horizon`` steps (finite-horizon value iteration)."""
    horizon = _horizon(table, horizon)
    values = np.zeros(table.n_states)
    for _ in range(horizon):
        values = table.expected(values).max(axis=1)
    return float(table.initial @ values)


def value_iteration(table: TransitionTable, gamma: float, tolerance: float = 1e-10, max_iterations: int = 100_000) -> np.ndarray:
    """Discounted optimal action values Q*, ``(n_states, n_actions)``."""
    q = np.zeros((table.n_states, table.n_actions))
    for _ in range(max_iterations):
        new_q = (table.probs * (table.rewards + gamma * ~table.terminated * q.max(axis=1)[table.next_states])).sum(axis=2)
        if np.max(np.abs(new_q - q)) < tolerance:
            return new_q
        q = new_q
    return q


def _horizon(table: TransitionTable, horizon: int | None) -> int:
    horizon = table.horizon if horizon is None else horizon
    if horizon is None:
        raise ZooError("this env has no time limit: give the horizon to evaluate over")
    return int(horizon)


#: wrappers that leave the transition table as it is: a time limit, the time in the observation, gymnasium's checks
NEUTRAL_WRAPPERS = (gym.wrappers.TimeLimit, gym.wrappers.OrderEnforcing, gym.wrappers.PassiveEnvChecker, ObserveTime)


def foreign_wrapper(env: gym.Env) -> gym.Wrapper | None:
    """The outermost wrapper of ``env`` that the transition table does not describe (one outside
    :data:`NEUTRAL_WRAPPERS`, which may change observations or rewards), or ``None``."""
    layer = env
    while isinstance(layer, gym.Wrapper):
        if not isinstance(layer, NEUTRAL_WRAPPERS):
            return layer
        layer = layer.env
    return None


def exact_evaluation(policy: object, env: gym.Env) -> dict[str, float | int] | None:
    """The exact return of a tabular agent's greedy policy on ``env``, and the best within its time limit.

    :param policy: the agent's policy (``model.policy``)
    :param env: the env as the agent plays it (its config's wrappers applied)
    :return: ``{"exact_mean_reward", "optimal_mean_reward", "exact_horizon"}``, or ``None`` when they cannot be
        computed: not a tabular policy, no transition table, no time limit, or a wrapper that changes the
        observations or rewards
    """
    from agents.tabular.core import TabularPolicy

    if foreign_wrapper(env) is not None:
        return None
    if not isinstance(policy, TabularPolicy) or getattr(env.unwrapped, "P", None) is None:
        return None
    table = transition_table(env)
    if table.horizon is None:
        return None
    actions = greedy_actions(policy, table.n_states, table.horizon)
    return {
        "exact_mean_reward": policy_return(table, actions),
        "optimal_mean_reward": optimal_return(table),
        "exact_horizon": table.horizon,
    }
