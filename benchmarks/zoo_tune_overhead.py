"""``zoo tune``'s overhead per trial (Optuna + storage) against a 20k-step PPO trial on CartPole-v1.

A worker (:func:`zoo.tune.run_trials`, what ``zoo tune`` runs) is timed from loading the study to telling its
last trial's result. Each trial records ``train_s`` (time inside :func:`zoo.train.train`, the reference,
measured in the same run) and ``optuna_in_train_s`` (the pruner's ``report``/``should_prune`` calls made from
inside training). Overhead = worker time - training time + Optuna's time inside training: loading the study,
sampling, the trial lock, the storage's reads and writes, heartbeats, pruning. Goal: under 2% of a trial.
Storages: the default journal file and sqlite.

    python benchmarks/zoo_tune_overhead.py [--trials 3] [--steps 20000]

Writes ``benchmarks/results/zoo_tune_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

from zoo.tune import TuneOptions, create_study, load_study, run_trials  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def measure(storage: str | None, folder: str, trials: int, steps: int) -> dict:
    options = TuneOptions(algo="ppo", env_id="CartPole-v1", n_trials=trials, n_timesteps=steps, storage=storage,
                          log_folder=folder, eval_seeds=0, n_startup_trials=trials, sampler_seed=0, verbose=0)
    create_study(options)
    start = time.perf_counter()
    run_trials(options, trials)
    worker_s = time.perf_counter() - start
    study, _, _ = load_study(options)
    rows = []
    for trial in study.trials:
        attrs = trial.user_attrs
        overhead = attrs["trial_s"] - attrs["train_s"] + attrs.get("optuna_in_train_s", 0.0)
        rows.append({"trial": trial.number, "state": trial.state.name, "trial_s": round(attrs["trial_s"], 3),
                     "train_s": round(attrs["train_s"], 3), "optuna_in_train_s": round(attrs.get("optuna_in_train_s", 0.0), 4),
                     "overhead_before_tell_s": round(overhead, 4)})
    train_s = sum(t.user_attrs["train_s"] - t.user_attrs.get("optuna_in_train_s", 0.0) for t in study.trials)
    overhead = worker_s - train_s
    return {"storage": storage or "journal (default)", "trials": rows, "worker_s": round(worker_s, 3),
            "train_s": round(train_s, 3), "overhead_s": round(overhead, 3),
            "overhead_per_trial_s": round(overhead / len(rows), 4), "overhead_pct": round(100 * overhead / worker_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--storages", nargs="+", choices=("journal", "sqlite"), default=["journal", "sqlite"])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        urls = {"journal": None, "sqlite": f"sqlite:///{folder}/study.db"}
        for storage in (urls[name] for name in args.storages):
            result = measure(storage, folder + f"/{len(results)}", args.trials, args.steps)
            results.append(result)
            for row in result["trials"]:
                print(f"{result['storage']}: trial {row['trial']} ({row['state'].lower()}): {row['trial_s']:.1f} s, "
                      f"of which training {row['train_s']:.1f} s")
            print(f"{result['storage']}: worker {result['worker_s']:.1f} s, training {result['train_s']:.1f} s: overhead "
                  f"{result['overhead_per_trial_s'] * 1000:.0f} ms per trial = {result['overhead_pct']:.2f}% (goal < 2%)")
    summary = {"steps": args.steps, "command": "python benchmarks/zoo_tune_overhead.py " + " ".join(sys.argv[1:]), "load_after": os.getloadavg(), "storages": results, "goal_pct": 2.0}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "zoo_tune_overhead.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
