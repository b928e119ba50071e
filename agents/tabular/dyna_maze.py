"""Dyna Maze: the 6 x 9 grid world of Sutton & Barto's Example 8.1 (Figure 8.2).

::

    . . . . . . . X G
    . . X . . . . X .
    S . X . . . . X .
    . . X . . . . . .
    . . . . . X . . .
    . . . . . . . . .

The agent starts at S (row 2, column 0) and the episode ends when it reaches G (row 0, column 8),
the only reward (+1). Moving into a wall (X) or off the grid leaves it where it is. The shortest
path takes 14 steps. In the book gamma is 0.95, so a shorter path is worth more.

Observation: ``row * 9 + column`` (``Discrete(54)``; the wall cells are never visited). Actions, as
in gymnasium's toy-text grids: 0 left, 1 down, 2 right, 3 up. Like those envs it exposes its
transition table ``P[s][a] = [(probability, next_state, reward, terminated)]`` and
``initial_state_distrib``, for value iteration and :mod:`agents.tabular.vectorized`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

MAP = (
    ".......XG",
    "..X....X.",
    "S.X....X.",
    "..X......",
    ".....X...",
    ".........",
)
N_ROWS, N_COLS = len(MAP), len(MAP[0])
#: row and column change of each action: left, down, right, up
MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))


class DynaMazeEnv(gym.Env):
    """The Dyna Maze of Sutton & Barto's Example 8.1 (see the module docstring).

    :param render_mode: ``"ansi"`` (the grid as text), ``"rgb_array"`` (an image) or ``None``
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    #: pixels per cell of the ``rgb_array`` image
    cell_size = 32

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = spaces.Discrete(N_ROWS * N_COLS)
        self.action_space = spaces.Discrete(len(MOVES))
        self.render_mode = render_mode
        self.start = self._find("S")
        self.goal = self._find("G")
        self.P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {
            s: {a: [self._transition(s, a)] for a in range(len(MOVES))} for s in range(N_ROWS * N_COLS)
        }
        self.initial_state_distrib = np.zeros(N_ROWS * N_COLS)
        self.initial_state_distrib[self.start] = 1.0
        self.s = self.start
        self.lastaction: int | None = None

    @staticmethod
    def _find(letter: str) -> int:
        return next(r * N_COLS + c for r, line in enumerate(MAP) for c, cell in enumerate(line) if cell == letter)

    def _transition(self, state: int, action: int) -> tuple[float, int, float, bool]:
        if state == self.goal:  # absorbing, like the toy-text envs' terminal states
            return 1.0, state, 0.0, True
        row, col = divmod(state, N_COLS)
        new_row, new_col = row + MOVES[action][0], col + MOVES[action][1]
        if not (0 <= new_row < N_ROWS and 0 <= new_col < N_COLS) or MAP[new_row][new_col] == "X":
            new_row, new_col = row, col
        next_state = new_row * N_COLS + new_col
        reached = next_state == self.goal
        return 1.0, next_state, float(reached), reached

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.s, self.lastaction = self.start, None
        return int(self.s), {"prob": 1.0}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        probability, self.s, reward, terminated = self.P[self.s][int(action)][0]
        self.lastaction = int(action)
        return int(self.s), reward, terminated, False, {"prob": probability}

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self._image()
        if self.render_mode != "ansi":
            return None
        rows = [list(line.replace("S", ".")) for line in MAP]
        row, col = divmod(self.s, N_COLS)
        rows[row][col] = "A"
        return "\n".join(" ".join(line) for line in rows) + "\n"

    def _image(self) -> np.ndarray:
        """Walls black, free cells white, start light blue, goal green, the agent red."""
        colours = {".": (255, 255, 255), "X": (40, 40, 40), "S": (190, 215, 255), "G": (60, 180, 75)}
        size = self.cell_size
        image = np.zeros((N_ROWS * size, N_COLS * size, 3), dtype=np.uint8)
        for r, line in enumerate(MAP):
            for c, cell in enumerate(line):
                image[r * size : (r + 1) * size, c * size : (c + 1) * size] = colours[cell]
        image[::size, :] = image[:, ::size] = (150, 150, 150)  # grid lines
        row, col = divmod(self.s, N_COLS)
        margin = size // 4
        image[row * size + margin : (row + 1) * size - margin, col * size + margin : (col + 1) * size - margin] = (220, 40, 40)
        return image
