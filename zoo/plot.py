"""Learning curves: read them from run folders and draw them.

A run folder (see :mod:`zoo.runs`) holds two kinds of curve:

* ``monitor/*.monitor.csv``: every training episode's return ``r``, length ``l`` and wall-clock ``t``
  (seconds since the run started), one file per training env;
* ``evaluations.npz``: the periodic evaluations of SB3's ``EvalCallback`` (``timesteps`` and the
  returns of each evaluation's episodes).

``zoo plot RUN [RUN...]`` draws both against env steps; ``zoo benchmark`` uses the same readers for its
mean-and-CI curves over seeds. matplotlib is imported only when drawing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ZooError


@dataclass
class Curve:
    """One curve: ``y`` at each ``steps`` (env steps) and ``seconds`` (wall-clock since the run started)."""

    steps: np.ndarray
    seconds: np.ndarray
    y: np.ndarray


# ---------------------------------------------------------------- reading


def read_monitor(run_folder: str | Path) -> Curve:
    """Training episodes of all the run's Monitor files, in the order they ended.

    ``steps`` counts the env steps of every env up to the end of each episode (episodes of parallel envs
    interleave by their end time). A resumed run appends to its Monitor files with a clock starting again
    at 0; its times are shifted to follow the earlier leg's, so ``seconds`` is the training time so far.
    """
    files = sorted((Path(run_folder) / "monitor").glob("*.monitor.csv"))
    rows: list[tuple[float, int, float]] = []
    for path in files:
        with open(path, newline="") as handle:
            first = handle.readline()
            if not first.startswith("#"):
                handle.seek(0)
            offset, last = 0.0, 0.0
            for row in csv.DictReader(handle):
                try:
                    t, length, ret = float(row["t"]), int(float(row["l"])), float(row["r"])
                except (KeyError, TypeError, ValueError):
                    continue  # a line cut short by a kill, or the header a resumed leg wrote
                if t + offset < last:
                    offset = last
                last = t + offset
                rows.append((last, length, ret))
    rows.sort(key=lambda item: item[0])
    if not rows:
        return Curve(np.zeros(0), np.zeros(0), np.zeros(0))
    seconds, lengths, returns = (np.array(column, dtype=float) for column in zip(*rows))
    return Curve(np.cumsum(lengths), seconds, returns)


def read_evaluations(run_folder: str | Path, monitor: Curve | None = None) -> Curve:
    """The periodic evaluations' mean returns; ``seconds`` interpolated from the Monitor files' clock."""
    path = Path(run_folder) / "evaluations.npz"
    if not path.is_file():
        return Curve(np.zeros(0), np.zeros(0), np.zeros(0))
    with np.load(path) as data:
        steps = np.asarray(data["timesteps"], dtype=float)
        means = np.asarray(data["results"], dtype=float).reshape(len(steps), -1).mean(axis=1)
    monitor = read_monitor(run_folder) if monitor is None else monitor
    seconds = np.interp(steps, monitor.steps, monitor.seconds) if len(monitor.steps) else np.full(len(steps), np.nan)
    return Curve(steps, seconds, means)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over the last ``window`` values (fewer at the start)."""
    if len(values) == 0 or window <= 1:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.maximum(np.arange(1, len(values) + 1) - window, 0)]) / counts


def run_label(run_folder: str | Path) -> str:
    """``ALGO ENV_ID (seed S)`` from a run's ``args.yml``, else the folder name."""
    import yaml

    path = Path(run_folder) / "args.yml"
    if path.is_file():
        args = yaml.safe_load(path.read_text()) or {}
        return f"{args.get('algo')} {args.get('env_id')} (seed {args.get('seed')})"
    return Path(run_folder).name


# ---------------------------------------------------------------- drawing


def pyplot(show: bool = False) -> Any:
    """matplotlib's pyplot, drawing off-screen unless a window is wanted."""
    try:
        import matplotlib
    except ImportError:
        raise ZooError("plots need matplotlib: pip install matplotlib") from None
    if not show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_runs(run_folders: list[str | Path], output: str | Path | None = None, window: int = 10) -> Path | None:
    """Training returns (smoothed over ``window`` episodes) and evaluations of each run against env steps.

    :param run_folders: run folders (``LOG/ALGO/ENV_ID_N``)
    :param output: PNG file to write; ``None`` opens a window
    :param window: episodes of the moving average of training returns
    :return: the PNG written, or ``None`` when shown in a window
    """
    folders = [Path(folder) for folder in run_folders]
    for folder in folders:
        if not (folder / "monitor").is_dir() and not (folder / "evaluations.npz").is_file():
            raise ZooError(f"{folder} holds no learning curve (no monitor/ folder or evaluations.npz)")
    if output is None:
        from zoo.enjoy import can_open_window

        if not can_open_window():
            raise ZooError("no display to open a window on; pass -o FILE.png")
    plt = pyplot(show=output is None)
    fig, (train_ax, eval_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for folder in folders:
        label = run_label(folder)
        monitor = read_monitor(folder)
        if len(monitor.steps):
            train_ax.plot(monitor.steps, smooth(monitor.y, window), label=label)
        evaluations = read_evaluations(folder, monitor)
        if len(evaluations.steps):
            eval_ax.plot(evaluations.steps, evaluations.y, marker="o", markersize=3, label=label)
    train_ax.set(title=f"training episodes (mean of {window})", xlabel="env steps", ylabel="return")
    eval_ax.set(title="periodic evaluations", xlabel="env steps", ylabel="mean return")
    for ax in (train_ax, eval_ax):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    if output is None:
        plt.show()
        plt.close(fig)
        return None
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)
    return output


def write_curve_json(curve: Curve) -> dict[str, Any]:
    """A curve as plain lists (for ``results.json``)."""
    return {"steps": curve.steps.tolist(), "seconds": [None if np.isnan(s) else float(s) for s in curve.seconds],
            "y": curve.y.tolist()}


def curve_from_json(data: dict[str, Any]) -> Curve:
    seconds = np.array([np.nan if s is None else s for s in data.get("seconds", [])], dtype=float)
    return Curve(np.asarray(data.get("steps", []), dtype=float), seconds, np.asarray(data.get("y", []), dtype=float))

