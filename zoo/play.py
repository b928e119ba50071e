"""``zoo play``: a person plays a turn-based PettingZoo game against an agent, in the terminal.

The board is drawn from the observation of the person's seat (two planes: the person's pieces, the
agent's), so any PettingZoo classic game observed as ``{"observation": rows x cols x 2, "action_mask"}``
works: tic-tac-toe (a move is a cell) and connect four (a move is a column). Moves are typed as numbers;
an illegal one is refused with the legal ones listed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from zoo.errors import ZooError

PIECES = {0: "X", 1: "O"}  # the person's, the agent's


def make_game(env_id: str) -> Any:
    """The PettingZoo classic env ``env_id`` (``tictactoe_v3``, ``connect_four_v3``, ...)."""
    try:
        module = importlib.import_module(f"pettingzoo.classic.{env_id}")
    except ImportError:
        raise ZooError(f"zoo play plays PettingZoo classic games such as tictactoe_v3 or connect_four_v3, "
                       f"not {env_id!r}") from None
    return module.env()


def draw_board(obs: dict[str, np.ndarray]) -> str:
    """The board as text, seen from the person's seat: X the person's pieces, O the agent's.

    Empty cells show their move number when a move is a cell; when a move is a column (connect four),
    the column numbers are written under the board.
    """
    planes = np.asarray(obs["observation"])
    if planes.ndim != 3 or planes.shape[2] != 2:
        raise ZooError(f"zoo play draws boards observed as rows x columns x 2 planes, not {planes.shape}")
    n_rows, n_cols, _ = planes.shape
    n_actions = len(obs["action_mask"])
    by_cell = n_actions == n_rows * n_cols
    width = len(str(n_actions - 1)) if by_cell else 1
    lines = []
    for row in range(n_rows):
        cells = []
        for col in range(n_cols):
            if planes[row, col, 0]:
                cells.append(PIECES[0].rjust(width))
            elif planes[row, col, 1]:
                cells.append(PIECES[1].rjust(width))
            else:
                cells.append(str(row * n_cols + col).rjust(width) if by_cell else ".")
        lines.append(" " + " ".join(cells))
    if not by_cell:
        lines.append(" " + " ".join(str(col) for col in range(n_cols)))
    return "\n".join(lines)


def ask_move(obs: dict[str, np.ndarray], read: Callable[[str], str], write: Callable[[str], None]) -> int:
    """Ask for a legal move until one is typed."""
    legal = np.flatnonzero(obs["action_mask"]).tolist()
    listed = " ".join(map(str, legal))
    while True:
        text = read(f"your move ({listed}): ").strip()
        if text.lstrip("-").isdigit() and int(text) in legal:
            return int(text)
        write(f"illegal move {text!r}; legal moves: {listed}")


def play_against(env: Any, agent_move: Callable[[dict[str, np.ndarray]], int], human_first: bool = True,
                 read: Callable[[str], str] = input, write: Callable[[str], None] = print, seed: int = 0) -> int:
    """One game of the person against ``agent_move``; returns 1 (the person won), 0 (a draw) or -1."""
    env.reset(seed=seed)
    human = env.possible_agents[0 if human_first else 1]
    write(f"You are X and move {'first' if human_first else 'second'}.")
    for name in env.agent_iter():
        obs, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            break
        if name == human:
            write(draw_board(obs))
            env.step(ask_move(obs, read, write))
        else:
            action = int(agent_move(obs))
            if not obs["action_mask"][action]:
                raise ZooError(f"the agent chose the illegal move {action}")
            write(f"the agent plays {action}")
            env.step(action)
    write(draw_board(env.observe(human)))
    result = int(np.sign(env.rewards[human]))
    write({1: "You win!", 0: "A draw.", -1: "The agent wins."}[result])
    return result


def text_reader(stream: TextIO, echo: Callable[[str], None]) -> Callable[[str], str]:
    """``input`` reading from ``stream``; the end of the input ends the game (as ``EOFError``)."""

    def read(prompt: str) -> str:
        echo(prompt)
        line = stream.readline()
        if not line:
            raise EOFError
        return line

    return read
