"""An AlphaZero-style policy-value prior for MCTS on the two-player board games (Silver et al., 2018).

With ``MCTS("AlphaZeroPolicy", "connect_four_v3")`` the search changes in two places, and ``learn()`` trains
the network it leans on by self-play:

1. **PUCT selection**: from a node, the legal move maximising ``Q(s, a) + c P(s, a) sqrt(N(s)) / (1 + N(s, a))``
   (``Q = 0`` for a move not tried yet; ``c`` is ``MCTS.c_uct``), where ``P(s, .)`` is the network's policy
   over the legal moves.
2. **Leaf evaluation instead of a rollout**: a new position is valued by the network's value head (for the
   player to move there); a finished game by its result. Values back up negamax-style, as in UCT.

**Self-play** (``learn(total_timesteps)``, a timestep being one move): each move searches from the current
position with Dirichlet noise mixed into the root priors (``(1 - eps) P + eps Dir(alpha)``), plays a move drawn
in proportion to the root visits for the first ``temperature_moves`` moves of a game and the most visited one
after, and records the position, the visit distribution ``pi`` and the player to move. When the game ends
every recorded position gets the result ``z`` (+1, 0, -1) seen by its player. After each game,
``gradient_steps`` Adam steps on batches from the last ``buffer_size`` positions minimise
``(z - v)^2 - pi . log p`` (weight decay on the parameters).

This search is plain Python around one network call per simulation; the compiled search
(:mod:`agents.mcts.fast`) stays the one without a prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from torch import nn
from torch.nn import functional as F

from agents.mcts.reference import signed
from agents.mcts.simulators import BoardGameSimulator

#: (priors over all actions, summing to 1 over the legal ones; value for the player to move)
Evaluator = Callable[[dict[str, np.ndarray]], tuple[np.ndarray, float]]


class PolicyValueNet(nn.Module):
    """Board planes ``(rows, cols, 2)`` (the mover's pieces, the opponent's) to move logits and a value in [-1, 1].

    :param n_inputs: ``rows * cols * 2``
    :param n_actions: moves of the game
    :param hidden: width of the two hidden layers
    """

    def __init__(self, n_inputs: int, n_actions: int, hidden: int = 128):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.policy_head = nn.Linear(hidden, n_actions)
        self.value_head = nn.Linear(hidden, 1)

    def forward(self, planes: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        x = self.body(planes.flatten(start_dim=1).float())
        return self.policy_head(x), th.tanh(self.value_head(x)).squeeze(-1)


class AlphaZeroPolicy(BasePolicy):
    """The learned part of an AlphaZero-style MCTS: a :class:`PolicyValueNet` and its optimizer.

    On its own (``policy.predict``) it plays the legal move of highest prior; :class:`~agents.mcts.MCTS`
    searches with it.

    :param observation_space: a board game's ``Dict`` space (``observation`` planes, ``action_mask``) or its planes' ``Box``
    :param action_space: ``Discrete``
    :param lr_schedule: learning-rate schedule (Adam)
    :param hidden: width of the network's hidden layers
    :param weight_decay: L2 penalty of Adam
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Discrete, lr_schedule: Callable[[float], float],
                 hidden: int = 128, weight_decay: float = 1e-4):
        super().__init__(observation_space, action_space)
        planes = observation_space["observation"] if isinstance(observation_space, spaces.Dict) else observation_space
        self.hidden, self.weight_decay = hidden, weight_decay
        self.net = PolicyValueNet(int(np.prod(planes.shape)), int(action_space.n), hidden)
        self.optimizer = th.optim.Adam(self.net.parameters(), lr=lr_schedule(1), weight_decay=weight_decay)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(hidden=self.hidden, weight_decay=self.weight_decay)
        return data

    def forward(self, obs: Any, deterministic: bool = True) -> th.Tensor:
        return self._predict(obs, deterministic)

    def _predict(self, observation: Any, deterministic: bool = True) -> th.Tensor:
        planes = observation["observation"] if isinstance(observation, dict) else observation
        logits, _ = self.net(th.as_tensor(planes, device=self.device))
        if isinstance(observation, dict) and "action_mask" in observation:
            mask = th.as_tensor(observation["action_mask"], device=self.device).reshape(logits.shape).bool()
            logits = logits.masked_fill(~mask, -th.inf)
        return logits.argmax(dim=-1)

    @th.no_grad()
    def evaluate(self, observation: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
        """Priors over the moves (0 on illegal ones) and the value of one position, for the player to move."""
        logits, value = self.net(th.as_tensor(observation["observation"][None], device=self.device))
        mask = np.asarray(observation["action_mask"], dtype=bool)
        logits = logits[0].cpu().numpy().astype(np.float64)
        logits[~mask] = -np.inf
        priors = np.exp(logits - logits[mask].max())
        return priors / priors.sum(), float(value[0])


@dataclass
class PUCTNode:
    """A position: the priors of its moves, and per move the visits ``N(s, a)``, total value ``W(s, a)``, child."""

    priors: np.ndarray
    legal: np.ndarray
    visits: np.ndarray = field(init=False)
    total: np.ndarray = field(init=False)
    children: dict[int, PUCTNode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.visits = np.zeros(len(self.priors), dtype=np.int64)
        self.total = np.zeros(len(self.priors))

    def select(self, c_puct: float) -> int:
        """The legal move of largest ``Q + c P sqrt(N) / (1 + n)`` (the lowest wins ties)."""
        n = self.visits.sum()
        q = np.divide(self.total, self.visits, out=np.zeros_like(self.total), where=self.visits > 0)
        score = q + c_puct * self.priors * math.sqrt(max(n, 1)) / (1.0 + self.visits)
        score[~self.legal] = -np.inf
        return int(np.argmax(score))


def new_node(sim: BoardGameSimulator, evaluate: Evaluator, observation: dict[str, np.ndarray] | None = None) -> tuple[PUCTNode, float]:
    """The node of the position ``sim`` holds, and the network's value of it for the player to move.

    :param observation: ``sim.observation()`` when the caller has it already
    """
    observation = sim.observation() if observation is None else observation
    priors, value = evaluate(observation)
    return PUCTNode(priors, np.asarray(observation["action_mask"], dtype=bool)), value


def puct_simulate(root: PUCTNode, sim: BoardGameSimulator, evaluate: Evaluator, c_puct: float) -> None:
    """One simulation from ``root`` (whose position ``sim`` holds; it is changed: restore it after)."""
    node, path = root, []
    while True:
        action = node.select(c_puct)
        mover = sim.to_move()
        reward, _ = sim.step(action)
        path.append((node, action, mover))
        if sim.is_terminal():  # the result: +1 to a mover who won, 0 for a draw
            value, seen_by = reward, mover
            break
        child = node.children.get(action)
        if child is None:
            child, value = new_node(sim, evaluate)
            node.children[action] = child
            seen_by = sim.to_move()
            break
        node = child
    for node, action, mover in path:
        node.visits[action] += 1
        node.total[action] += signed(value, seen_by, mover)


def puct_search(sim: BoardGameSimulator, evaluate: Evaluator, n_simulations: int, c_puct: float,
                rng: np.random.Generator | None = None, dirichlet_alpha: float = 0.3, noise: float = 0.0,
                observation: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """``n_simulations`` of PUCT from the position ``sim`` holds (left as it was); the root visits per move.

    :param rng: draws the Dirichlet noise (needed when ``noise > 0``)
    :param noise: share ``eps`` of Dirichlet noise in the root priors (self-play exploration; 0 to play)
    :param observation: ``sim.observation()`` of the root when the caller has it already
    """
    start = sim.snapshot()
    root, _ = new_node(sim, evaluate, observation)
    if noise > 0:
        assert rng is not None
        legal = np.flatnonzero(root.legal)
        root.priors = root.priors.copy()
        root.priors[legal] = (1 - noise) * root.priors[legal] + noise * rng.dirichlet([dirichlet_alpha] * len(legal))
    for _ in range(n_simulations):
        puct_simulate(root, sim, evaluate, c_puct)
        sim.restore(start)
    return root.visits


@dataclass
class SelfPlayGame:
    """One self-play game: its positions (planes, masks), visit distributions, and results for their movers."""

    planes: np.ndarray
    masks: np.ndarray
    pis: np.ndarray
    outcomes: np.ndarray
    moves: int


def self_play_game(game: str, evaluate: Evaluator, n_simulations: int, c_puct: float, rng: np.random.Generator,
                   temperature_moves: int, dirichlet_alpha: float, noise: float,
                   on_move: Callable[[], bool] | None = None) -> SelfPlayGame | None:
    """Play one game against itself from the empty board (see the module docstring).

    :param on_move: called after every move; a ``False`` return stops the game (then ``None`` is returned)
    """
    sim = BoardGameSimulator(game)
    planes, masks, pis, movers = [], [], [], []
    while not sim.is_terminal():
        observation = sim.observation()
        visits = puct_search(sim, evaluate, n_simulations, c_puct, rng, dirichlet_alpha, noise, observation)
        pi = visits / visits.sum()
        planes.append(observation["observation"])
        masks.append(observation["action_mask"])
        pis.append(pi)
        movers.append(sim.to_move())
        action = int(rng.choice(len(pi), p=pi)) if len(pis) <= temperature_moves else int(np.argmax(visits))
        sim.step(action)
        if on_move is not None and not on_move():
            return None
    winner = sim.winner()
    outcomes = np.array([0.0 if winner is None else (1.0 if mover == winner else -1.0) for mover in movers])
    return SelfPlayGame(np.array(planes), np.array(masks), np.array(pis), outcomes, len(movers))


def alphazero_loss(net: PolicyValueNet, planes: th.Tensor, pis: th.Tensor, outcomes: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
    """The value loss ``mean (z - v)^2`` and the policy loss ``mean -pi . log p`` of a batch."""
    logits, values = net(planes)
    value_loss = F.mse_loss(values, outcomes)
    policy_loss = -(pis * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
    return value_loss, policy_loss
