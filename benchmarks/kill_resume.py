"""Kill -9 a DQN run at random moments, resume it, and compare where it ends with the uninterrupted run.

    python benchmarks/kill_resume.py [--kills 4] [--seed 0] [--old PYTHONPATH_OF_ANOTHER_CHECKOUT]

DQN on CartPole-v1 with the shipped config (rollouts of train_freq=256 steps), ``-n 20000`` and the default
checkpoints (every 2,000 steps: inside rollouts). The uninterrupted run is the reference (it ends at the end
of its last rollout, 20,224 steps). Each killed run is resumed with ``zoo train --resume``; the figure is how
many resumed runs end at the reference's step count, whether the resume found its replay buffer (no warning)
and how many transitions it resumed with. ``--old`` runs the same kills against another checkout (e.g. the
code before issue 10) in the same run, for comparison (``--only-old``: only that one). Writes
``benchmarks/results/kill_resume.json`` (``kill_resume_old.json`` with ``--only-old``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parent.parent
TRAIN = ["train", "--algo", "dqn", "--env", "CartPole-v1", "-n", "20000", "--eval-freq", "-1", "-q"]


def zoo(args: list[str], pythonpath: str) -> subprocess.Popen:
    # run from a neutral folder: `python -m` puts the working directory first on sys.path
    env = {**os.environ, "PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "zoo", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())


def final_steps(run: Path, pythonpath: str) -> int:
    code = ("import sys; from stable_baselines3 import DQN; "
            f"print(DQN.load({str(run / 'CartPole-v1.zip')!r}, device='cpu').num_timesteps)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": pythonpath}, cwd=tempfile.gettempdir())
    return int(out.stdout.strip())


def buffer_size(run: Path) -> int | None:
    """Transitions in the replay buffer of the newest complete checkpoint (None: no buffer there)."""
    from stable_baselines3.common.save_util import load_from_pkl

    zips = sorted(run.glob("checkpoints/rl_model_*_steps.zip"), key=lambda p: int(p.stem.split("_")[-2]))
    if not zips:
        return None
    steps = int(zips[-1].stem.split("_")[-2])
    path = run / "checkpoints" / f"rl_model_replay_buffer_{steps}_steps.pkl"
    return load_from_pkl(path).size() if path.is_file() else None


def one_code(label: str, pythonpath: str, kills: int, seed: int, rng: random.Random, workdir: Path) -> dict:
    logs = workdir / label
    start = time.time()
    process = zoo([*TRAIN, "--seed", str(seed), "-f", str(logs / "reference")], pythonpath)
    _, err = process.communicate()
    assert process.returncode == 0, err
    wall = time.time() - start
    imported = subprocess.run([sys.executable, "-c", "import zoo; print(zoo.__file__)"], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": pythonpath}, cwd=tempfile.gettempdir()).stdout.strip()
    print(f"[{label}] zoo imported from {imported}", flush=True)
    reference = final_steps(logs / "reference" / "dqn" / "CartPole-v1_1", pythonpath)
    print(f"[{label}] uninterrupted: {reference} steps in {wall:.0f} s", flush=True)
    rows = []
    for i in range(kills):
        delay = rng.uniform(0.25, 0.9) * wall
        folder = logs / f"kill{i}"
        process = zoo([*TRAIN, "--seed", str(seed), "-f", str(folder)], pythonpath)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        run = folder / "dqn" / "CartPole-v1_1"
        checkpoints = sorted(int(p.stem.split("_")[-2]) for p in run.glob("checkpoints/rl_model_*_steps.zip"))
        if not checkpoints:
            rows.append({"killed_after_s": round(delay, 1), "checkpoint": None})
            print(f"[{label}] kill {i} at {delay:.0f} s: no checkpoint yet", flush=True)
            continue
        buffered = buffer_size(run)
        resumed = zoo(["train", "--resume", str(run), "-q"], pythonpath)
        _, err = resumed.communicate()
        assert resumed.returncode == 0, err
        steps = final_steps(run, pythonpath)
        row = {"killed_after_s": round(delay, 1), "checkpoint": checkpoints[-1], "buffer_at_checkpoint": buffered,
               "resume_warned": "warning" in err, "end_steps": steps, "same_end": steps == reference}
        rows.append(row)
        print(f"[{label}] kill {i} at {delay:.0f} s: resumed from {checkpoints[-1]} (buffer: {buffered}), "
              f"ended at {steps} (reference {reference}){' WARNED' if row['resume_warned'] else ''}", flush=True)
    resumed_rows = [r for r in rows if r["checkpoint"] is not None]
    same = sum(r["same_end"] for r in resumed_rows)
    print(f"[{label}] {same} of {len(resumed_rows)} resumed runs end at the reference's {reference} steps "
          f"(ratio {same / max(len(resumed_rows), 1):.2f})", flush=True)
    return {"zoo": imported, "reference_steps": reference, "reference_wall_s": round(wall, 1), "kills": rows,
            "same_end": same, "resumed": len(resumed_rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--old", help="PYTHONPATH of another checkout to measure the same way (e.g. the code before issue 10)")
    parser.add_argument("--only-old", action="store_true", help="measure only the --old checkout")
    args = parser.parse_args()
    results = {"command": " ".join(["python", "benchmarks/kill_resume.py", *sys.argv[1:]]), "train": TRAIN}
    with tempfile.TemporaryDirectory() as workdir:
        if not args.only_old:
            results["this"] = one_code("this", str(REPO), args.kills, args.seed, random.Random(args.seed), Path(workdir))
        if args.old:
            results["old"] = one_code("old", args.old, args.kills, args.seed, random.Random(args.seed), Path(workdir))
    RESULTS.mkdir(exist_ok=True)
    name = "kill_resume_old.json" if args.only_old else "kill_resume.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
