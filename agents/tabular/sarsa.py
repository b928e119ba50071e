"""SARSA (Rummery & Niranjan, 1994): on-policy TD control.

    choose A' from S' epsilon-greedily, then
    Q(s, a) <- Q(s, a) + alpha * [r + gamma * Q(s', a') - Q(s, a)]

and A' is the action taken next: Q follows the value of the exploring policy itself, which keeps
SARSA away from risky paths (the cliff of Sutton & Barto's Example 6.6).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from agents.tabular.core import TabularAlgorithm


class SARSA(TabularAlgorithm):
    """Tabular SARSA on SB3's ``BaseAlgorithm`` API.

    The parameters are those of :class:`agents.tabular.core.TabularAlgorithm`. After a time-limit
    truncation, A' is drawn from the epsilon-greedy policy in the last state (it is not executed).
    """

    chooses_next_action_first: ClassVar[bool] = True

    def _bootstrap_values(self, next_states: np.ndarray, next_actions: np.ndarray | None, epsilon: float) -> np.ndarray:
        assert next_actions is not None
        return self.q_table[next_states, next_actions]
