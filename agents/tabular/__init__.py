"""The zoo's tabular agents on Stable-Baselines3's ``BaseAlgorithm`` API.

``ExplorationBot`` (teaching baseline), ``QLearning``, ``SARSA``, ``ExpectedSARSA`` and ``DynaQ``
share :mod:`agents.tabular.core`; :mod:`agents.tabular.exact` evaluates a greedy policy exactly from
an env's transition table and :mod:`agents.tabular.vectorized` steps many copies of such an env in NumPy.
"""

from agents.tabular.core import StateIndexer, TabularAlgorithm, TabularPolicy
from agents.tabular.dyna_q import DynaQ
from agents.tabular.expected_sarsa import ExpectedSARSA
from agents.tabular.exploration_bot import ExplorationBot
from agents.tabular.qlearning import QLearning
from agents.tabular.sarsa import SARSA

__all__ = ["DynaQ", "ExpectedSARSA", "ExplorationBot", "QLearning", "SARSA", "StateIndexer", "TabularAlgorithm", "TabularPolicy"]
