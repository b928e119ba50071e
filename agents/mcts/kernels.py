"""Game rules and a random-number generator as small numba functions, shared by both searches.

Every game is a state in a flat NumPy array (``int64`` for board games and transition tables, ``float64``
for CartPole) and four functions of it, written in the subset of Python numba compiles:

- ``legal(params, state, out) -> n``: writes the legal actions, ascending, into ``out[:n]``;
- ``step(params, state, action, u) -> (reward, outcome)``: plays ``action`` in place; ``reward`` goes to the
  player who moved, ``outcome`` numbers the chance outcome drawn with ``u`` (uniform in [0, 1); 0 when the
  game is deterministic);
- ``terminal(params, state) -> bool`` and ``player(params, state) -> int`` (the player to move, 0 or 1);
- ``winning(params, state, actions, n) -> action``: one of ``actions[:n]`` that wins on the spot, or -1
  (the ``"decisive"`` rollouts play it; games without such moves return -1).

``params`` holds what a game needs besides its state (the transition table of a toy-text env; a dummy
array for the board games). The reference search (:mod:`agents.mcts.reference`) calls these functions from
Python through :mod:`agents.mcts.simulators`; the fast search (:mod:`agents.mcts.fast`) compiles them into its
loop. Both draw their random numbers from :func:`next_uniform` (SplitMix64), so the same seed gives the same
search in both.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --- the random numbers both searches share ----------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_MASK = (1 << 64) - 1


@njit(cache=True)
def next_uniform(rng: np.ndarray) -> float:
    """A uniform float in [0, 1) from the SplitMix64 generator whose state is ``rng[0]`` (a uint64 array)."""
    rng[0] += _GOLDEN
    z = rng[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return float(z >> _S11) * (1.0 / 9007199254740992.0)


class SplitMix64:
    """The same generator in plain Python (for the reference search).

    :param seed: the initial state
    """

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def random(self) -> float:
        """A uniform float in [0, 1)."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z = z ^ (z >> 31)
        return (z >> 11) * (1.0 / 9007199254740992.0)


# --- k in a row on a board: tic-tac-toe and connect four -------------------------------------------------------
# state: cells (0 empty, 1 the first player's, 2 the second's), then to-move, pieces played, status
# (0 playing, 1 the last mover won, 2 a draw). Cell r * n_cols + c is row r (0 at the top), column c.

#: board shape, line length and whether pieces fall to the lowest empty cell, by game
BOARDS = {"tictactoe": (3, 3, 3, False), "connect_four": (6, 7, 4, True)}
STATUS_PLAYING, STATUS_WON, STATUS_DRAW = 0, 1, 2


def board_state_size(n_rows: int, n_cols: int) -> int:
    return n_rows * n_cols + 3


@njit(cache=True, inline="always")
def _line_length(state, n_rows, n_cols, row, col, d_row, d_col, piece):
    """How many of ``piece`` run through (row, col) along direction (d_row, d_col), the cell included."""
    count = 1
    r, c = row + d_row, col + d_col
    while 0 <= r < n_rows and 0 <= c < n_cols and state[r * n_cols + c] == piece:
        count += 1
        r += d_row
        c += d_col
    r, c = row - d_row, col - d_col
    while 0 <= r < n_rows and 0 <= c < n_cols and state[r * n_cols + c] == piece:
        count += 1
        r -= d_row
        c -= d_col
    return count


@njit(cache=True)
def board_status(state, n_rows, n_cols, k):
    """The status of a board set from an observation: won (by either side), drawn or playing."""
    n_cells = n_rows * n_cols
    for cell in range(n_cells):
        piece = state[cell]
        if piece == 0:
            continue
        row, col = cell // n_cols, cell % n_cols
        if (_line_length(state, n_rows, n_cols, row, col, 0, 1, piece) >= k
                or _line_length(state, n_rows, n_cols, row, col, 1, 0, piece) >= k
                or _line_length(state, n_rows, n_cols, row, col, 1, 1, piece) >= k
                or _line_length(state, n_rows, n_cols, row, col, 1, -1, piece) >= k):
            return STATUS_WON
    for cell in range(n_cells):
        if state[cell] == 0:
            return STATUS_PLAYING
    return STATUS_DRAW


def make_board_kernels(n_rows: int, n_cols: int, k: int, gravity: bool):
    """The four game functions of a k-in-a-row game on an ``n_rows`` x ``n_cols`` board."""
    n_cells = n_rows * n_cols
    n_actions = n_cols if gravity else n_cells
    to_move_at, count_at, status_at = n_cells, n_cells + 1, n_cells + 2

    @njit  # a closure: compiled per game, not cached on disk
    def legal(params, state, out):
        n = 0
        for a in range(n_actions):
            if state[a] == 0:  # with gravity, a column is open while its top cell is empty
                out[n] = a
                n += 1
        return n

    @njit  # a closure: compiled per game, not cached on disk
    def step(params, state, action, u):
        piece = state[to_move_at] + 1
        cell = action
        if gravity:
            cell = (n_rows - 1) * n_cols + action
            while state[cell] != 0:
                cell -= n_cols
        state[cell] = piece
        state[count_at] += 1
        row, col = cell // n_cols, cell % n_cols
        won = state[count_at] >= 2 * k - 1 and (_line_length(state, n_rows, n_cols, row, col, 0, 1, piece) >= k
               or _line_length(state, n_rows, n_cols, row, col, 1, 0, piece) >= k
               or _line_length(state, n_rows, n_cols, row, col, 1, 1, piece) >= k
               or _line_length(state, n_rows, n_cols, row, col, 1, -1, piece) >= k)
        state[to_move_at] = 1 - state[to_move_at]
        if won:
            state[status_at] = STATUS_WON
            return 1.0, 0
        if state[count_at] == n_cells:
            state[status_at] = STATUS_DRAW
        return 0.0, 0

    @njit  # a closure: compiled per game, not cached on disk
    def terminal(params, state):
        return state[status_at] != STATUS_PLAYING

    @njit  # a closure: compiled per game, not cached on disk
    def winning(params, state, actions, n):
        if state[count_at] + 1 < 2 * k - 1:
            return -1
        piece = state[to_move_at] + 1
        for i in range(n):
            cell = actions[i]
            if gravity:
                cell = (n_rows - 1) * n_cols + actions[i]
                while state[cell] != 0:
                    cell -= n_cols
            row, col = cell // n_cols, cell % n_cols
            state[cell] = piece
            won = (_line_length(state, n_rows, n_cols, row, col, 0, 1, piece) >= k
                   or _line_length(state, n_rows, n_cols, row, col, 1, 0, piece) >= k
                   or _line_length(state, n_rows, n_cols, row, col, 1, 1, piece) >= k
                   or _line_length(state, n_rows, n_cols, row, col, 1, -1, piece) >= k)
            state[cell] = 0
            if won:
                return actions[i]
        return -1

    @njit  # a closure: compiled per game, not cached on disk
    def player(params, state):
        return state[to_move_at]

    return legal, step, terminal, player, winning


# --- a toy-text MDP from its transition table ---------------------------------------------------------------
# state: [s, done]. params: (starts, counts, probs, next_states, rewards, dones, n_actions) where the
# outcomes of (s, a) are rows starts[s, a] ... starts[s, a] + counts[s, a] - 1 of the flat outcome arrays.


@njit(cache=True)
def table_legal(params, state, out):
    n_actions = params[0].shape[1]
    for a in range(n_actions):
        out[a] = a
    return n_actions


@njit(cache=True)
def table_row(params, s, action, u):
    """The row of the outcome of ``(s, action)`` that ``u`` in [0, 1) picks: the inverse CDF of its probabilities."""
    starts, counts, probs = params[0], params[1], params[2]
    first, n = starts[s, action], counts[s, action]
    j = 0
    cumulative = probs[first]
    while j < n - 1 and u >= cumulative:  # the last outcome takes any rounding left over
        j += 1
        cumulative += probs[first + j]
    return first + j


@njit(cache=True)
def table_step(params, state, action, u):
    starts, next_states, rewards, dones = params[0], params[3], params[4], params[5]
    first = starts[state[0], action]
    row = table_row(params, state[0], action, u)
    state[0] = next_states[row]
    state[1] = dones[row]
    return rewards[row], row - first


@njit(cache=True)
def table_terminal(params, state):
    return state[1] != 0


@njit(cache=True)
def single_player(params, state):
    return 0


@njit(cache=True)
def no_winning_move(params, state, actions, n):
    return -1


# --- CartPole-v1 (gymnasium's physics, Euler integration) -----------------------------------------------------
# state: [x, x_dot, theta, theta_dot, steps, done]. params: [max_steps].

_GRAVITY, _MASSCART, _MASSPOLE, _LENGTH, _FORCE_MAG, _TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
_TOTAL_MASS = _MASSPOLE + _MASSCART
_POLEMASS_LENGTH = _MASSPOLE * _LENGTH
_THETA_LIMIT = 12 * 2 * np.pi / 360
_X_LIMIT = 2.4


@njit(cache=True)
def cartpole_legal(params, state, out):
    out[0] = 0
    out[1] = 1
    return 2


@njit(cache=True)
def cartpole_step(params, state, action, u):
    x, x_dot, theta, theta_dot = state[0], state[1], state[2], state[3]
    force = _FORCE_MAG if action == 1 else -_FORCE_MAG
    costheta, sintheta = np.cos(theta), np.sin(theta)
    temp = (force + _POLEMASS_LENGTH * theta_dot * theta_dot * sintheta) / _TOTAL_MASS
    thetaacc = (_GRAVITY * sintheta - costheta * temp) / (
        _LENGTH * (4.0 / 3.0 - _MASSPOLE * costheta * costheta / _TOTAL_MASS))
    xacc = temp - _POLEMASS_LENGTH * thetaacc * costheta / _TOTAL_MASS
    state[0] = x + _TAU * x_dot
    state[1] = x_dot + _TAU * xacc
    state[2] = theta + _TAU * theta_dot
    state[3] = theta_dot + _TAU * thetaacc
    state[4] += 1.0
    fell = state[0] < -_X_LIMIT or state[0] > _X_LIMIT or state[2] < -_THETA_LIMIT or state[2] > _THETA_LIMIT
    if fell or state[4] >= params[0]:
        state[5] = 1.0
    return 1.0, 0


@njit(cache=True)
def cartpole_terminal(params, state):
    return state[5] != 0.0
