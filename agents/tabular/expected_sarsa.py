"""Expected SARSA (van Seijen et al., 2009): SARSA with the expectation over the next action.

    Q(s, a) <- Q(s, a) + alpha * [r + gamma * sum_a' pi(a'|s') Q(s', a') - Q(s, a)]

For the epsilon-greedy policy pi, ``sum_a' pi(a'|s') Q(s', a') = (1 - epsilon) max_a' Q(s', a')
+ epsilon * mean_a' Q(s', a')``: the randomness of A' is averaged out (Sutton & Barto, section 6.6).
"""

from __future__ import annotations

import numpy as np

from agents.tabular.core import TabularAlgorithm


class ExpectedSARSA(TabularAlgorithm):
    """Tabular Expected SARSA on SB3's ``BaseAlgorithm`` API.

    The parameters are those of :class:`agents.tabular.core.TabularAlgorithm`; the expectation uses
    the exploration rate of the moment.
    """

    def _bootstrap_values(self, next_states: np.ndarray, next_actions: np.ndarray | None, epsilon: float) -> np.ndarray:
        q_next = self.q_table[next_states]
        return (1.0 - epsilon) * q_next.max(axis=1) + epsilon * q_next.mean(axis=1)
