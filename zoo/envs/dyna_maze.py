"""``zoo.envs.dyna_maze.DynaMazeEnv``, the old name; defined in :mod:`agents.tabular.dyna_maze`."""

from agents.tabular.dyna_maze import DynaMazeEnv

__all__ = ["DynaMazeEnv"]
