"""DynaMaze-v0: Sutton & Barto's Example 8.1 maze."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import zoo.envs  # noqa: F401  (registers DynaMaze-v0)
from agents.tabular.dyna_maze import MAP, N_COLS


def test_passes_gymnasium_check_env():
    env = gym.make("DynaMaze-v0")
    check_env(env.unwrapped)
    assert env.spec.max_episode_steps is not None


def test_layout_is_the_books():
    env = gym.make("DynaMaze-v0", render_mode="ansi").unwrapped
    assert (len(MAP), N_COLS) == (6, 9)
    assert divmod(env.start, N_COLS) == (2, 0) and divmod(env.goal, N_COLS) == (0, 8)
    walls = {(r, c) for r, line in enumerate(MAP) for c, cell in enumerate(line) if cell == "X"}
    assert walls == {(1, 2), (2, 2), (3, 2), (4, 5), (0, 7), (1, 7), (2, 7)}
    obs, _ = env.reset(seed=0)
    assert obs == env.start and "A" in env.render()
    image = gym.make("DynaMaze-v0", render_mode="rgb_array").unwrapped
    image.reset(seed=0)
    frame = image.render()
    assert frame.shape == (6 * image.cell_size, 9 * image.cell_size, 3) and frame.dtype == np.uint8


def shortest_path(env) -> int:
    distance, frontier = {env.start: 0}, deque([env.start])
    while frontier:
        s = frontier.popleft()
        for a in range(4):
            (_, s2, _, _), = env.P[s][a]
            if s2 not in distance:
                distance[s2] = distance[s] + 1
                frontier.append(s2)
    return distance[env.goal]


def test_shortest_path_is_14_and_only_the_goal_rewards():
    env = gym.make("DynaMaze-v0").unwrapped
    assert shortest_path(env) == 14
    rewards = {r for s in env.P for a in env.P[s] for (_, _, r, _) in env.P[s][a]}
    assert rewards == {0.0, 1.0}


def test_step_follows_walls_and_ends_at_the_goal():
    env = gym.make("DynaMaze-v0")
    env.reset(seed=0)
    obs, *_ = env.step(2)  # right from (2, 0) to (2, 1)
    assert divmod(obs, N_COLS) == (2, 1)
    obs, *_ = env.step(2)  # a wall at (2, 2): stay
    assert divmod(obs, N_COLS) == (2, 1)
    obs, *_ = env.step(0)
    obs, *_ = env.step(0)  # the edge: stay
    assert divmod(obs, N_COLS) == (2, 0)
    raw = env.unwrapped
    raw.s = 1 * N_COLS + 8  # just below the goal
    obs, reward, terminated, truncated, _ = env.step(3)
    assert obs == raw.goal and reward == 1.0 and terminated and not truncated
    assert np.isclose(raw.initial_state_distrib.sum(), 1.0)
