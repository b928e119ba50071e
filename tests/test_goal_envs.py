"""The goal-conditioned envs: HER's Dict convention, vectorised rewards, success, both env checkers."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env

import zoo.envs  # noqa: F401  (registers the goal envs)

GOAL_ENVS = ["GoalMountainCarContinuous-v0", "GoalPendulum-v1"]


@pytest.mark.parametrize("env_id", GOAL_ENVS)
def test_goal_envs_pass_both_checkers(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gymnasium_check_env(gym.make(env_id).unwrapped)
        check_env(gym.make(env_id).unwrapped)
    assert set(gym.make(env_id).observation_space.spaces) == {"observation", "achieved_goal", "desired_goal"}


def test_mountain_car_goal_region_and_threshold_are_kwargs():
    env = gym.make("GoalMountainCarContinuous-v0", goal=0.3, goal_threshold=0.1).unwrapped
    rewards = env.compute_reward(np.array([[0.25], [0.41], [-0.5]]), np.array([[0.3]] * 3), [{}] * 3)
    np.testing.assert_array_equal(rewards, [0.0, -1.0, -1.0])
    obs, _ = env.reset(seed=0)
    env.state = np.array([0.19, 0.02])  # one step of full throttle takes it into [0.2, 0.4]
    obs, reward, terminated, truncated, info = env.step(np.array([1.0], dtype=np.float32))
    assert info["is_success"] and terminated and reward == 0.0 and not truncated
    np.testing.assert_allclose(obs["achieved_goal"], obs["observation"][:1])


def test_default_mountain_car_success_is_reaching_the_flag():
    env = gym.make("GoalMountainCarContinuous-v0")
    env.reset(seed=0)
    env.unwrapped.state = np.array([0.44, 0.03])
    _, reward, terminated, _, info = env.step(np.array([1.0], dtype=np.float32))
    assert terminated and info["is_success"] and reward == 0.0
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(np.array([1.0], dtype=np.float32))
    assert not terminated and not info["is_success"] and reward == -1.0


def test_pendulum_goal_is_angle_and_velocity_per_dimension():
    env = gym.make("GoalPendulum-v1", goal_threshold=(0.2, 0.5)).unwrapped
    achieved = np.array([[0.1, 0.4], [0.1, 0.6], [0.3, 0.0]])
    np.testing.assert_array_equal(env.compute_reward(achieved, np.zeros((3, 2)), None), [0.0, -1.0, -1.0])
    obs, _ = env.reset(seed=1)
    theta, theta_dot = env.state
    np.testing.assert_allclose(obs["achieved_goal"], [((theta + np.pi) % (2 * np.pi)) - np.pi, theta_dot], atol=1e-6)
    env.state = np.array([0.0, 0.0])
    _, reward, terminated, _, info = env.step(np.zeros(1, dtype=np.float32))
    assert info["is_success"] and terminated and reward == 0.0
    with pytest.raises(ValueError, match="goal_threshold must be a number or 2 numbers"):
        gym.make("GoalPendulum-v1", goal_threshold=(0.1, 0.2, 0.3))


def test_point_maze_is_registered_and_checks():
    pytest.importorskip("gymnasium_robotics")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = gym.make("PointMaze_UMaze-v3", continuing_task=False)
        gymnasium_check_env(env.unwrapped, skip_render_check=True)
        check_env(env.unwrapped)
    assert env.spec.max_episode_steps == 300
