"""Every SB3 callback works on a registered algorithm, through the registry's classes."""

import pytest
from stable_baselines3.common.callbacks import (
    CallbackList,
    CheckpointCallback,
    EvalCallback,
    ProgressBarCallback,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

import agents


@pytest.mark.parametrize("name", ["trpo", "a2c"])
def test_sb3_callbacks_on_a_registered_algorithm(tmp_path, name):
    algo_class = agents.get_class(name)
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=1)
    stop = StopTrainingOnRewardThreshold(reward_threshold=-1.0)  # any return beats it: stops at the first evaluation
    evaluation = EvalCallback(eval_env, callback_on_new_best=stop, eval_freq=64, n_eval_episodes=2,
                              log_path=str(tmp_path), best_model_save_path=str(tmp_path))
    checkpoint = CheckpointCallback(save_freq=32, save_path=str(tmp_path / "ckpt"))
    kwargs = {"n_steps": 64, "batch_size": 64} if name == "trpo" else {"n_steps": 8}
    model = algo_class("MlpPolicy", env, seed=0, **kwargs)
    model.learn(100_000, callback=CallbackList([checkpoint, evaluation, ProgressBarCallback()]))
    assert model.num_timesteps < 100_000  # stopped early by StopTrainingOnRewardThreshold
    assert evaluation.n_calls >= 64 and (tmp_path / "evaluations.npz").is_file() and (tmp_path / "best_model.zip").is_file()
    assert list((tmp_path / "ckpt").glob("rl_model_*_steps.zip"))
    mean, _ = evaluate_policy(algo_class.load(tmp_path / "best_model.zip"), eval_env, n_eval_episodes=2)
    assert mean > 0
