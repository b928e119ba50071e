"""The simulator interface the search runs on, and its implementations.

A :class:`Simulator` is a game or MDP whose state can be saved and put back: the search plays thousands
of moves ahead from the state an observation describes, restoring that state before each simulation.
Implementations here:

- :class:`BoardGameSimulator`: PettingZoo classic ``tictactoe_v3`` and ``connect_four_v3``. A deep copy of
  these envs does not keep their board, so the simulator keeps its own: the state is rebuilt from the
  observation of the player to move (``{"observation": planes, "action_mask": ...}``) alone.
- :class:`TransitionTableSimulator`: gymnasium toy-text envs from their transition table ``unwrapped.P``
  (FrozenLake, Taxi, CliffWalking, the zoo's DynaMaze-v0), stochastic outcomes included.
- :class:`CartPoleSimulator`: CartPole-v1, whose state can be set.

Every simulator keeps its state in one NumPy array and its rules in :mod:`agents.mcts.kernels`, the same
functions the compiled search runs. Another env plugs in by implementing the protocol (and, for the fast
search, the kernel functions); :func:`make_simulator` says in one line what an env without any is missing.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from agents.errors import ZooError
from agents.mcts import kernels

#: PettingZoo classic games the search can play, by the env's metadata name
BOARD_GAMES = {"tictactoe_v3": "tictactoe", "connect_four_v3": "connect_four"}

NEEDS_SIMULATOR = (
    "MCTS needs a simulator: a PettingZoo tictactoe_v3/connect_four_v3 env, a gymnasium env with a transition "
    "table (unwrapped.P, as in the toy-text envs), CartPole-v1, or your own agents.mcts.Simulator as simulator="
)


@runtime_checkable
class Simulator(Protocol):
    """What the search needs from a game or an MDP.

    ``n_players`` is 1 (an MDP) or 2 (a zero-sum game, rewards going to the player who moved: the search
    backs values up negamax-style, a value for one player being minus that for the other).
    """

    n_actions: int
    n_players: int
    #: whether steps have several outcomes (chance nodes in the tree)
    stochastic: bool

    def legal_actions(self) -> np.ndarray:
        """The legal actions in the current state, ascending."""

    def step(self, action: int, u: float = 0.0) -> tuple[float, int]:
        """Play ``action``; ``u`` in [0, 1) picks the chance outcome. Returns (reward to the mover, outcome index)."""

    def chance_outcomes(self, action: int) -> list[tuple[float, int]]:
        """``(probability, outcome index)`` of each outcome of ``action`` in the current state."""

    def is_terminal(self) -> bool:
        """Whether the game or episode is over."""

    def to_move(self) -> int:
        """The player to move (0 or 1; always 0 in an MDP)."""

    def returns(self) -> np.ndarray:
        """Each player's total reward since the state was set from an observation."""

    def snapshot(self) -> Any:
        """A copy of the whole state."""

    def restore(self, snapshot: Any) -> None:
        """Put back a state :meth:`snapshot` returned."""

    def set_from_observation(self, observation: Any) -> None:
        """Set the state an observation of the env describes."""


class KernelSimulator:
    """A simulator whose rules are the numba kernel functions of :mod:`agents.mcts.kernels`.

    :param kind: name of the game (for messages and the fast search's cache)
    :param state: the initial state array
    :param params: the kernels' extra data
    :param kernel_functions: ``(legal, step, terminal, player, winning)``
    :param n_actions: size of the action space
    :param n_players: 1 or 2
    :param stochastic: whether steps have chance outcomes
    """

    def __init__(self, kind: str, state: np.ndarray, params: Any, kernel_functions: tuple, n_actions: int,
                 n_players: int, stochastic: bool) -> None:
        self.kind = kind
        self.state = state
        self.params = params
        self.kernel_functions = kernel_functions
        self._legal, self._step, self._terminal, self._player, self._winning = kernel_functions
        self.n_actions = n_actions
        self.n_players = n_players
        self.stochastic = stochastic
        self._rewards = np.zeros(n_players)
        self._actions = np.zeros(n_actions, dtype=np.int64)

    def legal_actions(self) -> np.ndarray:
        n = self._legal(self.params, self.state, self._actions)
        return self._actions[:n].copy()

    def step(self, action: int, u: float = 0.0) -> tuple[float, int]:
        mover = self.to_move()
        reward, outcome = self._step(self.params, self.state, int(action), float(u))
        self._rewards[mover] += reward
        if self.n_players == 2:  # zero-sum
            self._rewards[1 - mover] -= reward
        return float(reward), int(outcome)

    def chance_outcomes(self, action: int) -> list[tuple[float, int]]:
        return [(1.0, 0)]

    def winning_move(self, legal: np.ndarray) -> int:
        """One of ``legal`` that wins on the spot, or -1."""
        return int(self._winning(self.params, self.state, np.asarray(legal, dtype=np.int64), len(legal)))

    def is_terminal(self) -> bool:
        return bool(self._terminal(self.params, self.state))

    def to_move(self) -> int:
        return int(self._player(self.params, self.state))

    def returns(self) -> np.ndarray:
        return self._rewards.copy()

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        return self.state.copy(), self._rewards.copy()

    def restore(self, snapshot: tuple[np.ndarray, np.ndarray]) -> None:
        self.state[:] = snapshot[0]
        self._rewards[:] = snapshot[1]

    def set_from_observation(self, observation: Any) -> None:
        raise NotImplementedError

    def observation(self) -> Any:
        """The observation the env would give in this state (what a rollout policy sees)."""
        raise NotImplementedError


class BoardGameSimulator(KernelSimulator):
    """Tic-tac-toe or connect four, the board kept as PettingZoo's classic envs number it.

    Cell ``r * n_cols + c`` is the observation's ``[r, c]``; a tic-tac-toe action is a cell, a connect four
    action a column. The state does not say which colour moves, only that the mover's pieces are plane 0 of
    the observation: both games' rules are the same for either colour.

    :param game: ``"tictactoe"`` or ``"connect_four"``
    """

    def __init__(self, game: str) -> None:
        n_rows, n_cols, k, gravity = kernels.BOARDS[game]
        self.game, self.n_rows, self.n_cols, self.k, self.gravity = game, n_rows, n_cols, k, gravity
        self.n_cells = n_rows * n_cols
        state = np.zeros(kernels.board_state_size(n_rows, n_cols), dtype=np.int64)
        super().__init__(game, state, np.zeros(1), board_kernels(game), n_cols if gravity else self.n_cells,
                         n_players=2, stochastic=False)

    def set_from_observation(self, observation: Any) -> None:
        planes = np.asarray(observation["observation"] if isinstance(observation, dict) else observation)
        if planes.shape != (self.n_rows, self.n_cols, 2):
            raise ZooError(f"a {self.game} observation has planes of shape {(self.n_rows, self.n_cols, 2)}, "
                           f"got {planes.shape}")
        flat = planes.reshape(self.n_cells, 2) != 0
        if (flat[:, 0] & flat[:, 1]).any():
            raise ZooError(f"a {self.game} observation has a cell in both planes")
        cells = self.state[: self.n_cells]
        cells[:] = flat[:, 0]
        cells += 2 * flat[:, 1]  # 1: the mover's piece, 2: the opponent's
        self.state[self.n_cells] = 0  # the mover plays piece 1
        self.state[self.n_cells + 1] = np.count_nonzero(cells)
        self.state[self.n_cells + 2] = kernels.board_status(self.state, self.n_rows, self.n_cols, self.k)
        self._rewards[:] = 0

    def observation(self) -> dict[str, np.ndarray]:
        cells = self.state[: self.n_cells].reshape(self.n_rows, self.n_cols)
        mover = self.state[self.n_cells] + 1
        planes = np.stack([cells == mover, cells == 3 - mover], axis=2).astype(np.int8)
        mask = np.zeros(self.n_actions, dtype=np.int8)
        if not self.is_terminal():
            mask[self.legal_actions()] = 1
        return {"observation": planes, "action_mask": mask}

    def winner(self) -> int | None:
        """The player (0 or 1, by move order from the state set) who won, or None (a draw or not over)."""
        if self.state[self.n_cells + 2] != kernels.STATUS_WON:
            return None
        return int(1 - self.state[self.n_cells])  # the last mover won


_BOARD_KERNELS: dict[str, tuple] = {}


def board_kernels(game: str) -> tuple:
    """The compiled rules of a board game (made once per process)."""
    if game not in _BOARD_KERNELS:
        _BOARD_KERNELS[game] = kernels.make_board_kernels(*kernels.BOARDS[game])
    return _BOARD_KERNELS[game]


class TransitionTableSimulator(KernelSimulator):
    """A toy-text MDP stepped from its table ``P[s][a] = [(probability, next state, reward, done), ...]``.

    Outcomes of the same ``(s, a)`` with the same next state, reward and end are merged into one (FrozenLake
    lists a wall bump twice); outcome ``j`` of a step is the ``j``-th merged one.

    :param table: the ``P`` dict of a toy-text env
    :param n_states: number of states
    :param n_actions: number of actions
    """

    def __init__(self, table: dict, n_states: int, n_actions: int) -> None:
        starts = np.zeros((n_states, n_actions), dtype=np.int64)
        counts = np.zeros((n_states, n_actions), dtype=np.int64)
        probs, next_states, rewards, dones = [], [], [], []
        for s in range(n_states):
            for a in range(n_actions):
                merged: dict[tuple[int, float, bool], float] = {}
                for p, s_next, r, done in table[s][a]:
                    if p > 0:
                        key = (int(s_next), float(r), bool(done))
                        merged[key] = merged.get(key, 0.0) + float(p)
                starts[s, a], counts[s, a] = len(probs), len(merged)
                total = sum(merged.values())
                for (s_next, r, done), p in merged.items():
                    probs.append(p / total)
                    next_states.append(s_next)
                    rewards.append(r)
                    dones.append(int(done))
        params = (starts, counts, np.array(probs), np.array(next_states, dtype=np.int64), np.array(rewards),
                  np.array(dones, dtype=np.int64))
        self.n_states = n_states
        functions = (kernels.table_legal, kernels.table_step, kernels.table_terminal, kernels.single_player,
                     kernels.no_winning_move)
        super().__init__("table", np.zeros(2, dtype=np.int64), params, functions, n_actions, n_players=1,
                         stochastic=bool(counts.max() > 1))

    def chance_outcomes(self, action: int) -> list[tuple[float, int]]:
        starts, counts, probs = self.params[0], self.params[1], self.params[2]
        first, n = starts[self.state[0], action], counts[self.state[0], action]
        return [(float(probs[first + j]), j) for j in range(n)]

    def set_from_observation(self, observation: Any) -> None:
        s = int(np.asarray(observation).reshape(-1)[0])
        if not 0 <= s < self.n_states:
            raise ZooError(f"observation {s} is outside the transition table's {self.n_states} states")
        self.state[:] = (s, 0)
        self._rewards[:] = 0

    def observation(self) -> int:
        return int(self.state[0])

    def pays_on_entry(self) -> np.ndarray:
        """For each state, whether some transition ending the episode there pays a positive reward (a goal)."""
        goal = np.zeros(self.n_states, dtype=bool)
        _, _, _, next_states, rewards, dones = self.params
        goal[next_states[(rewards > 0) & (dones != 0)]] = True
        return goal


class CartPoleSimulator(KernelSimulator):
    """CartPole-v1 with gymnasium's physics; the state is the observation (4 numbers) and a step count.

    :param max_steps: steps after which an episode counts as over (CartPole-v1 truncates at 500; the search's
        horizon usually ends simulations first)
    """

    def __init__(self, max_steps: float = np.inf) -> None:
        functions = (kernels.cartpole_legal, kernels.cartpole_step, kernels.cartpole_terminal, kernels.single_player,
                     kernels.no_winning_move)
        super().__init__("cartpole", np.zeros(6), np.array([float(max_steps)]), functions, 2, n_players=1,
                         stochastic=False)

    def set_from_observation(self, observation: Any) -> None:
        values = np.asarray(observation, dtype=np.float64).reshape(-1)
        if values.shape != (4,):
            raise ZooError(f"a CartPole observation has 4 numbers, got {values.shape[0]}")
        self.state[:4] = values
        self.state[4:] = 0.0
        self._rewards[:] = 0

    def observation(self) -> np.ndarray:
        return self.state[:4].astype(np.float32)


def board_game_name(env: Any) -> str | None:
    """The PettingZoo classic game ``env`` plays (``"tictactoe_v3"``), or None for another env."""
    metadata = getattr(getattr(env, "unwrapped", env), "metadata", None) or {}
    name = metadata.get("name")
    return name if name in BOARD_GAMES else None


def make_simulator(env: Any) -> KernelSimulator:
    """The simulator of ``env``: a PettingZoo classic game, a toy-text env, CartPole, or a one-line error."""
    game = board_game_name(env)
    if game is not None:
        return BoardGameSimulator(BOARD_GAMES[game])
    unwrapped = getattr(env, "unwrapped", env)
    table = getattr(unwrapped, "P", None)
    if isinstance(table, dict):
        n_states = int(getattr(unwrapped.observation_space, "n", len(table)))
        return TransitionTableSimulator(table, n_states, int(unwrapped.action_space.n))
    if type(unwrapped).__name__ == "CartPoleEnv":
        return CartPoleSimulator()
    name = getattr(getattr(unwrapped, "spec", None), "id", None) or type(unwrapped).__name__
    raise ZooError(f"{name} offers no simulator. {NEEDS_SIMULATOR}")
