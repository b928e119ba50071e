"""``zoo benchmark`` and ``zoo plot``: a 2-algorithm x 2-env x 2-seed matrix on tiny budgets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.benchmark import BenchmarkOptions, RunSpec, benchmark, final_figures, record_path
from zoo.enjoy import load_run
from zoo.runs import checkpoints, safe_env_name

ALGOS, ENVS = ["a2c", "ppo"], ["CartPole-v1", "MountainCar-v0"]
PNG = b"\x89PNG\r\n\x1a\n"


def zoo(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, timeout=timeout)


def options(folder: Path, **changes) -> BenchmarkOptions:
    base = dict(algos=ALGOS, envs=ENVS, seeds=2, folder=str(folder), n_timesteps=512, workers=2, eval_episodes=2,
                eval_points=2, progress=False)
    return BenchmarkOptions(**{**base, **changes})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    return folder, benchmark(options(folder))


def test_matrix_runs_every_pair_and_seed_and_reports_them(finished):
    folder, results = finished
    records = results["records"]
    assert sorted((r["algo"], r["env_id"], r["seed"]) for r in records) == sorted(
        (a, e, s) for a in ALGOS for e in ENVS for s in (0, 1))
    assert results["ran"] == 8 and results["skipped_finished"] == 0
    on_disk = json.loads((folder / "results.json").read_text())
    table = (folder / "results.md").read_text()
    for row in on_disk["table"]:
        group = [r for r in records if (r["algo"], r["env_id"]) == (row["algo"], row["env_id"])]
        scores = [r["figures"]["mean_reward"] for r in sorted(group, key=lambda r: r["seed"])]
        assert row["scores"] == scores
        assert row["mean"] == pytest.approx(np.mean(scores)) and row["std"] == pytest.approx(np.std(scores))
        assert row["iqm_ci"][0] <= row["iqm"] <= row["iqm_ci"][1]
        line = next(line for line in table.splitlines() if line.startswith(f"| {row['algo']} | {row['env_id']} |"))
        assert f"{row['mean']:.2f} ± {row['std']:.2f}" in line
        assert f"`agent-zoo/{row['algo']}-{row['env_id']}`" in line
        best = group[int(np.argmax(scores))]
        assert row["best_seed"] == best["seed"] and row["best_run_folder"] == best["run_folder"]
    assert "commit" in table and "zoo 0.1.0" in table


def test_each_record_holds_what_its_run_produced(finished):
    folder, results = finished
    for record in results["records"]:
        run = Path(record["run_folder"])
        assert run.is_relative_to(folder) and (run / f"{safe_env_name(record['env_id'])}.zip").is_file()
        assert record["env_steps"] >= 512
        with np.load(run / "evaluations.npz") as data:
            assert record["eval_curve"]["steps"] == data["timesteps"].tolist()
            assert record["eval_curve"]["y"] == pytest.approx(data["results"].mean(axis=1).tolist())
    record = results["records"][0]
    spec = RunSpec(record["algo"], record["env_id"], record["seed"])
    again = final_figures(load_run(record["run_folder"], device="cpu").model, Path(record["run_folder"]), spec, 2)
    assert again["mean_reward"] == pytest.approx(record["figures"]["mean_reward"])


def test_plots_are_written(finished):
    folder, results = finished
    expected = {f"{a}_{e}.png" for a in ALGOS for e in ENVS} | {"family_sb3.png"}
    assert {p.name for p in (folder / "plots").iterdir()} == expected
    for path in (folder / "plots").iterdir():
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000


def test_resuming_skips_finished_runs_and_finishes_interrupted_ones(finished):
    folder, first = finished
    # an interrupted run: its record gone, its final model and later checkpoints not written yet
    spec = RunSpec("ppo", "CartPole-v1", 1)
    record = json.loads(record_path(folder, spec).read_text())
    record_path(folder, spec).unlink()
    run = Path(record["run_folder"])
    (run / "CartPole-v1.zip").unlink()
    found = checkpoints(run)
    for steps, path in found.items():
        if steps > min(found):
            path.unlink()
    stamps = {str(p): p.stat().st_mtime_ns for p in folder.glob("records/*/*/*.json")}
    second = benchmark(options(folder))
    assert second["ran"] == 1 and second["skipped_finished"] == 7
    assert stamps == {str(p): p.stat().st_mtime_ns for p in folder.glob("records/*/*/*.json") if str(p) in stamps}
    resumed = next(r for r in second["records"] if (r["algo"], r["env_id"], r["seed"]) == ("ppo", "CartPole-v1", 1))
    assert resumed["resumed"] and resumed["run_folder"] == record["run_folder"]
    assert resumed["env_steps"] >= 512 and max(checkpoints(run)) > min(found)  # went on from its checkpoint


def test_plot_command_writes_a_png_of_runs(finished, tmp_path):
    _, results = finished
    runs = [r["run_folder"] for r in results["records"][:2]]
    out = tmp_path / "curves.png"
    done = zoo("plot", *runs, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == PNG


@pytest.mark.parametrize("args, message", [
    (["benchmark"], "--algos/--envs, or --all"),
    (["benchmark", "--algos", "ppoo"], "unknown algorithm"),
    (["benchmark", "--algos", "ppo", "--seeds", "0"], "--seeds must be at least 1"),
    (["benchmark", "--algos", "qlearning", "--envs", "CartPole-v1"], "nothing to benchmark"),
    (["plot", "/nonexistent/run"], "holds no learning curve"),
])
def test_bad_input_gets_one_line(args, message):
    done = zoo(*args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_a_local_ray_runs_the_benchmark(tmp_path):
    pytest.importorskip("ray")
    done = zoo("benchmark", "--algos", "qlearning", "--envs", "Taxi-v4", "FrozenLake-v1", "--seeds", "2", "-n", "500",
               "-f", str(tmp_path), "--ray-address", "local", "--workers", "2", "--eval-episodes", "2",
               "--eval-points", "2", "-q")
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["ran"] == 4 and len(results["records"]) == 4
    assert {r["env_id"] for r in results["records"]} == {"Taxi-v4", "FrozenLake-v1"}
    assert all(Path(r["run_folder"]).is_dir() and r["env_steps"] >= 500 for r in results["records"])


def test_a_planner_is_benchmarked_on_a_game_by_its_evaluation_hook(tmp_path):
    """MCTS trains nothing: its runs are evaluations of the config's settings on a PettingZoo game, whose own
    figures (W/D/L) reach the table; an algorithm that must train on a gymnasium env is listed as not run."""
    results = benchmark(BenchmarkOptions(algos=["mcts", "ppo"], envs=["tictactoe_v3"], seeds=2, folder=str(tmp_path),
                                         workers=1, eval_episodes=2, progress=False))
    assert results["ran"] == 2 and [r["seed"] for r in results["records"]] == [0, 1]
    for record in results["records"]:
        figures = record["figures"]
        assert record["evaluation_only"] and record["env_steps"] == 0 and record["run_folder"] is None
        assert figures["vs_random/wins"] + figures["vs_random/draws"] + figures["vs_random/losses"] == 2
    assert [s["algo"] for s in results["not_run"]] == ["ppo"]
    table = (tmp_path / "results.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| mcts | tictactoe_v3 | 2 |"))
    assert "vs_random/wins" in row and "nothing trained" in row
    assert "Not run: ppo tictactoe_v3 (" in table
