"""The house in order: SB3-faithful logs, constructor parameters through the class hierarchy, the evaluation
hook, and the verified defects of the first algorithms (each test failed on the code before the fix)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import KVWriter, Logger
from stable_baselines3.common.vec_env import DummyVecEnv

from agents import REINFORCE, SARSA, DynaQ, QLearning
from agents.common.evaluation import EvaluationRequest, evaluate_agent
from agents.common.hyperparams import constructor_parameters


class KeysWriter(KVWriter):
    """Keeps the keys of every dump."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def write(self, key_values, key_excluded, step=0) -> None:
        self.keys |= set(key_values)

    def close(self) -> None:
        pass


class SuccessAtEnd(gym.Wrapper):
    """Reports ``is_success`` at the end of each episode (as goal-conditioned envs do)."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            info["is_success"] = reward > 0
        return obs, reward, terminated, truncated, info


def _logged_keys(model, steps: int, **learn) -> set[str]:
    writer = KeysWriter()
    model.set_logger(Logger(folder=None, output_formats=[writer]))
    model.learn(steps, **learn)
    return writer.keys


SB3_KEYS = {"time/fps", "time/time_elapsed", "time/total_timesteps", "rollout/ep_rew_mean", "rollout/ep_len_mean",
            "rollout/success_rate", "train/learning_rate"}


def test_a_tabular_run_logs_sb3s_keys():
    env = make_vec_env("FrozenLake-v1", n_envs=1, seed=0, wrapper_class=SuccessAtEnd)
    keys = _logged_keys(QLearning("TabularPolicy", env, seed=0), 3000, log_interval=20)
    assert SB3_KEYS <= keys, SB3_KEYS - keys
    assert {"train/alpha", "rollout/exploration_rate"} <= keys


def test_a_policy_gradient_run_logs_sb3s_keys_and_losses():
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=SuccessAtEnd)
    keys = _logged_keys(REINFORCE("MlpPolicy", env, seed=0, device="cpu"), 600, log_interval=1)
    assert SB3_KEYS <= keys, SB3_KEYS - keys
    assert {"train/loss", "train/policy_loss", "time/iterations"} <= keys


def test_a3c_logs_its_losses():
    from agents import A3C

    model = A3C("MlpPolicy", "CartPole-v1", n_workers=1, n_steps=5, seed=0, device="cpu")
    keys = _logged_keys(model, 400, log_interval=5)
    assert {"train/policy_loss", "train/value_loss", "train/entropy_loss", "train/learning_rate", "time/fps"} <= keys


def test_constructor_parameters_are_read_through_the_class_hierarchy():
    class Planner(QLearning):
        def __init__(self, policy, env, lookahead: int = 2, **kwargs) -> None:
            self.lookahead = lookahead
            super().__init__(policy, env, **kwargs)

    params = constructor_parameters(Planner)
    assert "lookahead" in params and {"alpha", "gamma", "epsilon", "seed"} <= set(params)
    assert "kwargs" not in params
    from zoo.config import build_hyperparams

    hp = build_hyperparams("qlearning", "FrozenLake-v1", {"n_timesteps": 10, "gamma": 0.9, "lookahead": 3}, Planner, "x")
    assert hp.algo_kwargs == {"gamma": 0.9, "lookahead": 3}


def test_the_evaluation_hook_reports_a_tabular_agents_exact_figures():
    from zoo.envs.factory import create_env, make_env

    model = QLearning("TabularPolicy", gym.make("FrozenLake-v1"), seed=0).learn(2000)
    hyperparams = {"env_wrapper": [{"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 100}}]}
    request = EvaluationRequest(
        env_id="FrozenLake-v1", n_eval_episodes=5, seed=0,
        make_vec_env=lambda: create_env("FrozenLake-v1", 1, hyperparams=hyperparams, seed=0, training=False),
        make_env=lambda: make_env("FrozenLake-v1", hyperparams))
    figures = evaluate_agent(model, request)
    assert {"mean_reward", "std_reward", "n_eval_episodes", "exact_mean_reward", "optimal_mean_reward"} <= set(figures)
    assert figures["exact_horizon"] == 100


# ---------------------------------------------------------------------------------------- defects


def test_tabular_policy_level_save_and_load_round_trip(tmp_path):
    from agents.tabular.core import TabularPolicy

    for algo in (QLearning, DynaQ):
        model = algo("TabularPolicy", gym.make("Taxi-v4"), seed=0).learn(3000)
        model.policy.save(tmp_path / "policy.pth")
        loaded = TabularPolicy.load(tmp_path / "policy.pth")
        assert set(loaded.state_dict()) == set(model.policy.state_dict())
        np.testing.assert_array_equal(loaded.table("q_table"), model.policy.table("q_table"))
        obs = np.arange(50)
        np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])


def test_reinforce_batches_do_not_favour_short_episodes():
    """Two envs whose episodes last 1 and 10 steps: each contributes the same number of episodes."""

    class Fixed(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def __init__(self, length: int) -> None:
            self.length, self.t = length, 0

        def reset(self, *, seed=None, options=None):
            self.t = 0
            return np.zeros(1, np.float32), {}

        def step(self, action):
            self.t += 1
            return np.zeros(1, np.float32), 1.0, self.t >= self.length, False, {}

    env = DummyVecEnv([lambda: Fixed(1), lambda: Fixed(10)])
    model = REINFORCE("MlpPolicy", env, seed=0, device="cpu", min_episodes=4)
    model._setup_learn(1000, None)
    episodes = model.collect_episodes(model.env, model._init_callback(None))
    assert sorted(len(ep["rewards"]) for ep in episodes) == [1, 1, 10, 10]


def test_dyna_q_records_a_terminal_outcome_once():
    model = DynaQ("TabularPolicy", gym.make("Taxi-v4"), seed=0, n_planning_steps=1).learn(20_000)
    assert max(len(outcomes) for outcomes in model._outcomes) == 1  # Taxi is deterministic
    terminal = [o for outcomes in model._outcomes for o in outcomes if not o[2]]
    assert terminal and all(next_state == -1 for next_state, _, _ in terminal)


def test_sarsa_takes_the_action_its_last_update_used_across_learn_calls():
    model = SARSA("TabularPolicy", gym.make("FrozenLake-v1"), seed=0, epsilon=0.5)
    model.learn(37)
    kept = model._last_actions.copy()
    taken = []

    def first_action(local_vars, _globals):
        taken.append(local_vars["actions"].copy())
        return False

    from stable_baselines3.common.callbacks import CallbackList, ConvertCallback

    model.learn(10, callback=CallbackList([ConvertCallback(first_action)]), reset_num_timesteps=False)
    np.testing.assert_array_equal(taken[0], kept)


class SlowCartPole(gym.Wrapper):
    """CartPole taking 50 ms a step, so that a stop reaches a worker in the middle of its next rollout."""

    def __init__(self) -> None:
        super().__init__(gym.make("CartPole-v1"))

    def step(self, action):
        import time

        time.sleep(0.05)
        return self.env.step(action)


def test_a3c_workers_apply_no_update_after_a_stop():
    """A callback stops training at the first step it sees, while the worker runs its second rollout: that
    cut rollout's update is not applied, so the shared Adam took exactly one step."""
    from stable_baselines3.common.callbacks import ConvertCallback

    from agents import A3C

    model = A3C("MlpPolicy", "CartPole-v1", n_workers=1, n_steps=4, seed=0, device="cpu", env_fn=SlowCartPole,
                start_method="fork")
    model.learn(5000, callback=ConvertCallback(lambda _locals, _globals: False))
    steps = {float(state["step"]) for state in model.policy.optimizer.state.values()}
    assert steps == {1.0}


def test_zoo_enjoy_prints_the_familys_own_figures(capsys):
    from zoo.cli import main

    assert main(["enjoy", "--algo", "qlearning", "--env", "Taxi-v4", "-n", "50", "--no-render", "--n-episodes", "2",
                 "-f", "/nonexistent-logs"]) == 0
    out = capsys.readouterr().out
    assert "exact_mean_reward: 7.93" in out and "optimal_mean_reward: 7.93" in out
