"""``zoo plot``: learning curves of run folders (Monitor files and periodic evaluations)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders, e.g. logs/ppo/CartPole-v1_1")
    parser.add_argument("-o", "--output", help="write a PNG here (default: open a window)")
    parser.add_argument("--window", type=int, default=10, help="episodes of the training returns' moving average")


def run(args: argparse.Namespace) -> int:
    from zoo.plot import plot_runs

    written = plot_runs(args.runs, args.output, window=args.window)
    if written is not None:
        print(f"Saved {written}")
    return 0
