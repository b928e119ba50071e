"""The ten RL Baselines3 Zoo agents, loaded pickle-free by repository id, against their reported scores.

All in one run: a Hub server (``hub.server.HubServer``) on loopback serves ``tests/data/sb3-zoo-agents``;
each agent is loaded with ``hub.loading.load_agent(repo_id)`` (8 of the 10 were saved with the old ``gym``,
which SB3's own ``load`` cannot read any more) and evaluated with SB3's ``evaluate_policy``, deterministic,
on ``--episodes`` episodes of a seeded env built as it was trained (wrappers, frozen normalisation).

Prints, per agent, the measured mean +/- std next to ``EXPECTED.tsv``'s reported mean +/- std, the ratio
measured/reported, and whether the measured mean lies within one reported standard deviation (exactly 500
for the CartPole agents). Exits 1 if any does not. Usage::

    python benchmarks/hub_fixtures.py [--episodes 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "data" / "sb3-zoo-agents"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.update(HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    import numpy as np
    import torch as th
    from stable_baselines3.common.evaluation import evaluate_policy

    th.set_num_threads(1)
    from hub.loading import load_agent
    from hub.server import HubServer
    from zoo.envs.factory import create_env

    work = Path(tempfile.mkdtemp(prefix="hub-fixtures-"))
    server = HubServer(work / "root", port=0, seed=FIXTURES).start()
    rows = list(csv.DictReader(open(FIXTURES / "EXPECTED.tsv"), delimiter="\t"))
    failures = 0
    print(f"{'repository':<34}{'measured':>20}{'reported':>20}{'ratio':>8}  within 1 std")
    try:
        for row in rows:
            start = time.perf_counter()
            agent = load_agent(row["repo_id"], endpoint=server.url, cache_dir=work / "cache", device="cpu")
            env = create_env(agent.env_id, 1, hyperparams=agent.hyperparams, env_kwargs=agent.env_kwargs,
                             seed=args.seed, wrap_normalize=agent.wrap_normalize, training=False)
            returns, _ = evaluate_policy(agent.model, env, n_eval_episodes=args.episodes, deterministic=True,
                                         return_episode_rewards=True)
            env.close()
            mean, std = float(np.mean(returns)), float(np.std(returns))
            reported, reported_std = float(row["reported_mean"]), float(row["reported_std"])
            ok = mean == 500.0 if row["env_id"] == "CartPole-v1" else abs(mean - reported) <= reported_std
            failures += not ok
            print(f"{row['repo_id']:<34}{mean:>12.2f} +/- {std:<6.2f}{reported:>10.2f} +/- {reported_std:<6.2f}"
                  f"{mean / reported:>7.3f}  {'yes' if ok else 'NO'}   ({time.perf_counter() - start:.1f} s)")
    finally:
        server.stop()
    print(f"{len(rows) - failures} of {len(rows)} reproduce their reported score ({args.episodes} episodes each)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
