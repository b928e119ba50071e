"""Errors a person can act on: one line, what to fix, exit code 2, no traceback."""

import subprocess
import sys

import pytest

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
