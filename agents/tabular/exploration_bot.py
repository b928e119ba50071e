"""The exploration bot: a teaching baseline, not a reinforcement-learning algorithm.

It remembers the average immediate reward of every state-action pair and acts epsilon-greedily on
those averages:

    AvgR(s, a) = (sum of rewards observed after (s, a)) / (number of times (s, a) was taken)

No Bellman update, no discounting: it never learns that an action pays off later. It shows the
agent-environment loop and the exploration-exploitation trade-off, and gives a floor the real
algorithms should beat (Taxi's -1 per step looks the same for every move, so it cannot plan a route).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.type_aliases import GymEnv

from agents.tabular.core import TabularAlgorithm, TabularPolicy


class ExplorationBot(TabularAlgorithm):
    """Epsilon-greedy on the average immediate reward of each state-action pair (a teaching baseline).

    The policy's Q-table holds ``AvgR(s, a)`` (0 for pairs never tried), next to the two tables it is
    computed from, ``reward_sum`` and ``visit_count``; all three are saved.

    :param policy: ``"TabularPolicy"`` (or the class)
    :param env: the environment (a gymnasium env, an env id, or an SB3 ``VecEnv``)
    :param epsilon: exploration rate (its initial value if it decays)
    :param epsilon_final: exploration rate at the end of the decay; ``None`` keeps ``epsilon`` constant
    :param epsilon_decay: shape of the decay: ``"linear"`` or ``"exponential"``
    :param epsilon_decay_per: ``"step"`` or ``"episode"``
    :param epsilon_decay_length: a fraction of the timesteps (per step) or a number of episodes (per episode)
    :param policy_kwargs: extra arguments of the policy
    :param stats_window_size: number of episodes averaged in the ``rollout/`` logs
    :param tensorboard_log: folder for tensorboard logs (``None``: none)
    :param verbose: 0 silent, 1 training logs
    :param seed: seed of every random choice and of the env
    :param device: accepted for SB3 compatibility; the tables live on the CPU
    :param _init_setup_model: build the tables now
    """

    def __init__(
        self,
        policy: str | type[TabularPolicy],
        env: GymEnv | str | None,
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
        super().__init__(
            policy,
            env,
            alpha=0.0,  # unused: averages, not TD steps
            gamma=0.0,  # only the immediate reward counts
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

    def _setup_tables(self) -> None:
        shape = (self.policy.n_states, self.policy.n_actions)
        self.policy.add_table("reward_sum", shape)
        self.policy.add_table("visit_count", shape)

    def _refresh_views(self) -> None:
        super()._refresh_views()
        self.reward_sum = self.policy.table("reward_sum")
        self.visit_count = self.policy.table("visit_count")

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "reward_sum", "visit_count"]

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
        # remember the reward in mem[s][a]; the next state plays no part
        for s, a, r in zip(states.tolist(), actions.tolist(), rewards.tolist()):
            self.reward_sum[s, a] += r
            self.visit_count[s, a] += 1
            self.q_table[s, a] = self.reward_sum[s, a] / self.visit_count[s, a]
