"""``zoo pull``: download an agent from the Hub into a run folder (``LOG/ALGO/ENV_ID_N``).

    zoo pull --repo-id sb3/ppo-CartPole-v1 [--revision SHA] -f logs/
    zoo enjoy --folder logs/ppo/CartPole-v1_1        # or: zoo enjoy --algo ppo --env CartPole-v1
    zoo train --resume logs/ppo/CartPole-v1_1        # continue training (up to the config's n_timesteps)
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo-id", required=True, help="repository ORG/NAME, e.g. sb3/ppo-CartPole-v1")
    parser.add_argument("--revision", help="branch, tag or commit sha (default: main)")
    parser.add_argument("-f", "--log-folder", default="logs", help="where the run folder goes (default: logs)")
    parser.add_argument("--endpoint", help="Hub URL (default: $HF_ENDPOINT or huggingface.co)")
    parser.add_argument("--token", help="access token (default: $HF_TOKEN or the stored login)")
    parser.add_argument("--device", default="auto", help="torch device")


def run(args: argparse.Namespace) -> int:
    from zoo.pull import pull
    from zoo import runs

    folder = pull(args.repo_id, args.log_folder, revision=args.revision, endpoint=args.endpoint, token=args.token,
                  device=args.device)
    source = runs.read_run_yaml(folder, "hub.yml")
    print(f"Pulled {args.repo_id} at commit {source['commit']} into {folder}")
    return 0
