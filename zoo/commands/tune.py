"""``zoo tune``: tune an algorithm's hyperparameters on an env with Optuna (TPE, median pruner).

    zoo tune --algo ppo --env CartPole-v1 --n-trials 50 --n-seeds 3
    zoo tune --algo ppo --env CartPole-v1 --n-trials 50 --storage postgresql://user@host/db --study-name s
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algo", required=True, help="algorithm (one with a search space in zoo/search_spaces.py)")
    parser.add_argument("--env", required=True, help="gymnasium env id")
    parser.add_argument("--n-trials", type=int, default=20, help="trials this command runs (default 20)")
    parser.add_argument("--max-total-trials", type=int, default=None,
                        help="trials the study holds at most, over every worker and command")
    parser.add_argument("--n-seeds", type=int, default=1, help="runs per trial; the value is their median (default 1)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds after which no new trial starts")
    parser.add_argument("--storage", default=None,
                        help="sqlite:///FILE, postgresql://USER[:PASSWORD]@HOST/DB, or a .journal file "
                             "(default: LOG/tune/STUDY/study.journal)")
    parser.add_argument("--study-name", default=None, help="study to create or resume (default ALGO-ENV)")
    parser.add_argument("-f", "--log-folder", default="logs", help="where tune/STUDY/ goes (default: logs)")
    parser.add_argument("-n", "--n-timesteps", type=int, default=None, help="steps per run (default: the config's)")
    parser.add_argument("--n-evaluations", type=int, default=5, help="periodic evaluations per run, for the pruner")
    parser.add_argument("--eval-episodes", type=int, default=5, help="episodes per evaluation")
    parser.add_argument("--n-startup-trials", type=int, default=5, help="random trials before TPE and pruning start")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (or Ray tasks) of this command")
    parser.add_argument("--ray-address", default=None, help="run the workers as Ray tasks: 'local', 'auto' or HOST:PORT")
    parser.add_argument("--eval-seeds", type=int, default=3, help="fresh seeds to re-evaluate the best trial on (0: none)")
    parser.add_argument("--conf-file", default=None, help="config file instead of configs/ALGO.yml")
    parser.add_argument("--sampler-seed", type=int, default=None, help="seed of the TPE sampler")
    parser.add_argument("--heartbeat-interval", type=int, default=30,
                        help="seconds between a running trial's heartbeats (sqlite/PostgreSQL storages); a trial "
                             "silent for 3 intervals is failed and retried (default 30)")
    parser.add_argument("--create-only", action="store_true",
                        help="create the study and exit (before starting workers on several machines)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no line per trial")


def run(args: argparse.Namespace) -> int:
    from zoo.tune import TuneOptions, create_only, tune

    options = TuneOptions(
        algo=args.algo, env_id=args.env, n_trials=args.n_trials, max_total_trials=args.max_total_trials,
        n_seeds=args.n_seeds, timeout=args.timeout, storage=args.storage, study_name=args.study_name,
        log_folder=args.log_folder, n_timesteps=args.n_timesteps, n_evaluations=args.n_evaluations,
        eval_episodes=args.eval_episodes, n_startup_trials=args.n_startup_trials, workers=args.workers,
        ray_address=args.ray_address, eval_seeds=args.eval_seeds, conf_file=args.conf_file,
        sampler_seed=args.sampler_seed, heartbeat_interval=args.heartbeat_interval, verbose=0 if args.quiet else 1,
    )
    if args.create_only:
        print(create_only(options))
        return 0
    result = tune(options)
    states = ", ".join(f"{n} {s}" for s, n in result["states"].items() if n)
    print(f"Study {result['study']} ({result['storage']}): {result['trials_here']} trials here; all: {states}")
    best = result["best"]
    if best is None:
        print("No trial completed yet.")
        return 0
    print(f"Best: trial {best['trial']}, value {best['value']:.2f}: {best['params']}")
    if best["fresh_scores"]:
        print(f"Re-evaluated on fresh seeds {best['fresh_seeds']}: {best['fresh_mean']:.2f} ± {best['fresh_std']:.2f}")
    print(f"Config entry: {best['config']}  (zoo train --algo {args.algo} --env {args.env} "
          f"--conf-file {best['config']})")
    for name, path in result["plots"].items():
        print(f"Plot {name}: {path}")
    return 0
