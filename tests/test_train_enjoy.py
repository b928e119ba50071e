"""``zoo train`` + ``zoo enjoy`` through the real command line, for an on-policy and an off-policy algorithm."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from agents import DQN, PPO


def zoo(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.mark.parametrize("algo,env_id,algo_class,extra", [
    ("ppo", "CartPole-v1", PPO, []),
    ("dqn", "CartPole-v1", DQN, ["--hyperparams", "learning_starts=200", "buffer_size=2000"]),
])
def test_train_then_enjoy_round_trip(tmp_path, algo, env_id, algo_class, extra):
    logs = tmp_path / "logs"
    result = zoo("train", "--algo", algo, "--env", env_id, "-n", "1024", "--seed", "3", "-f", str(logs),
                 "--eval-freq", "512", "--eval-episodes", "2", "-q", *extra)
    assert result.returncode == 0, result.stderr
    run = logs / algo / f"{env_id}_1"
    assert f"Saved to {run}" in result.stdout and "Final evaluation: mean reward" in result.stdout
    for name in [f"{env_id}.zip", "best_model.zip", "evaluations.npz", "config.yml", "args.yml", "env_kwargs.yml"]:
        assert (run / name).is_file(), name
    assert list((run / "monitor").glob("*.monitor.csv"))
    checkpoints = sorted((run / "checkpoints").glob("rl_model_*_steps.zip"))
    assert checkpoints
    args = yaml.safe_load((run / "args.yml").read_text())
    assert args["algo"] == algo and args["seed"] == 3
    config = yaml.safe_load((run / "config.yml").read_text())
    assert config["n_timesteps"] == 1024
    model = algo_class.load(run / f"{env_id}.zip")
    assert model.num_timesteps >= 1024
    with np.load(run / "evaluations.npz") as data:
        assert len(data["timesteps"]) >= 1

    result = zoo("enjoy", "--algo", algo, "--env", env_id, "-f", str(logs), "-n", "300", "--no-render")
    assert result.returncode == 0, result.stderr
    assert f"from {run / (env_id + '.zip')}" in result.stdout
    assert "episodes, mean return" in result.stdout

    result = zoo("enjoy", "--folder", str(run), "--load-best", "-n", "50", "--no-render", "--stochastic")
    assert result.returncode == 0 and "best_model.zip" in result.stdout, result.stderr

    # a second run gets the next experiment id, and enjoy picks the latest
    assert zoo("train", "--algo", algo, "--env", env_id, "-n", "256", "-f", str(logs), "-q", "--eval-freq", "-1", *extra).returncode == 0
    assert (logs / algo / f"{env_id}_2" / f"{env_id}.zip").is_file()
    assert f"{env_id}_2" in zoo("enjoy", "--algo", algo, "--env", env_id, "-f", str(logs), "-n", "10", "--no-render").stdout


def test_normalized_run_saves_and_applies_statistics(tmp_path):
    logs = tmp_path / "logs"
    result = zoo("train", "--algo", "ppo", "--env", "Pendulum-v1", "-n", "512", "-f", str(logs), "-q", "--eval-freq", "-1",
                 "--hyperparams", "normalize=True", "n_envs=2", "n_steps=128")
    assert result.returncode == 0, result.stderr
    run = logs / "ppo" / "Pendulum-v1_1"
    assert (run / "vecnormalize.pkl").is_file()
    assert list((run / "checkpoints").glob("rl_model_vecnormalize_*_steps.pkl"))
    result = zoo("enjoy", "--folder", str(run), "-n", "400", "--no-render")
    assert result.returncode == 0 and "2 episodes" in result.stdout, result.stdout + result.stderr


def test_record_writes_one_video(tmp_path):
    logs = tmp_path / "logs"
    assert zoo("train", "--algo", "ppo", "--env", "CartPole-v1", "-n", "256", "-f", str(logs), "-q", "--eval-freq", "-1").returncode == 0
    video = tmp_path / "video"
    result = zoo("enjoy", "--algo", "ppo", "--env", "CartPole-v1", "-f", str(logs), "-n", "60", "--record", str(video))
    assert result.returncode == 0, result.stderr
    assert len(list(video.glob("*.mp4"))) == 1


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(tmp_path):
    logs = tmp_path / "logs"
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "train", "--algo", "ppo", "--env", "CartPole-v1", "-n", "200000", "-f", str(logs),
         "--eval-freq", "-1", "--save-freq", "1000000", "-q", "--seed", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = logs / "ppo" / "CartPole-v1_1"
    monitor = run / "monitor" / "0.monitor.csv"
    deadline = time.time() + 180
    while time.time() < deadline:  # wait until training runs: a few finished episodes in the Monitor file
        if monitor.is_file() and len(monitor.read_text().splitlines()) > 5:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "checkpoint saved" in err and f"zoo train --resume {run}" in err
    assert "Traceback" not in err
    checkpoint = next((run / "checkpoints").glob("rl_model_*_steps.zip"))
    model = PPO.load(checkpoint)
    assert 0 < model.num_timesteps < 200_000
    # shorten the run, then resume it to the end
    config = yaml.safe_load((run / "config.yml").read_text())
    config["n_timesteps"] = model.num_timesteps + 512
    (run / "config.yml").write_text(yaml.safe_dump(config))
    result = zoo("train", "--resume", str(run), "-q")
    assert result.returncode == 0, result.stderr
    assert PPO.load(run / "CartPole-v1.zip").num_timesteps >= model.num_timesteps + 512


def test_config_time_limit_ends_the_episodes_the_monitor_records():
    """A TimeLimit from the config sits inside the Monitor: evaluation ends (CliffWalking-v1 has no limit of its own)."""
    from stable_baselines3.common.evaluation import evaluate_policy

    from zoo.envs.factory import create_env

    env = create_env("CliffWalking-v1", 1, hyperparams={"env_wrapper": [{"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 7}}]})

    class StandStill:  # never reaches the goal: only the time limit ends its episodes
        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return np.zeros(len(obs), dtype=np.int64), None

    rewards, lengths = evaluate_policy(StandStill(), env, n_eval_episodes=2, return_episode_rewards=True)
    assert lengths == [7, 7] and rewards == [-7.0, -7.0]
