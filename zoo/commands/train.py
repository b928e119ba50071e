"""``zoo train``: train an agent with its config (or resume a run)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algo", help="algorithm (see `zoo list`)")
    parser.add_argument("--env", help="gymnasium env id, e.g. CartPole-v1")
    parser.add_argument("-n", "--n-timesteps", type=int, default=None, help="override the config's n_timesteps (with --resume: the new total)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: drawn and recorded)")
    parser.add_argument("-f", "--log-folder", default="logs", help="where run folders go (default: logs)")
    parser.add_argument("--eval-freq", type=int, default=0,
                        help="evaluate every N steps (default 0: every 10,000 steps, at most 100 times per run; -1: never)")
    parser.add_argument("--eval-episodes", type=int, default=5, help="episodes per evaluation")
    parser.add_argument("--n-eval-envs", type=int, default=1, help="envs used for evaluation")
    parser.add_argument("--save-freq", type=int, default=0,
                        help="checkpoint every N steps (default 0: ten times per run; -1: never)")
    parser.add_argument("--hyperparams", nargs="+", metavar="KEY=VALUE", help="override config values")
    parser.add_argument("--env-kwargs", nargs="+", metavar="KEY=VALUE", help="keyword arguments for gym.make")
    parser.add_argument("--conf-file", help="config file to use instead of configs/ALGO.yml")
    parser.add_argument(
        "--vec-env", choices=("dummy", "subproc", "table"), default=None,
        help="VecEnv type (default: the config's vec_env, else dummy); table: NumPy copies of a toy-text env stepped from its transition table",
    )
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda")
    parser.add_argument("-P", "--progress", action="store_true", help="show a progress bar")
    parser.add_argument("--tensorboard-log", default=None, help="TensorBoard log folder")
    parser.add_argument("--resume", metavar="RUN_FOLDER", help="continue a run from its last checkpoint")
    parser.add_argument("--num-threads", type=int, default=1,
                        help="torch CPU threads (default 1: fastest for small networks; 0: torch's default)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no training logs")


def run(args: argparse.Namespace) -> int:
    import sys

    from zoo.config import parse_assignments
    from zoo.errors import ZooError
    from zoo.train import TrainingInterrupted, TrainOptions, resume, train

    verbose = 0 if args.quiet else 1
    try:
        if args.resume:
            result = resume(args.resume, device=args.device, progress=args.progress, verbose=verbose,
                            n_timesteps=args.n_timesteps)
        else:
            if not args.algo or not args.env:
                raise ZooError("--algo and --env are required (or --resume RUN_FOLDER)")
            options = TrainOptions(
                algo=args.algo, env_id=args.env, log_folder=args.log_folder, n_timesteps=args.n_timesteps,
                seed=args.seed, eval_freq=args.eval_freq, eval_episodes=args.eval_episodes,
                n_eval_envs=args.n_eval_envs, save_freq=args.save_freq,
                hyperparams=parse_assignments(args.hyperparams, "--hyperparams"),
                env_kwargs=parse_assignments(args.env_kwargs, "--env-kwargs"), conf_file=args.conf_file,
                vec_env=args.vec_env, device=args.device, progress=args.progress,
                tensorboard_log=args.tensorboard_log, verbose=verbose, num_threads=args.num_threads,
            )
            result = train(options)
    except TrainingInterrupted as stop:
        print(f"zoo train: {stop}; continue with: zoo train --resume {stop.run_folder}", file=sys.stderr)
        return 130
    print(f"Saved to {result.run_folder}")
    print(f"Final evaluation: mean reward {result.mean_reward:.2f} +/- {result.std_reward:.2f}")
    return 0
