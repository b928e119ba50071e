"""``zoo benchmark``: train a matrix of (algorithm, env) pairs for several seeds; table, JSON and plots.

    zoo benchmark --algos ppo dqn qlearning --envs CartPole-v1 Taxi-v4 --seeds 5 -f bench/
    zoo benchmark --all --seeds 5 --ray-address auto
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algos", nargs="+", metavar="ALGO", help="algorithms (default with --all: every shipped config)")
    parser.add_argument("--envs", nargs="+", metavar="ENV_ID", help="env ids (default: every env their configs name)")
    parser.add_argument("--all", action="store_true", help="every (algorithm, env) pair of the shipped configs")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per pair: 0 .. SEEDS-1 (default 3)")
    parser.add_argument("-f", "--folder", default="benchmark", help="benchmark folder (default: benchmark)")
    parser.add_argument("-n", "--n-timesteps", type=int, default=None, help="override every config's n_timesteps")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes of the local pool (default 0: one per core); with Ray: CPUs of a local Ray")
    parser.add_argument("--ray-address", default=None,
                        help="run as Ray tasks: 'local' (start Ray here), 'auto' (the running cluster), or HOST:PORT")
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes of each run's final evaluation")
    parser.add_argument("--eval-points", type=int, default=20, help="periodic evaluations per run (curve points)")
    parser.add_argument("--org", default="agent-zoo", help="Hub organisation for the best seed's repository name")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import shlex
    import sys
    from pathlib import Path

    from zoo.benchmark import BenchmarkOptions, benchmark
    from zoo.errors import ZooError

    if not (args.all or args.algos or args.envs):
        raise ZooError("say what to run: --algos/--envs, or --all for every shipped config")
    for name in ("seeds", "eval_episodes", "eval_points"):
        if getattr(args, name) < 1:
            raise ZooError(f"--{name.replace('_', '-')} must be at least 1")
    if args.n_timesteps is not None and args.n_timesteps < 1:
        raise ZooError("-n must be at least 1")
    options = BenchmarkOptions(
        algos=args.algos, envs=args.envs, seeds=args.seeds, folder=args.folder, n_timesteps=args.n_timesteps,
        workers=args.workers, ray_address=args.ray_address, eval_episodes=args.eval_episodes,
        eval_points=args.eval_points, org=args.org, progress=not args.quiet,
    )
    command = "zoo " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        results = benchmark(options, command=command)
    except KeyboardInterrupt:
        print(f"zoo benchmark: interrupted (runs in progress saved a checkpoint); continue with: {command}",
              file=sys.stderr)
        return 130
    print(Path(args.folder, "results.md").read_text())
    print(f"{results['ran']} runs made, {results['skipped_finished']} finished earlier; "
          f"results in {Path(args.folder, 'results.json')}, plots in {Path(args.folder, 'plots')}")
    return 0
