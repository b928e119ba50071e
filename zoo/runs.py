"""Run folders and checkpoints.

A run lives in ``LOG/ALGO/ENV_ID_N/``::

    ENV_ID.zip               final model
    best_model.zip           best model of the periodic evaluations (EvalCallback)
    evaluations.npz          the periodic evaluations
    config.yml, args.yml, env_kwargs.yml
    vecnormalize.pkl         normalisation statistics (when the config normalises)
    checkpoints/rl_model_N_steps.zip (+ _replay_buffer_, _vecnormalize_ files of the same N)
    monitor/                 Monitor CSV files of the training envs

Every file is written atomically: to a temporary file in the same folder, then renamed over the
target, so a crash or kill at any moment leaves the previous version whole.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import yaml

from zoo.errors import ZooError

CHECKPOINT_PREFIX = "rl_model"
_CHECKPOINT = re.compile(rf"^{CHECKPOINT_PREFIX}_(\d+)_steps\.zip$")


def safe_env_name(env_id: str) -> str:
    """An env id as a file-name part (``ALE/Pong-v5`` -> ``ALE-Pong-v5``)."""
    return env_id.replace("/", "-")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a file atomically: ``write(f)`` fills a temporary file that then replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_yaml(path: str | Path, data: Any) -> None:
    """Plain, safe-loadable YAML, written atomically."""
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    atomic_write(path, lambda f: f.write(text.encode()))


def save_model(model: Any, path: str | Path) -> None:
    """``model.save`` made atomic."""
    atomic_write(path, model.save)


def save_replay_buffer(model: Any, path: str | Path) -> None:
    """An off-policy model's replay buffer, saved atomically."""
    from stable_baselines3.common.save_util import save_to_pkl

    atomic_write(path, lambda f: save_to_pkl(f, model.replay_buffer))


def save_vecnormalize(venv: Any, path: str | Path) -> None:
    """Normalisation statistics, saved atomically in ``VecNormalize.save``'s format."""
    import pickle

    atomic_write(path, lambda f: pickle.dump(venv, f))


# ---------------------------------------------------------------- finding runs


def algo_folder(log_folder: str | Path, algo: str) -> Path:
    return Path(log_folder) / algo


def run_ids(log_folder: str | Path, algo: str, env_id: str) -> list[int]:
    """Existing experiment ids ``N`` of ``LOG/ALGO/ENV_ID_N``, sorted."""
    folder = algo_folder(log_folder, algo)
    pattern = re.compile(rf"^{re.escape(safe_env_name(env_id))}_(\d+)$")
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if p.is_dir() and (m := pattern.match(p.name)))


def new_run_folder(log_folder: str | Path, algo: str, env_id: str) -> Path:
    """Create the next ``LOG/ALGO/ENV_ID_N`` folder."""
    ids = run_ids(log_folder, algo, env_id)
    folder = algo_folder(log_folder, algo) / f"{safe_env_name(env_id)}_{(ids[-1] if ids else 0) + 1}"
    folder.mkdir(parents=True)
    return folder


def find_run(log_folder: str | Path, algo: str, env_id: str, exp_id: int = 0) -> Path | None:
    """The run folder of experiment ``exp_id`` (0: the latest), or ``None``."""
    ids = run_ids(log_folder, algo, env_id)
    if not ids:
        return None
    chosen = ids[-1] if exp_id == 0 else exp_id
    folder = algo_folder(log_folder, algo) / f"{safe_env_name(env_id)}_{chosen}"
    return folder if folder.is_dir() else None


def checkpoints(run_folder: str | Path) -> dict[int, Path]:
    """Checkpoint zips of a run by their step count."""
    folder = Path(run_folder) / "checkpoints"
    if not folder.is_dir():
        return {}
    found = {int(m.group(1)): p for p in folder.iterdir() if (m := _CHECKPOINT.match(p.name))}
    return dict(sorted(found.items()))


def checkpoint_files(run_folder: str | Path, steps: int) -> dict[str, Path]:
    """Paths of the model, replay buffer and normalisation files of the checkpoint at ``steps``."""
    folder = Path(run_folder) / "checkpoints"
    return {
        "model": folder / f"{CHECKPOINT_PREFIX}_{steps}_steps.zip",
        "replay_buffer": folder / f"{CHECKPOINT_PREFIX}_replay_buffer_{steps}_steps.pkl",
        "vecnormalize": folder / f"{CHECKPOINT_PREFIX}_vecnormalize_{steps}_steps.pkl",
    }


def read_run_yaml(run_folder: str | Path, name: str) -> Any:
    """``config.yml``/``args.yml``/``env_kwargs.yml`` of a run (safe YAML)."""
    path = Path(run_folder) / name
    if not path.is_file():
        raise ZooError(f"{run_folder} is not a run folder: {name} is missing")
    return yaml.safe_load(path.read_text())


def model_path(run_folder: str | Path, env_id: str, load_best: bool = False, checkpoint: int | None = None) -> Path:
    """Which zip of a run to load: the final model, ``best_model.zip`` or a checkpoint."""
    run_folder = Path(run_folder)
    if checkpoint is not None:
        found = checkpoints(run_folder)
        if checkpoint not in found:
            have = ", ".join(map(str, found)) or "none"
            raise ZooError(f"no checkpoint at {checkpoint} steps in {run_folder / 'checkpoints'} (have: {have})")
        return found[checkpoint]
    if load_best:
        path = run_folder / "best_model.zip"
        if not path.is_file():
            raise ZooError(f"{path} does not exist (no evaluation ran yet?)")
        return path
    final = run_folder / f"{safe_env_name(env_id)}.zip"
    if final.is_file():
        return final
    found = checkpoints(run_folder)
    if found:
        return found[max(found)]
    raise ZooError(f"{run_folder} holds no model yet ({final.name} and checkpoints/ are missing)")


def save_checkpoint(model: Any, run_folder: str | Path, keep_replay_buffers: int = 1) -> Path:
    """Save a complete checkpoint of ``model`` at its current step count.

    The replay buffer (off-policy models) and normalisation statistics are written first and the model
    zip last, so a checkpoint whose zip exists is complete. Only the newest ``keep_replay_buffers``
    replay buffers are kept: they are large.
    """
    steps = model.num_timesteps
    files = checkpoint_files(run_folder, steps)
    if getattr(model, "replay_buffer", None) is not None:
        save_replay_buffer(model, files["replay_buffer"])
        buffers = sorted(files["replay_buffer"].parent.glob(f"{CHECKPOINT_PREFIX}_replay_buffer_*_steps.pkl"),
                         key=lambda p: int(re.findall(r"_(\d+)_steps", p.name)[0]))
        for old in buffers[:-keep_replay_buffers]:
            old.unlink(missing_ok=True)
    vec_normalize = model.get_vec_normalize_env()
    if vec_normalize is not None:
        save_vecnormalize(vec_normalize, files["vecnormalize"])
    save_model(model, files["model"])
    return files["model"]
