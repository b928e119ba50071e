"""Atomic writes: a crash or kill while saving leaves the previous file whole and loadable."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from agents import PPO
from zoo import runs


@pytest.fixture(scope="module")
def model():
    return PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, seed=0)


def test_exception_mid_write_keeps_the_old_file(tmp_path, model):
    path = tmp_path / "checkpoints" / "rl_model_64_steps.zip"
    runs.save_model(model, path)
    before = path.read_bytes()

    def half_then_crash(handle):
        handle.write(b"PK\x03\x04 half a zip")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        runs.atomic_write(path, half_then_crash)
    assert path.read_bytes() == before
    assert PPO.load(path).num_timesteps == model.num_timesteps
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_kill_mid_save_keeps_the_last_checkpoint_loadable(tmp_path, model):
    path = tmp_path / "model.zip"
    runs.save_model(model, path)
    script = textwrap.dedent(f"""
        import sys, time
        from zoo import runs
        def slow(handle):
            handle.write(b"PK partial")
            handle.flush()
            print("writing", flush=True)
            time.sleep(60)
        runs.atomic_write({str(path)!r}, slow)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert PPO.load(path).num_timesteps == model.num_timesteps
    leftovers = [p for p in tmp_path.iterdir() if p != path]
    assert leftovers and all(p.name.endswith(".tmp") for p in leftovers)  # the killed writer's temp file only
    runs.save_model(model, path)  # and the next save still works
    assert PPO.load(path) is not None


def test_checkpoint_writes_model_last_and_lists_only_complete_ones(tmp_path, model):
    run = tmp_path / "run"
    path = runs.save_checkpoint(model, run)
    assert path == runs.checkpoint_files(run, model.num_timesteps)["model"]
    # a checkpoint whose model zip never got written (killed before it) is not listed
    (run / "checkpoints" / "rl_model_vecnormalize_999_steps.pkl").write_bytes(b"x")
    assert list(runs.checkpoints(run)) == [model.num_timesteps]


def test_yaml_files_are_plain_and_safe(tmp_path):
    import yaml

    runs.write_yaml(tmp_path / "config.yml", {"policy": "MlpPolicy", "net_arch": [64, 64], "lr": 0.001})
    assert yaml.safe_load((tmp_path / "config.yml").read_text()) == {"policy": "MlpPolicy", "net_arch": [64, 64], "lr": 0.001}
