"""Monte Carlo tree search: UCT on a simulator of the env, on SB3's ``BaseAlgorithm`` API (see ``algorithm``)."""

from agents.mcts.algorithm import MCTS, MCTSPolicy
from agents.mcts.simulators import Simulator, make_simulator

__all__ = ["MCTS", "MCTSPolicy", "Simulator", "make_simulator"]
