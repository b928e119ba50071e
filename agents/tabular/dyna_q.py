"""Dyna-Q (Sutton, 1990; Sutton & Barto, section 8.2): Q-learning plus planning with a learned model.

For every real transition (s, a, r, s'):

1. direct RL: the Q-learning update on (s, a, r, s');
2. model learning: record that (s, a) led to (s', r) (and whether s' was terminal);
3. planning, ``n_planning_steps`` (k) times: pick a previously seen pair (s_p, a_p) uniformly,
   draw an outcome (s'_p, r_p) from the model, and apply the Q-learning update to it.

In a deterministic env the model is the last (and only) outcome of each pair, as in the book. In a
stochastic env it keeps every distinct outcome with its count and draws one in proportion: a
sample model of the observed transition frequencies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.type_aliases import GymEnv, Schedule

from agents.tabular.core import TabularPolicy
from agents.tabular.qlearning import QLearning

#: columns of the saved model table: one row per distinct observed outcome of a pair
MODEL_COLUMNS = ("state", "action", "next_state", "reward", "bootstrap", "count")


class DynaQ(QLearning):
    """Tabular Dyna-Q on SB3's ``BaseAlgorithm`` API.

    :param policy: ``"TabularPolicy"`` (or the class)
    :param env: the environment (a gymnasium env, an env id, or an SB3 ``VecEnv``)
    :param n_planning_steps: k, simulated Q-learning updates from the model per real env step
    :param alpha: learning rate, a number, an SB3 schedule of ``progress_remaining`` or ``"lin_X"``
    :param gamma: discount factor
    :param epsilon: exploration rate (its initial value if it decays)
    :param epsilon_final: exploration rate at the end of the decay; ``None`` keeps ``epsilon`` constant
    :param epsilon_decay: shape of the decay: ``"linear"`` or ``"exponential"``
    :param epsilon_decay_per: ``"step"`` or ``"episode"``
    :param epsilon_decay_length: a fraction of the timesteps (per step) or a number of episodes (per episode)
    :param policy_kwargs: extra arguments of the policy (``initial_q``)
    :param stats_window_size: number of episodes averaged in the ``rollout/`` logs
    :param tensorboard_log: folder for tensorboard logs (``None``: none)
    :param verbose: 0 silent, 1 training logs
    :param seed: seed of every random choice (exploration, tie-breaking, planning) and of the env
    :param device: accepted for SB3 compatibility; the tables live on the CPU
    :param _init_setup_model: build the tables now
    """

    def __init__(
        self,
        policy: str | type[TabularPolicy],
        env: GymEnv | str | None,
        n_planning_steps: int = 5,
        alpha: float | Schedule = 0.1,
        gamma: float = 0.95,
        epsilon: float = 0.1,
        epsilon_final: float | None = None,
        epsilon_decay: str = "linear",
        epsilon_decay_per: str = "step",
        epsilon_decay_length: float = 1.0,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        self.n_planning_steps = int(n_planning_steps)
        super().__init__(
            policy,
            env,
            alpha=alpha,
            gamma=gamma,
            epsilon=epsilon,
            epsilon_final=epsilon_final,
            epsilon_decay=epsilon_decay,
            epsilon_decay_per=epsilon_decay_per,
            epsilon_decay_length=epsilon_decay_length,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=_init_setup_model,
        )

    # The model: observed pairs in order of first visit, and for each pair its distinct outcomes
    # (next state, reward, bootstrap) with how often each was seen.
    def _setup_tables(self) -> None:
        self.policy.add_table("model", (0, len(MODEL_COLUMNS)), resizable=True)
        self._pairs: list[tuple[int, int]] = []
        self._pair_ids: dict[tuple[int, int], int] = {}
        self._outcomes: list[list[tuple[int, float, bool]]] = []
        self._outcome_counts: list[list[int]] = []
        self._outcome_index: list[dict[tuple[int, float, bool], int]] = []

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_pairs", "_pair_ids", "_outcomes", "_outcome_counts",
                "_outcome_index"]

    def _tables_to_policy(self) -> None:
        rows = [
            (s, a, s2, r, float(boot), count)
            for (s, a), outcomes, counts in zip(self._pairs, self._outcomes, self._outcome_counts)
            for (s2, r, boot), count in zip(outcomes, counts)
        ]
        self.policy.set_table("model", np.array(rows, dtype=np.float64).reshape(-1, len(MODEL_COLUMNS)))

    def _tables_from_policy(self) -> None:
        self._setup_tables_from_rows(self.policy.table("model"))

    def _setup_tables_from_rows(self, rows: np.ndarray) -> None:
        self._pairs, self._pair_ids, self._outcomes, self._outcome_counts, self._outcome_index = [], {}, [], [], []
        for s, a, s2, r, boot, count in rows.tolist():
            self._record(int(s), int(a), int(s2), r, bool(boot), int(count))

    def _record(self, s: int, a: int, s2: int, r: float, boot: bool, count: int = 1) -> None:
        """Model(s, a) <- (r, s'): add the outcome, or count it once more.

        A terminal outcome (no bootstrap) has no next state: what the env shows after it is the next
        episode's start, which says nothing about (s, a). It is recorded with ``s' = -1``, once per reward.
        """
        pair_id = self._pair_ids.get((s, a))
        if pair_id is None:
            pair_id = self._pair_ids[(s, a)] = len(self._pairs)
            self._pairs.append((s, a))
            self._outcomes.append([])
            self._outcome_counts.append([])
            self._outcome_index.append({})
        outcome = (s2 if boot else -1, r, boot)
        index = self._outcome_index[pair_id].get(outcome)
        if index is not None:
            self._outcome_counts[pair_id][index] += count
        else:
            self._outcome_index[pair_id][outcome] = len(self._outcomes[pair_id])
            self._outcomes[pair_id].append(outcome)
            self._outcome_counts[pair_id].append(count)

    def _update(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_states: np.ndarray,
        next_actions: np.ndarray | None,
        bootstrap: np.ndarray,
        alpha: float,
        epsilon: float,
    ) -> None:
        # 1. direct RL
        super()._update(states, actions, rewards, next_states, next_actions, bootstrap, alpha, epsilon)
        # 2. model learning
        for s, a, r, s2, boot in zip(states.tolist(), actions.tolist(), rewards.tolist(), next_states.tolist(), bootstrap.tolist()):
            self._record(s, a, s2, r, boot)
        # 3. planning: k simulated Q-learning updates per real step
        self._plan(self.n_planning_steps * len(states), alpha)

    def _plan(self, n_updates: int, alpha: float) -> None:
        rng, q, gamma = self._py_rng, self.q_table, self.gamma
        for _ in range(n_updates):
            pair_id = rng.randrange(len(self._pairs))
            s, a = self._pairs[pair_id]
            outcomes = self._outcomes[pair_id]
            if len(outcomes) == 1:
                s2, r, boot = outcomes[0]
            else:
                s2, r, boot = rng.choices(outcomes, weights=self._outcome_counts[pair_id])[0]
            target = r + gamma * max(q[s2].tolist()) if boot else r
            q[s, a] += alpha * (target - q[s, a])
