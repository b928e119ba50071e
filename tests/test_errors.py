"""Errors a person can act on: one line, what to fix, exit code 2, no traceback."""

import errno
import io
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import pytest

from zoo import runs
from zoo.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, *expected):
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    for text in expected:
        assert text in lines[0], lines[0]


def test_unknown_algorithm(capsys):
    code, _, err = run_cli(capsys, "train", "--algo", "ppoo", "--env", "CartPole-v1")
    assert_one_line_error(code, err, "unknown algorithm 'ppoo'", "did you mean ppo")


def test_unknown_env_suggests_nearest(capsys):
    code, _, err = run_cli(capsys, "train", "--algo", "ppo", "--env", "CartPol-v1")
    assert_one_line_error(code, err, "unknown environment 'CartPol-v1'", "CartPole-v1")


def test_refused_old_version_points_to_the_new_one(capsys):
    code, _, err = run_cli(capsys, "train", "--algo", "ppo", "--env", "Taxi-v3")
    assert_one_line_error(code, err, "Taxi-v4")


def test_action_space_mismatch(capsys):
    code, _, err = run_cli(capsys, "train", "--algo", "dqn", "--env", "Pendulum-v1")
    assert_one_line_error(code, err, "dqn cannot handle Pendulum-v1's Box action space", "supports Discrete")
    code, _, err = run_cli(capsys, "train", "--algo", "sac", "--env", "CartPole-v1")
    assert_one_line_error(code, err, "Discrete action space", "supports Box")


def test_bad_yaml(capsys, tmp_path):
    conf = tmp_path / "mine.yml"
    conf.write_text("CartPole-v1:\n  n_timesteps: [1\n")
    code, _, err = run_cli(capsys, "train", "--algo", "ppo", "--env", "CartPole-v1", "--conf-file", str(conf))
    assert_one_line_error(code, err, "mine.yml:", "invalid YAML")


def test_unknown_config_key(capsys, tmp_path):
    conf = tmp_path / "mine.yml"
    conf.write_text("CartPole-v1:\n  n_timesteps: 100\n  n_step: 32\n")
    code, _, err = run_cli(capsys, "train", "--algo", "ppo", "--env", "CartPole-v1", "--conf-file", str(conf), "-f", str(tmp_path))
    assert_one_line_error(code, err, "mine.yml: CartPole-v1: unknown key 'n_step'", "did you mean 'n_steps'")


def test_wrong_type_from_the_command_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--algo", "ppo", "--env", "CartPole-v1", "--hyperparams", "n_epochs=many", "-f", str(tmp_path))
    assert_one_line_error(code, err, "ppo.yml: CartPole-v1: n_epochs must be int, got 'many'")


def test_missing_config_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--algo", "ppo", "--env", "CartPole-v1", "--conf-file", str(tmp_path / "no.yml"))
    assert_one_line_error(code, err, "config file not found")


def test_enjoy_without_a_run_says_where_it_looked(capsys, tmp_path, monkeypatch):
    import hub.store

    monkeypatch.setattr(hub.store, "find_pretrained", lambda *args, **kwargs: None)
    code, _, err = run_cli(capsys, "enjoy", "--algo", "ppo", "--env", "Acrobot-v1", "-f", str(tmp_path / "logs"))
    assert_one_line_error(code, err, "no run of ppo on Acrobot-v1", str(tmp_path / "logs" / "ppo"), "zoo train --algo ppo --env Acrobot-v1")


def test_enjoy_missing_folder_and_checkpoint(capsys, tmp_path):
    code, _, err = run_cli(capsys, "enjoy", "--folder", str(tmp_path / "nowhere"))
    assert_one_line_error(code, err, f"run folder {tmp_path / 'nowhere'} does not exist")
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "enjoy", "--folder", str(tmp_path / "empty"))
    assert_one_line_error(code, err, "is not a run folder", "args.yml is missing")


def test_resume_missing_folder(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path / "nowhere"))
    assert_one_line_error(code, err, "run folder not found")


def test_real_command_line_prints_no_traceback():
    result = subprocess.run([sys.executable, "-m", "zoo", "train", "--algo", "ppo", "--env", "NoSuchEnv-v0"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    debug = subprocess.run([sys.executable, "-m", "zoo", "--debug", "train", "--algo", "ppo", "--env", "NoSuchEnv-v0"],
                           capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_tensorboard_without_the_package(capsys, tmp_path):
    try:
        import tensorboard  # noqa: F401
        pytest.skip("tensorboard is installed")
    except ImportError:
        pass
    code, _, err = run_cli(capsys, "train", "--algo", "ppo", "--env", "CartPole-v1", "--tensorboard-log", str(tmp_path), "-f", str(tmp_path))
    assert_one_line_error(code, err, "pip install tensorboard")


# ---------------------------------------------------------------- issue 10, point 11: bad options, faults of the machine

TINY_PPO = ["--algo", "ppo", "--env", "CartPole-v1", "-n", "64", "--eval-freq", "-1", "-q",
            "--hyperparams", "n_envs=1", "n_steps=32", "batch_size=32", "n_epochs=1"]


@pytest.mark.parametrize("flags,expected", [
    (["--seed", "-1"], "--seed must be between 0 and"),
    (["--n-eval-envs", "0"], "--n-eval-envs must be at least 1, got 0"),
    (["--eval-episodes", "-3"], "--eval-episodes must be at least 1, got -3"),
    (["--device", "tpu"], "--device 'tpu' is not a device: use auto, cpu, cuda"),
])
def test_nonsense_options_are_refused_before_anything_is_written(capsys, tmp_path, flags, expected):
    code, _, err = run_cli(capsys, "train", *TINY_PPO, "-f", str(tmp_path / "logs"), *flags)
    assert_one_line_error(code, err, expected)
    assert not (tmp_path / "logs").exists()


def test_device_cuda_without_a_gpu_is_refused(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    code, _, err = run_cli(capsys, "train", *TINY_PPO, "-f", str(tmp_path), "--device", "cuda")
    assert_one_line_error(code, err, "--device cuda: no CUDA GPU is available here", "refusing", "--device cpu")
    code, _, err = run_cli(capsys, "enjoy", "--algo", "ppo", "--env", "CartPole-v1", "--device", "cuda")
    assert_one_line_error(code, err, "no CUDA GPU")


def test_log_folder_that_is_a_file(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    code, _, err = run_cli(capsys, "train", *TINY_PPO, "-f", str(tmp_path / "notes.txt"))
    assert_one_line_error(code, err, f"log folder {tmp_path / 'notes.txt'} is not a folder")
    code, _, err = run_cli(capsys, "train", *TINY_PPO, "-f", str(tmp_path / "notes.txt" / "logs"))
    assert_one_line_error(code, err, "is not a folder", "notes.txt is a file")


def test_read_only_log_folder(capsys, tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    logs.mkdir()
    logs.chmod(0o555)
    if os.geteuid() == 0:  # root writes anyway: let mkdir fail there as it does for everyone else
        real_mkdir = Path.mkdir

        def mkdir(self, *args, **kwargs):
            if self == logs or logs in self.parents:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", mkdir)
    try:
        code, _, err = run_cli(capsys, "train", *TINY_PPO, "-f", str(logs))
    finally:
        logs.chmod(0o755)
    assert_one_line_error(code, err, str(logs), "pass -f with a folder you can write to")


def test_full_disk_at_the_first_checkpoint(capsys, tmp_path, monkeypatch):
    """ENOSPC on every write of a checkpoint file (the config files, written earlier, fit)."""
    paths = {}

    def mkstemp(**kwargs):
        fd, path = tempfile.mkstemp(**kwargs)
        paths[fd] = path
        return fd, path

    class FullDisk(io.BufferedWriter):
        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdopen(fd, *args, **kwargs):
        if Path(paths.get(fd, "")).name.startswith(f".{runs.CHECKPOINT_PREFIX}_"):
            return FullDisk(io.FileIO(fd, "wb"))
        return os.fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(runs, "tempfile", types.SimpleNamespace(mkstemp=mkstemp))
    monkeypatch.setattr(runs, "os", types.SimpleNamespace(**{**vars(os), "fdopen": fdopen}))
    code, _, err = run_cli(capsys, "train", *TINY_PPO, "-f", str(tmp_path), "--save-freq", "32")
    run = tmp_path / "ppo" / "CartPole-v1_1"
    assert_one_line_error(code, err, "cannot write", "rl_model_32_steps.zip: No space left on device",
                          f"{run} removed: the run stopped before its first checkpoint")
    assert not run.exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no temporary file left either


@pytest.fixture
def trained_run(tmp_path):
    assert main(["train", *TINY_PPO, "-f", str(tmp_path / "logs")]) == 0
    return tmp_path / "logs"


def test_enjoy_record_into_an_unwritable_folder(capsys, tmp_path, trained_run):
    (tmp_path / "notes.txt").write_text("x")
    capsys.readouterr()
    enjoy = ["enjoy", "--algo", "ppo", "--env", "CartPole-v1", "-f", str(trained_run), "-n", "10"]
    code, _, err = run_cli(capsys, *enjoy, "--record", str(tmp_path / "notes.txt" / "videos"))
    assert_one_line_error(code, err, "--record", "cannot write a video there")
    code, _, err = run_cli(capsys, *enjoy, "--record", str(tmp_path / "notes.txt"))
    assert_one_line_error(code, err, "--record", "is a file")


def test_enjoy_negative_steps(capsys, trained_run):
    code, _, err = run_cli(capsys, "enjoy", "--algo", "ppo", "--env", "CartPole-v1", "-f", str(trained_run), "-n", "-5")
    assert_one_line_error(code, err, "-n/--n-timesteps must be at least 1, got -5")


def test_conf_file_that_is_a_folder(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", *TINY_PPO, "-f", str(tmp_path), "--conf-file", str(tmp_path))
    assert_one_line_error(code, err, f"--conf-file {tmp_path} is a folder", "pass a YAML file")


def test_tabular_agent_on_a_box_env_points_to_the_discretizing_wrapper(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--algo", "qlearning", "--env", "CartPole-v1", "-f", str(tmp_path))
    assert_one_line_error(code, err, "qlearning needs discrete observations",
                          "env_wrapper is zoo.envs.wrappers.DiscretizeObservation", "give low and high")


def test_full_disk_while_training_writes_its_monitor_file(capsys, tmp_path, monkeypatch):
    """ENOSPC outside a checkpoint (here the Monitor's CSV) is one line too; the run keeps its checkpoint."""
    from stable_baselines3.common.monitor import Monitor

    real_step = Monitor.step

    def step(self, action):
        if self.total_steps >= 40:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.results_writer.file_handler.name)
        return real_step(self, action)

    monkeypatch.setattr(Monitor, "step", step)
    code, _, err = run_cli(capsys, "train", *TINY_PPO, "-f", str(tmp_path), "--save-freq", "32")
    assert_one_line_error(code, err, "cannot write", "0.monitor.csv: No space left on device")
    assert list(runs.checkpoints(tmp_path / "ppo" / "CartPole-v1_1")) == [32]
