"""``zoo tune``: journal storage resumed by study name, exact trial caps across workers (journal and
PostgreSQL), a killed worker's trial retried (sqlite heartbeats), and the best trial as a config entry."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

from zoo.config import load_hyperparams  # noqa: E402
from zoo.tune import rdb_url  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
# Q-learning on Taxi: a trial of 2 seeds x 2,000 steps takes well under a second.
TINY = ["--algo", "qlearning", "--env", "Taxi-v4", "-n", "2000", "--n-evaluations", "2", "--eval-episodes", "2",
        "--n-startup-trials", "2"]


def zoo(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, timeout=timeout)


def start_zoo(*args):
    return subprocess.Popen([sys.executable, "-m", "zoo", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def trials_of(study_name: str, storage) -> list:
    return optuna.load_study(study_name=study_name, storage=storage).get_trials(deepcopy=False)


def journal(folder: Path, study: str):
    path = str(folder / "tune" / study / "study.journal")
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        path, lock_obj=optuna.storages.journal.JournalFileOpenLock(path)))


def test_journal_study_resumes_by_name_and_writes_the_best_config(tmp_path):
    first = zoo("tune", *TINY, "--n-trials", "2", "--n-seeds", "2", "--study-name", "s", "-f", str(tmp_path),
                "--eval-seeds", "0")
    assert first.returncode == 0, first.stderr
    second = zoo("tune", *TINY, "--n-trials", "2", "--n-seeds", "2", "--study-name", "s", "-f", str(tmp_path),
                 "--eval-seeds", "2")
    assert second.returncode == 0, second.stderr
    trials = trials_of("s", journal(tmp_path, "s"))
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    for trial in trials:
        if trial.state == TrialState.COMPLETE:
            assert trial.value == pytest.approx(np.median(trial.user_attrs["seed_scores"]))
            assert len(trial.user_attrs["seed_scores"]) == 2
    folder = tmp_path / "tune" / "s"
    best = json.loads((folder / "best.json").read_text())
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert best["value"] == max(t.value for t in complete) and best["n_trials"] == 4
    assert len(best["fresh_scores"]) == 2 and best["fresh_seeds"] == [1000, 1001]
    # the config entry holds the best values, and zoo train takes it
    hp = load_hyperparams("qlearning", "Taxi-v4", folder / "best.yml")
    for key, value in best["params"].items():
        assert hp.raw[key] == value
    trained = zoo("train", "--algo", "qlearning", "--env", "Taxi-v4", "--conf-file", str(folder / "best.yml"),
                  "-n", "500", "-f", str(tmp_path / "logs"), "-q", "--eval-freq", "-1")
    assert trained.returncode == 0, trained.stderr
    for name in ("history", "importances"):
        assert (folder / "plots" / f"{name}.png").read_bytes()[:8] == PNG


def test_two_local_workers_stop_exactly_at_max_total_trials(tmp_path):
    done = zoo("tune", *TINY, "--n-trials", "20", "--max-total-trials", "5", "--workers", "2", "-f", str(tmp_path),
               "--eval-seeds", "0", "-q")
    assert done.returncode == 0, done.stderr
    trials = trials_of("qlearning-Taxi-v4", journal(tmp_path, "qlearning-Taxi-v4"))
    assert len(trials) == 5 and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)


def test_a_killed_workers_trial_is_failed_by_its_heartbeat_and_retried(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    common = ["tune", "--algo", "qlearning", "--env", "Taxi-v4", "-n", "3000000", "--n-evaluations", "2",
              "--eval-episodes", "2", "--storage", storage, "--study-name", "k", "-f", str(tmp_path),
              "--heartbeat-interval", "1", "--eval-seeds", "0", "--max-total-trials", "1"]
    assert zoo(*common, "--create-only").returncode == 0
    worker = start_zoo(*common, "--n-trials", "1")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until its trial runs, then kill the worker
        if any(t.state == TrialState.RUNNING for t in trials_of("k", storage)):
            break
        time.sleep(0.2)
    time.sleep(1.5)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    killed = next(t for t in trials_of("k", storage) if t.state == TrialState.RUNNING)
    time.sleep(4)  # the heartbeat goes stale after 3 intervals
    short = [a if a != "3000000" else "2000" for a in common]  # the retry itself: keep it short
    again = zoo(*short, "--n-trials", "1")
    assert again.returncode == 0, again.stderr
    trials = trials_of("k", storage)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert trials[0].number == killed.number and trials[1].params == killed.params
    assert trials[1].system_attrs["failed_trial"] == killed.number


POSTGRES = os.environ.get("ZOO_TEST_POSTGRES_URL")


@pytest.mark.skipif(not POSTGRES, reason="no PostgreSQL server: set ZOO_TEST_POSTGRES_URL (.ci/run starts one)")
def test_two_worker_processes_share_a_postgresql_study_and_end_exactly_at_the_cap(tmp_path):
    name = f"pg-{os.getpid()}-{time.time_ns()}"
    common = ["tune", *TINY, "--storage", POSTGRES, "--study-name", name, "-f", str(tmp_path), "--eval-seeds", "0",
              "--max-total-trials", "6", "-q"]
    created = zoo(*common, "--create-only")
    assert created.returncode == 0, created.stderr
    workers = [start_zoo(*common, "--n-trials", "20") for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    trials = trials_of(name, rdb_url(POSTGRES))
    assert len(trials) == 6 and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert sorted(t.number for t in trials) == list(range(6))
    here = [int(out.split(": ")[1].split(" trials here")[0]) for out, _ in outputs]
    assert sum(here) == 6


@pytest.mark.parametrize("args, message", [
    (["tune", "--algo", "ars", "--env", "CartPole-v1"], "no search space for ars"),
    (["tune", "--algo", "ppo", "--env", "CartPole-v1", "--n-trials", "0"], "--n-trials must be at least 1"),
    (["tune", "--algo", "ppo", "--env", "NoSuchEnv-v0"], "NoSuchEnv-v0"),
    (["tune", "--algo", "ppo", "--env", "CartPole-v1", "--storage", "postgresql://nobody@127.0.0.1:1/none",
      "--create-only"], "cannot open the storage"),
])
def test_bad_input_gets_one_line(args, message):
    done = zoo(*args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
