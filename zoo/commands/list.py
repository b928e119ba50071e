"""``zoo list``: the algorithms, the envs their configs cover, and the pretrained agents."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algo", help="only this algorithm")


def run(args: argparse.Namespace) -> int:
    from agents.registry import ALGOS, get_spec
    from zoo.config import config_path, configured_envs

    specs = [get_spec(args.algo)] if args.algo else list(ALGOS.values())
    rows = [("algorithm", "class", "source", "action spaces", "configured envs")]
    for spec in specs:
        path = config_path(spec.name)
        envs = ", ".join(configured_envs(path)) if path.is_file() else "(no config)"
        rows.append((spec.name, spec.class_name, spec.source, ", ".join(spec.action_spaces), envs))
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(4)]
    for row in rows:
        print("".join(cell.ljust(width) for cell, width in zip(row, widths)) + row[4])
    from hub.store import list_pretrained

    agents = list_pretrained()
    print(f"\nPretrained agents ({len(agents)}):" if agents else "\nNo pretrained agents in the store yet.")
    for name in agents:
        print(f"  {name}")
    return 0
