"""The report of ``zoo benchmark``: aggregate the records over seeds, write the table, JSON and plots.

Each run's score is its final evaluation's mean return (through the evaluation hook). Over the seeds of an
(algorithm, env) pair: the interquartile mean with a 95% stratified-bootstrap confidence interval
(rliable, Agarwal et al. 2021), mean ± std, and the mean of every other figure the family reports.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from agents.common.evaluation import extra_figures
from zoo import runs
from zoo.plot import Curve, curve_from_json

BOOTSTRAP_REPS = 2000


def group_records(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Records by (algorithm, env), seeds in order."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["algo"], record["env_id"])].append(record)
    return {key: sorted(group, key=lambda r: r["seed"]) for key, group in groups.items()}


def iqm_with_ci(scores: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Interquartile mean of ``scores`` (one per seed) and its 95% bootstrap confidence interval (rliable)."""
    from rliable import library as rly
    from rliable import metrics

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        point, interval = rly.get_interval_estimates(
            {"x": np.asarray(scores, dtype=float).reshape(-1, 1)},
            lambda s: np.array([metrics.aggregate_iqm(s)]), reps=BOOTSTRAP_REPS,
            random_state=np.random.RandomState(seed))
    return float(point["x"][0]), float(interval["x"][0, 0]), float(interval["x"][1, 0])


def mean_extra_figures(group: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure beyond the standard ones, averaged over seeds (numbers) or listed once (text)."""
    values: dict[str, list[Any]] = defaultdict(list)
    for record in group:
        for key, value in extra_figures(record["figures"]).items():
            values[key].append(value)
    summary: dict[str, Any] = {}
    for key, found in values.items():
        numbers = [v for v in found if isinstance(v, (int, float)) and not isinstance(v, bool)]
        summary[key] = float(np.mean(numbers)) if len(numbers) == len(found) else sorted({str(v) for v in found})
    return summary


def summarise_group(algo: str, env_id: str, group: list[dict[str, Any]], org: str) -> dict[str, Any]:
    """One row of the table: the seeds' aggregate and the best seed's run folder and Hub repository name."""
    scores = np.array([r["figures"]["mean_reward"] for r in group])
    iqm, low, high = iqm_with_ci(scores)
    best = group[int(np.argmax(scores))]
    repo = f"{org}/{algo}-{runs.safe_env_name(env_id)}"
    return {
        "algo": algo, "env_id": env_id, "family": group[0].get("family", ""), "seeds": [r["seed"] for r in group],
        "scores": scores.tolist(), "iqm": iqm, "iqm_ci": [low, high], "mean": float(scores.mean()),
        "std": float(scores.std()), "own_figures": mean_extra_figures(group),
        "env_steps": float(np.mean([r["env_steps"] for r in group])),
        "wall_clock_s": float(np.mean([r["wall_clock_s"] for r in group])),
        "hardware": sorted({r["hardware"] for r in group}),
        "best_seed": best["seed"], "best_run_folder": best["run_folder"], "hub_repo": repo,
        "push": f"zoo push --folder {best['run_folder']} --repo-id {repo}" if best["run_folder"] else None,
    }


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"


def _figure(key: str, value: Any) -> str:
    if isinstance(value, list):
        return f"{key} {', '.join(value)}"
    return f"{key} {value:,.0f}" if abs(value) >= 1000 else f"{key} {value:.3g}"


def markdown_table(rows: list[dict[str, Any]], results: dict[str, Any]) -> str:
    """The results table in Markdown, with a line saying what made it."""
    zoo = results["zoo"]
    lines = [
        f"Made by `{results['command'] or 'zoo benchmark'}` — zoo {zoo['version']} (commit {zoo['commit']}), "
        f"{results['finished']}. Score: each seed's final deterministic evaluation "
        f"({results['options']['eval_episodes']} episodes); IQM with a 95% stratified-bootstrap CI (rliable) over seeds.",
        "",
        "| algo | env | seeds | IQM [95% CI] | mean ± std | own figures | env steps | wall-clock per seed | hardware | best seed → Hub repo |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        own = "; ".join(_figure(k, v) for k, v in row["own_figures"].items()) or "—"
        lines.append(
            f"| {row['algo']} | {row['env_id']} | {len(row['seeds'])} | {_number(row['iqm'])} "
            f"[{_number(row['iqm_ci'][0])}, {_number(row['iqm_ci'][1])}] | {_number(row['mean'])} ± {_number(row['std'])} "
            f"| {own} | {row['env_steps']:,.0f} | {row['wall_clock_s']:.1f} s | {'; '.join(row['hardware'])} "
            + (f"| {row['best_seed']} → `{row['hub_repo']}` |" if row["best_run_folder"] else "| — (nothing trained) |"))
    not_run = results.get("not_run", [])
    if not_run:
        lines += ["", "Not run: " + "; ".join(f"{s['algo']} {s['env_id']} ({s['reason']})" for s in not_run) + "."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- plots


def bootstrap_band(values: np.ndarray, reps: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """95% bootstrap interval of the mean over seeds (rows) at each point (columns)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(reps, len(values)))
    means = values[picks].mean(axis=1)
    return np.percentile(means, 2.5, axis=0), np.percentile(means, 97.5, axis=0)


def on_grid(curves: list[Curve], x: str, points: int = 50) -> tuple[np.ndarray, np.ndarray] | None:
    """Every seed's curve interpolated onto a common grid of ``x`` (``"steps"`` or ``"seconds"``)."""
    usable = [c for c in curves if len(c.y) and not np.isnan(getattr(c, x)).any()]
    if not usable:
        return None
    end = min(getattr(c, x)[-1] for c in usable)
    start = max(getattr(c, x)[0] for c in usable)
    grid = np.unique(getattr(usable[0], x)) if x == "steps" and all(
        np.array_equal(c.steps, usable[0].steps) for c in usable) else np.linspace(start, end, points)
    return grid, np.array([np.interp(grid, getattr(c, x), c.y) for c in usable])


def plot_learning_curves(algo: str, env_id: str, group: list[dict[str, Any]], path: Path) -> Path | None:
    """Mean and 95% CI over seeds of the periodic evaluations, against env steps and against wall-clock."""
    from zoo.plot import pyplot

    curves = [curve_from_json(r["eval_curve"]) for r in group if r.get("eval_curve") is not None]
    if not any(len(c.y) for c in curves):
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, x, label in ((axes[0], "steps", "env steps"), (axes[1], "seconds", "wall-clock (s)")):
        gridded = on_grid(curves, x)
        if gridded is not None:
            grid, values = gridded
            low, high = bootstrap_band(values)
            ax.plot(grid, values.mean(axis=0), label=f"mean of {len(values)} seeds")
            ax.fill_between(grid, low, high, alpha=0.25, label="95% CI")
            ax.legend(fontsize=8)
        ax.set(xlabel=label, ylabel="evaluation return")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{algo} on {env_id}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_family(family: str, rows: list[dict[str, Any]], path: Path) -> Path:
    """IQM and 95% CI of each algorithm of a family, one panel per env."""
    from zoo.plot import pyplot

    plt = pyplot()
    envs = sorted({row["env_id"] for row in rows})
    fig, axes = plt.subplots(1, len(envs), figsize=(4 * len(envs), 1.8 + 0.4 * len(rows)), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        chosen = [row for row in rows if row["env_id"] == env_id]
        for y, row in enumerate(chosen):
            low, high = row["iqm_ci"]
            ax.plot([low, high], [y, y], linewidth=6, alpha=0.4)
            ax.plot([row["iqm"]], [y], "k|", markersize=14)
        ax.set_yticks(range(len(chosen)), [row["algo"] for row in chosen])
        ax.set(title=env_id, xlabel="IQM return (95% CI)")
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(f"family: {family}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_report(results: dict[str, Any], folder: str | Path, org: str) -> None:
    """``results.json``, ``results.md``, a learning-curve PNG per pair and an aggregate PNG per family."""
    folder = Path(folder)
    groups = group_records(results["records"])
    rows = [summarise_group(algo, env_id, group, org) for (algo, env_id), group in groups.items()]
    plots: dict[str, str] = {}
    for row in rows:
        name = f"{row['algo']}_{runs.safe_env_name(row['env_id'])}.png"
        path = plot_learning_curves(row["algo"], row["env_id"], groups[(row["algo"], row["env_id"])],
                                    folder / "plots" / name)
        if path is not None:
            plots[f"{row['algo']} {row['env_id']}"] = str(path)
    for family in sorted({row["family"] for row in rows}):
        path = plot_family(family, [row for row in rows if row["family"] == family], folder / "plots" / f"family_{family}.png")
        plots[f"family {family}"] = str(path)
    results = {**results, "table": rows, "plots": plots}
    text = json.dumps(results, indent=1)
    runs.atomic_write(folder / "results.json", lambda f: f.write(text.encode()))
    table = markdown_table(rows, results)
    runs.atomic_write(folder / "results.md", lambda f: f.write(table.encode()))

