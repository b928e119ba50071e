"""Training survives faults: kills while checkpoints are written, kills inside a rollout, failed runs.

Issue 10, points 9, 10 and 12 (the command-line errors of point 11 are in tests/test_errors.py).
"""

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import gymnasium as gym
import pytest
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.save_util import load_from_pkl
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import zoo.train as train_module
from agents import DQN
from zoo import runs
from zoo.cli import main
from zoo.train import TrainOptions, resume, train


#: a DQN that trains in milliseconds (the CartPole config trains 128 gradient steps of a 256x256 net per rollout)
SMALL_DQN = {"learning_starts": 50, "buffer_size": 1000, "train_freq": 10, "gradient_steps": 1, "batch_size": 16,
             "policy_kwargs": "dict(net_arch=[32])"}


class Crash(Exception):
    """Stands for a kill: raised where the process would have died."""


# ---------------------------------------------------------------- point 9: the newest complete checkpoint is whole


@pytest.fixture(scope="module")
def dqn_with_stats(tmp_path_factory):
    """A DQN with a filled replay buffer and normalisation statistics, and a run folder holding its checkpoint at 100
    steps; the model has then trained on to 200 steps."""
    env = VecNormalize(DummyVecEnv([lambda: gym.make("CartPole-v1")]), norm_reward=False)
    model = DQN("MlpPolicy", env, buffer_size=1000, learning_starts=50, train_freq=10, batch_size=16, seed=0,
                policy_kwargs={"net_arch": [32]})
    model.learn(100)
    template = tmp_path_factory.mktemp("template")
    runs.save_checkpoint(model, template)
    model.learn(100, reset_num_timesteps=False)
    return model, template


def fail_at_change(monkeypatch, k):
    """Make the k-th change to the file system (a rename over a file, or a delete) raise :class:`Crash` before it
    happens, as a kill at that moment would. A file being written is not visible yet (``runs.atomic_write``
    renames it into place), so these are all the moments a kill can leave different states behind."""
    count = [0]

    def gate(real):
        def wrapped(*args, **kwargs):
            count[0] += 1
            if count[0] == k:
                raise Crash(f"killed before change {k}: {real.__name__}{args}")
            return real(*args, **kwargs)
        return wrapped

    for name in ("replace", "rename", "unlink", "remove"):
        monkeypatch.setattr(os, name, gate(getattr(os, name)))
    return count


def assert_newest_complete_is_whole(run, model_class=DQN):
    newest = max(runs.checkpoints(run))
    files = runs.checkpoint_files(run, newest)
    loaded = model_class.load(files["model"])
    assert loaded.num_timesteps == newest
    buffer = load_from_pkl(files["replay_buffer"])  # raises if it is missing
    assert buffer.size() == newest  # every step of the run is in it (buffer_size 1000 > steps)
    stats = load_from_pkl(files["vecnormalize"])
    assert stats.obs_rms.count > 0
    return newest


def test_a_kill_at_any_moment_of_save_checkpoint_keeps_the_newest_complete_checkpoint_whole(tmp_path, monkeypatch, dqn_with_stats):
    model, template = dqn_with_stats
    seen = set()
    for k in range(1, 20):
        run = tmp_path / f"kill-{k}"
        shutil.copytree(template, run)
        with monkeypatch.context() as patch:
            fail_at_change(patch, k)
            try:
                runs.save_checkpoint(model, run)
                crashed = False
            except Crash:
                crashed = True
        seen.add(assert_newest_complete_is_whole(run))
        if not crashed:  # k went past the last change: the save completed, and dropped the old buffer
            assert max(runs.checkpoints(run)) == 200
            assert sorted(p.name for p in (run / "checkpoints").glob("*replay_buffer*")) == ["rl_model_replay_buffer_200_steps.pkl"]
            break
    else:
        pytest.fail("save_checkpoint never completed")
    assert k >= 4 and seen == {100, 200}  # buffer, statistics, zip, old buffer: the kill points were all tried


def test_resume_without_a_replay_buffer_says_so(tmp_path, capsys):
    options = TrainOptions(algo="dqn", env_id="CartPole-v1", log_folder=str(tmp_path), n_timesteps=200, seed=0,
                           eval_freq=-1, save_freq=-1, verbose=0,
                           hyperparams=dict(SMALL_DQN))
    run = train(options).run_folder
    runs.checkpoint_files(run, 200)["replay_buffer"].unlink()
    left_by_a_killed_writer = run / "checkpoints" / ".rl_model_replay_buffer_300_steps.pkl.abc123.tmp"
    left_by_a_killed_writer.write_bytes(b"half a buffer")
    capsys.readouterr()
    resumed = resume(run, n_timesteps=300, verbose=0)
    err = capsys.readouterr().err
    assert not left_by_a_killed_writer.exists()
    assert "warning" in err and "rl_model_replay_buffer_200_steps.pkl is missing" in err and "empty replay buffer" in err
    assert resumed.model.replay_buffer.size() == 100  # only what the resumed leg collected
    # with its buffer, a resume is silent and continues the buffer
    resumed = resume(run, n_timesteps=400, verbose=0)
    assert "warning" not in capsys.readouterr().err
    assert resumed.model.replay_buffer.size() == 200


def test_sigkill_between_the_buffer_and_its_zip_keeps_the_previous_checkpoint_whole(tmp_path):
    """A real kill -9 at the worst moment: the new replay buffer is written, its model zip is not."""
    logs = tmp_path / "logs"
    script = textwrap.dedent(f"""
        import sys, time
        from zoo import runs
        from zoo.train import TrainOptions, train
        real_save_model = runs.save_model
        def save_model(model, path):
            if "checkpoints" in str(path) and model.num_timesteps >= 200:
                print("zip", flush=True)
                time.sleep(60)
            real_save_model(model, path)
        runs.save_model = save_model
        train(TrainOptions(algo="dqn", env_id="CartPole-v1", log_folder={str(logs)!r}, n_timesteps=300, seed=0,
                           eval_freq=-1, save_freq=100, verbose=0,
                           hyperparams={SMALL_DQN!r}))
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "zip"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    run = logs / "dqn" / "CartPole-v1_1"
    assert runs.checkpoint_files(run, 200)["replay_buffer"].is_file() and list(runs.checkpoints(run)) == [100]
    newest = max(runs.checkpoints(run))
    assert load_from_pkl(runs.checkpoint_files(run, newest)["replay_buffer"]).size() == newest


# ---------------------------------------------------------------- point 10: checkpoints at rollout boundaries


class CrashAt(BaseCallback):
    """A kill once the step counter reaches ``steps`` (no Ctrl-C checkpoint: the run just dies)."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.steps:
            raise Crash(f"killed at {self.num_timesteps} steps")
        return True


def counters(model):
    return {"num_timesteps": model.num_timesteps, "progress_remaining": model._current_progress_remaining,
            "exploration_rate": model.exploration_rate, "n_calls": model._n_calls,
            "learning_rate": model.policy.optimizer.param_groups[0]["lr"]}


DQN_ROLLOUTS_OF_50 = {"learning_starts": 50, "buffer_size": 2000, "train_freq": 50, "gradient_steps": 5, "batch_size": 16,
                      "policy_kwargs": "dict(net_arch=[32])",
                      "learning_rate": "lin_0.002", "exploration_fraction": 0.9, "target_update_interval": 100}


def test_a_killed_off_policy_run_resumes_to_where_the_uninterrupted_run_ends(tmp_path, monkeypatch):
    # checkpoints fall due every 120 steps, inside rollouts of 50 steps; the run is killed at 430
    def options(folder):
        return TrainOptions(algo="dqn", env_id="CartPole-v1", log_folder=str(folder), n_timesteps=600, seed=2,
                            eval_freq=-1, save_freq=120, hyperparams=dict(DQN_ROLLOUTS_OF_50), verbose=0)

    one_leg = train(options(tmp_path / "one")).model
    assert one_leg.num_timesteps == 600

    make_callbacks = train_module.make_callbacks
    monkeypatch.setattr(train_module, "make_callbacks", lambda *args: [*make_callbacks(*args), CrashAt(430)])
    with pytest.raises(Crash):
        train(options(tmp_path / "two"))
    monkeypatch.setattr(train_module, "make_callbacks", make_callbacks)
    run = tmp_path / "two" / "dqn" / "CartPole-v1_1"
    assert list(runs.checkpoints(run)) == [150, 250, 400]  # each at the end of the rollout it fell due in
    assert load_from_pkl(runs.checkpoint_files(run, 400)["replay_buffer"]).size() == 400  # no transition missing

    resumed = resume(run, verbose=0).model
    assert counters(resumed) == pytest.approx(counters(one_leg))
    assert resumed.replay_buffer.size() == 600


# ---------------------------------------------------------------- point 12: runs without a model


def tiny_ppo(folder, **extra):
    return TrainOptions(algo="ppo", env_id="CartPole-v1", log_folder=str(folder), n_timesteps=64, seed=0, eval_freq=-1,
                        verbose=0, hyperparams={"n_envs": 1, "n_steps": 32, "batch_size": 32, "n_epochs": 1}, **extra)


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_folder(tmp_path, monkeypatch):
    from zoo.errors import ZooError

    def broken(*args, **kwargs):
        raise ZooError("cannot build PPO: simulated")

    monkeypatch.setattr(train_module, "build_model", broken)
    with pytest.raises(ZooError, match=r"simulated \(.*CartPole-v1_1 removed: the run stopped before its first checkpoint\)"):
        train(tiny_ppo(tmp_path))
    assert not (tmp_path / "ppo" / "CartPole-v1_1").exists()


def test_a_run_that_fails_after_a_checkpoint_keeps_its_folder(tmp_path, monkeypatch):
    make_callbacks = train_module.make_callbacks
    monkeypatch.setattr(train_module, "make_callbacks", lambda *args: [*make_callbacks(*args), CrashAt(48)])
    with pytest.raises(Crash):
        train(tiny_ppo(tmp_path, save_freq=32))
    assert list(runs.checkpoints(tmp_path / "ppo" / "CartPole-v1_1")) == [32]


def test_enjoy_picks_the_latest_run_with_a_model_and_says_which(tmp_path, capsys):
    complete = train(tiny_ppo(tmp_path)).run_folder
    # a later run killed (kill -9) before its first checkpoint: config files, monitor, no model
    killed = tmp_path / "ppo" / "CartPole-v1_2"
    (killed / "monitor").mkdir(parents=True)
    for name in ("args.yml", "config.yml", "env_kwargs.yml"):
        shutil.copy(complete / name, killed / name)
    assert runs.find_run(tmp_path, "ppo", "CartPole-v1") == complete
    assert runs.find_run(tmp_path, "ppo", "CartPole-v1", exp_id=2) == killed  # asked for by number: that one

    capsys.readouterr()
    code = main(["enjoy", "--algo", "ppo", "--env", "CartPole-v1", "-f", str(tmp_path), "-n", "20", "--no-render"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"from {complete / 'CartPole-v1.zip'}" in out
    assert f"Using {complete}" in err and "CartPole-v1_2 holds no model" in err
    # the next run still gets a new number
    assert train(tiny_ppo(tmp_path)).run_folder.name == "CartPole-v1_3"


def test_enjoy_with_only_runs_without_a_model_says_so(tmp_path, capsys, monkeypatch):
    import hub.store

    monkeypatch.setattr(hub.store, "find_pretrained", lambda *args, **kwargs: None)
    (tmp_path / "dqn" / "CartPole-v1_1").mkdir(parents=True)
    code = main(["enjoy", "--algo", "dqn", "--env", "CartPole-v1", "-f", str(tmp_path), "--no-render"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "no run of dqn on CartPole-v1 with a model (CartPole-v1_1 holds no model" in err
