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
import shutil
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
    """Write a file atomically: ``write(f)`` fills a temporary file that then replaces ``path``.

    A file-system error (full disk, no permission, read-only file system) becomes a one-line
    :class:`ZooError` naming the file; the previous version of ``path`` stays whole.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise ZooError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ZooError(f"cannot write {path}: {error.strerror or error}") from None
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


def check_log_folder(log_folder: str | Path) -> None:
    """A one-line error unless ``log_folder`` is (or can become) a folder this process may write in."""
    folder = Path(log_folder)
    existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        which = "" if existing == folder else f" ({existing} is a file)"
        raise ZooError(f"log folder {folder} is not a folder{which}: pass -f with a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ZooError(f"log folder {folder}: {existing} is not writable: pass -f with a folder you can write to")


def new_run_folder(log_folder: str | Path, algo: str, env_id: str) -> Path:
    """Create the next ``LOG/ALGO/ENV_ID_N`` folder."""
    check_log_folder(log_folder)
    ids = run_ids(log_folder, algo, env_id)
    folder = algo_folder(log_folder, algo) / f"{safe_env_name(env_id)}_{(ids[-1] if ids else 0) + 1}"
    try:
        folder.mkdir(parents=True)
    except OSError as error:
        raise ZooError(f"cannot create the run folder {folder}: {error.strerror or error} (pass -f with a folder you can write to)") from None
    return folder


def has_model(run_folder: str | Path, env_id: str, load_best: bool = False) -> bool:
    """Whether a run holds a model to load: its final zip or a checkpoint (``best_model.zip`` with ``load_best``)."""
    run_folder = Path(run_folder)
    if load_best:
        return (run_folder / "best_model.zip").is_file()
    return (run_folder / f"{safe_env_name(env_id)}.zip").is_file() or bool(checkpoints(run_folder))


def find_run(log_folder: str | Path, algo: str, env_id: str, exp_id: int = 0, load_best: bool = False) -> Path | None:
    """The run folder of experiment ``exp_id``, or ``None``.

    ``exp_id`` 0 is the latest run that holds a model (see :func:`has_model`): a run that failed or was
    killed before its first checkpoint is passed over.
    """
    ids = run_ids(log_folder, algo, env_id)
    folders = {i: algo_folder(log_folder, algo) / f"{safe_env_name(env_id)}_{i}" for i in ids}
    if exp_id != 0:
        return folders[exp_id] if exp_id in folders else None
    return next((folders[i] for i in reversed(ids) if has_model(folders[i], env_id, load_best)), None)


def runs_without_model(log_folder: str | Path, algo: str, env_id: str, newer_than: Path | None = None) -> list[Path]:
    """Run folders newer than ``newer_than`` (all, when ``None``) that hold no model yet, newest first."""
    ids = run_ids(log_folder, algo, env_id)
    start = int(newer_than.name.rsplit("_", 1)[1]) if newer_than is not None else 0
    folders = [algo_folder(log_folder, algo) / f"{safe_env_name(env_id)}_{i}" for i in reversed(ids) if i > start]
    return [f for f in folders if not has_model(f, env_id)]


def remove_run_without_model(run_folder: str | Path) -> bool:
    """Remove a run folder that holds no model file at all (a run that failed before its first checkpoint).

    Never removes a folder with any ``.zip`` in it (a checkpoint, the final or the best model).
    """
    run_folder = Path(run_folder)
    if not run_folder.is_dir() or any(run_folder.rglob("*.zip")):
        return False
    shutil.rmtree(run_folder, ignore_errors=True)
    return not run_folder.exists()


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
    if not Path(run_folder).exists():
        raise ZooError(f"run folder {run_folder} does not exist")
    if not Path(run_folder).is_dir():
        raise ZooError(f"{run_folder} is a file, not a run folder")
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
    zip last, so a checkpoint whose zip exists is complete. Older replay buffers (they are large) are
    deleted only after that zip exists, keeping the newest ``keep_replay_buffers``: wherever a kill falls,
    the newest complete checkpoint has its replay buffer.
    """
    steps = model.num_timesteps
    files = checkpoint_files(run_folder, steps)
    has_buffer = getattr(model, "replay_buffer", None) is not None
    if has_buffer:
        save_replay_buffer(model, files["replay_buffer"])
    vec_normalize = model.get_vec_normalize_env()
    if vec_normalize is not None:
        save_vecnormalize(vec_normalize, files["vecnormalize"])
    save_model(model, files["model"])
    if has_buffer:
        remove_old_replay_buffers(run_folder, steps, keep_replay_buffers)
    return files["model"]


def remove_old_replay_buffers(run_folder: str | Path, steps: int, keep: int = 1) -> None:
    """Delete the replay buffers of all but the newest ``keep`` complete checkpoints (always keeping ``steps``').

    Buffers of checkpoints whose zip was never written (a killed save) go too.
    """
    kept = {*list(checkpoints(run_folder))[-max(keep, 1):], steps}
    folder = Path(run_folder) / "checkpoints"
    for path in folder.glob(f"{CHECKPOINT_PREFIX}_replay_buffer_*_steps.pkl"):
        match = re.fullmatch(rf"{CHECKPOINT_PREFIX}_replay_buffer_(\d+)_steps\.pkl", path.name)
        if match and int(match.group(1)) not in kept:
            path.unlink(missing_ok=True)


def remove_temporary_files(run_folder: str | Path) -> None:
    """Delete the temporary files that killed writers left in ``checkpoints/`` (call only when no other process writes there)."""
    folder = Path(run_folder) / "checkpoints"
    if folder.is_dir():
        for path in folder.glob(f".{CHECKPOINT_PREFIX}_*.tmp"):
            path.unlink(missing_ok=True)
