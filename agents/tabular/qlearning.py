"""Q-learning (Watkins, 1989): off-policy TD control.

    Q(s, a) <- Q(s, a) + alpha * [r + gamma * max_a' Q(s', a') - Q(s, a)]

The behaviour policy is epsilon-greedy on Q; the target is the greedy value of the next state, so Q
converges to Q* whatever the exploration (Sutton & Barto, section 6.5).
"""

from __future__ import annotations

import numpy as np

from agents.tabular.core import TabularAlgorithm


class QLearning(TabularAlgorithm):
    """Tabular Q-learning on SB3's ``BaseAlgorithm`` API.

    ``QLearning("TabularPolicy", "Taxi-v4").learn(200_000)``. The parameters are those of
    :class:`agents.tabular.core.TabularAlgorithm` (``alpha``, ``gamma``, ``epsilon`` and its schedule).
    """

    def _bootstrap_values(self, next_states: np.ndarray, next_actions: np.ndarray | None, epsilon: float) -> np.ndarray | list[float]:
        if len(next_states) == 1:
            return [max(self.q_table[next_states[0]].tolist())]  # one env: a plain list is enough
        return self.q_table[next_states].max(axis=1)
