"""Exact evaluation from transition tables, the NumPy vectorised env, the discretising wrapper."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from agents import QLearning
from agents.tabular.exact import optimal_return, policy_return, transition_table, value_iteration
from agents.tabular.vectorized import TransitionTableVecEnv
from agents.common.wrappers import DiscretizeObservation
from zoo.errors import ZooError


def test_exact_optima_of_the_reference():
    assert optimal_return(transition_table("Taxi-v4")) == pytest.approx(7.93, abs=1e-9)
    assert optimal_return(transition_table("FrozenLake-v1")) == pytest.approx(0.744, abs=5e-4)


def test_policy_return_on_dyna_maze():
    table = transition_table("DynaMaze-v0")
    best = value_iteration(table, gamma=0.95).argmax(axis=1)
    assert policy_return(table, best) == pytest.approx(1.0)
    assert policy_return(table, np.zeros(table.n_states, dtype=int)) == 0.0  # always left: never there
    assert policy_return(table, best, horizon=13) == 0.0  # 14 steps are needed
    assert policy_return(table, best, horizon=14) == 1.0


def test_policy_return_matches_a_hand_computed_chain():
    # FrozenLake 4x4 not slippery: the path down, down, right, down, right, right reaches the goal in 6
    table = transition_table(gym.make("FrozenLake-v1", is_slippery=False))
    actions = np.zeros(16, dtype=int)
    for state, action in {0: 1, 4: 1, 8: 2, 9: 1, 13: 2, 14: 2}.items():
        actions[state] = action
    assert policy_return(table, actions, horizon=6) == 1.0
    assert policy_return(table, actions, horizon=5) == 0.0


def test_vectorized_env_samples_the_transition_table():
    env = TransitionTableVecEnv("FrozenLake-v1", n_envs=30_000, seed=0)
    obs = env.reset()
    assert (obs == 0).all()
    obs, rewards, dones, infos = env.step(np.full(30_000, 1))  # down from the corner, slippery
    expected = {s2: p for p, s2, _, _ in gym.make("FrozenLake-v1").unwrapped.P[0][1]}  # 1/3 each on 0, 4, 1
    for s2, p in expected.items():
        assert np.mean(obs == s2) == pytest.approx(p, abs=0.015)
    assert not dones.any() and rewards.dtype == np.float32


def test_vectorized_env_time_limit_and_terminal_observation():
    env = TransitionTableVecEnv("DynaMaze-v0", n_envs=3, seed=0, max_episode_steps=2)
    env.reset()
    env.step(np.zeros(3, dtype=int))
    obs, _, dones, infos = env.step(np.full(3, 3))  # up from the start, after 2 steps: cut
    assert dones.all()
    assert all(info["TimeLimit.truncated"] and info["terminal_observation"] == 9 and info["episode"]["l"] == 2 for info in infos)
    assert (obs == 18).all()  # reset to the start


def test_qlearning_trains_on_the_vectorized_env():
    env = TransitionTableVecEnv("DynaMaze-v0", n_envs=64, seed=0)
    model = QLearning("TabularPolicy", env, alpha=0.5, gamma=0.95, epsilon=0.2, seed=0)
    model.learn(30_000)
    table = transition_table("DynaMaze-v0")
    assert policy_return(table, model.q_table.argmax(axis=1), horizon=14) == 1.0  # the shortest path


def test_discretize_observation():
    env = DiscretizeObservation(gym.make("MountainCar-v0"), bins=[4, 5])
    assert env.observation_space.n == 20
    low, high = env.unwrapped.observation_space.low, env.unwrapped.observation_space.high
    assert env.observation(low) == 0
    assert env.observation(high) == 19
    middle = (low + high) / 2  # bins 2 of 4 and 2 of 5
    assert env.observation(middle) == 2 * 5 + 2
    assert env.observation(np.array([low[0], high[1] + 10])) == 4  # beyond the edge: last bin
    check_env(env, skip_render_check=True)
    model = QLearning("TabularPolicy", env, seed=0)
    model.learn(200)
    assert model.q_table.shape == (20, 3)


def test_discretize_observation_errors():
    with pytest.raises(ZooError, match="infinite"):
        DiscretizeObservation(gym.make("CartPole-v1"), bins=3)
    wrapped = DiscretizeObservation(gym.make("CartPole-v1"), bins=[1, 1, 6, 6], low=[-2.4, -3, -0.21, -3], high=[2.4, 3, 0.21, 3])
    assert wrapped.observation_space.n == 36
    with pytest.raises(ZooError, match="bins needs 1 or 4"):
        DiscretizeObservation(gym.make("CartPole-v1"), bins=[2, 2], low=-1, high=1)
    with pytest.raises(ZooError, match="Box"):
        DiscretizeObservation(gym.make("Taxi-v4"))


@pytest.mark.parametrize("algo", ["qlearning", "sarsa", "expected_sarsa", "dynaq", "exploration_bot"])
def test_configs_are_valid(algo):
    from agents.registry import get_class
    from zoo.config import config_path, configured_envs, load_hyperparams
    from zoo.envs.factory import create_env

    envs = configured_envs(config_path(algo))
    assert envs
    for env_id in envs:
        hp = load_hyperparams(algo, env_id)
        assert hp.policy == "TabularPolicy"
        venv = create_env(env_id, hp.n_envs, hyperparams=hp.raw, seed=0)
        get_class(algo)(hp.policy, venv, seed=0, **hp.algo_kwargs)  # every key is a constructor argument
