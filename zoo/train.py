"""The experiment runner: train an algorithm on an env with its config, and resume interrupted runs.

``train(TrainOptions(algo="ppo", env_id="CartPole-v1"))`` is what ``zoo train`` calls. Each step is a small
function: read the hyperparameters, make the envs, build the model, learn with SB3's EvalCallback and a
checkpoint callback, save, evaluate.
"""

from __future__ import annotations

import dataclasses
import errno
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv, sync_envs_normalization

from agents.common.masking import evaluate_policy_for, passes_action_masks
from agents.registry import AlgoSpec, get_spec
from zoo import runs
from zoo.config import (
    Hyperparams, build_hyperparams, config_path, load_hyperparams, make_action_noise, read_yaml, resolve_name, to_plain,
)
from zoo.envs.factory import check_env_id, check_spaces, create_env, load_normalize, space_name
from zoo.errors import ZooError


@dataclass
class TrainOptions:
    """What ``zoo train`` was asked to do.

    :param algo: registry name of the algorithm
    :param env_id: gymnasium env id
    :param log_folder: where run folders go (``LOG/ALGO/ENV_ID_N``)
    :param n_timesteps: override of the config's ``n_timesteps`` (``None``: keep it)
    :param seed: random seed (``None``: draw one and record it in ``args.yml``)
    :param eval_freq: evaluate every this many env steps (0: every 10,000 steps, but no more than 100 times
        per run; < 0: never)
    :param eval_episodes: episodes per evaluation
    :param n_eval_envs: envs used for evaluation
    :param save_freq: checkpoint every this many env steps (0: ten times per run, < 0: never)
    :param hyperparams: values replacing those of the config file
    :param env_kwargs: keyword arguments for ``gym.make``
    :param conf_file: config file to use instead of ``configs/ALGO.yml``
    :param vec_env: ``"dummy"``, ``"subproc"`` or ``"table"`` (``None``: the config's ``vec_env``, else ``"dummy"``)
    :param device: torch device (``"auto"``, ``"cpu"``, ``"cuda"``)
    :param progress: show a progress bar
    :param tensorboard_log: TensorBoard log folder, or ``None``
    :param verbose: 0 quiet, 1 SB3's training logs
    :param num_threads: torch CPU threads (small networks train fastest on one; <= 0 keeps torch's default)
    :param callbacks: more SB3 callbacks, after the zoo's own (library use, e.g. ``zoo tune``'s pruning
        evaluations); not recorded in ``args.yml``
    """

    algo: str
    env_id: str
    log_folder: str = "logs"
    n_timesteps: int | None = None
    seed: int | None = None
    eval_freq: int = 0
    eval_episodes: int = 5
    n_eval_envs: int = 1
    save_freq: int = 0
    hyperparams: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    conf_file: str | None = None
    vec_env: str | None = None
    device: str = "auto"
    progress: bool = False
    tensorboard_log: str | None = None
    verbose: int = 1
    num_threads: int = 1
    callbacks: list[BaseCallback] = field(default_factory=list)


@dataclass
class TrainResult:
    """A finished run: its folder, the trained model and its final evaluation."""

    run_folder: Path
    model: BaseAlgorithm
    mean_reward: float
    std_reward: float


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; a checkpoint was saved first."""

    def __init__(self, run_folder: Path, checkpoint: Path, steps: int):
        super().__init__(f"interrupted at {steps} steps; checkpoint saved to {checkpoint}")
        self.run_folder, self.checkpoint, self.steps = run_folder, checkpoint, steps


class StopAtRolloutBoundary(KeyboardInterrupt):
    """Raised by :class:`RunCheckpoints` once the checkpoint asked for by Ctrl-C is saved at a rollout boundary."""

    def __init__(self, checkpoint: Path):
        super().__init__(str(checkpoint))
        self.checkpoint = checkpoint


class RunCheckpoints(BaseCallback):
    """Complete checkpoints of the run (:func:`zoo.runs.save_checkpoint`): every ``every`` env steps, and on Ctrl-C.

    With ``at_rollout_boundaries`` (off-policy algorithms) a checkpoint falling due inside a ``train_freq``
    rollout is taken when the next rollout starts: after the rollout was collected and trained on, which is
    exactly where a resumed run's ``learn`` starts again. A run resumed from any checkpoint (after a kill
    too) then steps as the uninterrupted run does and ends at the same step count. Ctrl-C (see
    :func:`stop_at_rollout_end`) asks for a checkpoint at that boundary, then stops.

    :param run_folder: the run folder (checkpoints go to its ``checkpoints/``)
    :param every: env steps between periodic checkpoints (counted from step 0, so the same steps across
        resumed legs; <= 0: none)
    :param at_rollout_boundaries: defer checkpoints to the start of the next rollout
    :param verbose: 2 prints each checkpoint
    """

    def __init__(self, run_folder: Path, every: int, at_rollout_boundaries: bool, verbose: int = 0):
        super().__init__(verbose)
        self.run_folder, self.every, self.at_rollout_boundaries = run_folder, every, at_rollout_boundaries
        self.due = False
        self.stop_requested = False
        self.next_save = 0
        self.saved: tuple[int, Path] | None = None

    def _next_after(self, steps: int) -> int:
        return (steps // self.every + 1) * self.every

    def _on_training_start(self) -> None:
        if self.every > 0:
            self.next_save = self._next_after(self.model.num_timesteps)

    def _on_step(self) -> bool:
        if self.every > 0 and self.model.num_timesteps >= self.next_save:
            self.next_save = self._next_after(self.model.num_timesteps)
            if self.at_rollout_boundaries:
                self.due = True
            else:
                self.save()
        return True

    def _on_rollout_start(self) -> None:
        if self.due or self.stop_requested:
            path = self.save()
            if self.stop_requested:
                raise StopAtRolloutBoundary(path)

    def save(self) -> Path:
        """Save a checkpoint at the current step count (once per step count)."""
        self.due = False
        steps = self.model.num_timesteps
        if self.saved is None or self.saved[0] != steps:
            self.saved = (steps, runs.save_checkpoint(self.model, self.run_folder))
            if self.verbose >= 2:
                print(f"Saved checkpoint {self.saved[1]}")
        return self.saved[1]


def _has_subprocesses(venv: VecEnv | None) -> bool:
    """Whether ``venv`` (or a VecEnv it wraps) steps its envs in subprocesses."""
    while venv is not None:
        if isinstance(venv, SubprocVecEnv):
            return True
        venv = getattr(venv, "venv", None)
    return False


@contextmanager
def stop_at_rollout_end(checkpoints: RunCheckpoints | None, env: VecEnv | None) -> Iterator[None]:
    """While training an off-policy model, the first Ctrl-C asks ``checkpoints`` to save and stop at the end
    of the current rollout; a second one stops at once (the usual ``KeyboardInterrupt``).

    Not with a ``SubprocVecEnv``: Ctrl-C in a terminal reaches its workers too, and they stop, so the rollout
    cannot be finished; the checkpoint is then taken at once, as for on-policy models.
    """
    if (checkpoints is None or not checkpoints.at_rollout_boundaries or _has_subprocesses(env)
            or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):  # e.g. started in the background: leave it so
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if checkpoints.stop_requested:
            raise KeyboardInterrupt
        checkpoints.stop_requested = True
        print("zoo train: stopping at the end of this rollout, after saving a checkpoint (Ctrl-C again: stop now)",
              file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------- building blocks


def make_train_env(hp: Hyperparams, options: TrainOptions, run_folder: Path, seed: int, resume_from: Path | None = None) -> VecEnv:
    """The training envs, with saved normalisation statistics when resuming."""
    wrap = load_normalize(str(resume_from), training=True) if resume_from and resume_from.is_file() else None
    return create_env(
        hp.env_id, hp.n_envs, hyperparams=hp.raw, env_kwargs=options.env_kwargs, seed=seed,
        monitor_dir=str(run_folder / "monitor"), vec_env=options.vec_env or hp.raw.get("vec_env", "dummy"), wrap_normalize=wrap,
        append_monitor=resume_from is not None,
    )


def make_eval_env(hp: Hyperparams, options: TrainOptions, seed: int) -> VecEnv:
    """Evaluation envs: same wrappers, frozen normalisation, raw rewards."""
    return create_env(
        hp.env_id, options.n_eval_envs, hyperparams=hp.raw, env_kwargs=options.env_kwargs,
        seed=seed + 10_000, training=False,
    )


def check_device(device: str) -> None:
    """``--device``: ``auto``, ``cpu``, ``cuda``/``cuda:N`` (refused when there is no such GPU) or ``mps``."""
    import torch

    try:
        parsed = torch.device("cpu" if device == "auto" else device)
    except (RuntimeError, TypeError):
        raise ZooError(f"--device {device!r} is not a device: use auto, cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ZooError(f"--device {device}: no CUDA GPU is available here (torch {torch.__version__}); "
                           "refusing rather than running on the CPU unasked: pass --device cpu or auto")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ZooError(f"--device {device}: there are only {torch.cuda.device_count()} CUDA GPU(s) (cuda:0 ...)")
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ZooError(f"--device {device}: MPS (Apple GPU) is not available here: pass --device cpu or auto")
    elif parsed.type != "cpu":
        raise ZooError(f"--device {device!r} is not supported: use auto, cpu, cuda, cuda:N or mps")


def check_options(options: TrainOptions) -> None:
    """One-line errors for options that cannot work, before anything is built or written."""
    if options.seed is not None and not 0 <= options.seed < 2**32:
        raise ZooError(f"--seed must be between 0 and {2**32 - 1}, got {options.seed}")
    if options.n_eval_envs < 1:
        raise ZooError(f"--n-eval-envs must be at least 1, got {options.n_eval_envs}")
    if options.eval_episodes < 1:
        raise ZooError(f"--eval-episodes must be at least 1, got {options.eval_episodes}")
    if options.conf_file is not None and Path(options.conf_file).is_dir():
        raise ZooError(f"--conf-file {options.conf_file} is a folder: pass a YAML file, e.g. configs/{options.algo}.yml")
    check_device(options.device)
    runs.check_log_folder(options.log_folder)


def check_config_entry(spec: AlgoSpec, env_id: str, conf_file: str | None, env_kwargs: dict[str, Any]) -> None:
    """A config without an entry for a ``Box``-observation env, for an algorithm that takes ``Box`` observations
    only through an ``env_wrapper`` (the tabular ones: their registry line lists ``Discrete`` and ``Box``): say
    which wrapper to configure, not just "no entry"."""
    observations = spec.observation_spaces or ()
    if "Box" not in observations or "Discrete" not in observations:
        return
    path = Path(conf_file) if conf_file else config_path(spec.name)
    data = read_yaml(path) if path.is_file() else None
    if not isinstance(data, dict) or env_id in data or "default" in data:
        return
    import gymnasium as gym

    env = gym.make(env_id, **env_kwargs)
    space = env.observation_space
    env.close()
    if space_name(space) != "Box" or len(space.shape) != 1:
        return
    bounds = "" if np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)) else (
        f"; {env_id}'s bounds are infinite, so give low and high too")
    raise ZooError(
        f"{path} has no entry for {env_id}, and {spec.name} needs discrete observations: add an entry whose "
        f"env_wrapper is zoo.envs.wrappers.DiscretizeObservation (e.g. {{bins: {[8] * space.shape[0]}}}{bounds}; "
        f"see zoo/envs/wrappers.py) and pass it with --conf-file"
    )


def check_tensorboard(tensorboard_log: str | None) -> None:
    """``--tensorboard-log`` needs the tensorboard package; say so before training starts."""
    if tensorboard_log:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ZooError("--tensorboard-log needs the tensorboard package: pip install tensorboard") from None


def set_threads(num_threads: int) -> None:
    if num_threads > 0:
        import torch

        torch.set_num_threads(num_threads)


def build_model(spec: AlgoSpec, hp: Hyperparams, env: VecEnv | str, options: TrainOptions, seed: int) -> BaseAlgorithm:
    """Instantiate the algorithm with the config's arguments (``env``: the id, for one that makes its own env)."""
    kwargs = dict(hp.algo_kwargs)
    if hp.action_noise is not None and not isinstance(env, str):
        kwargs["action_noise"] = make_action_noise(hp.action_noise, int(np.prod(env.action_space.shape)))
    try:
        return spec.load()(
            hp.policy, env, seed=seed, verbose=options.verbose, device=options.device,
            tensorboard_log=options.tensorboard_log, **kwargs,
        )
    except (ValueError, TypeError, AssertionError, KeyError) as error:
        raise ZooError(f"{hp.source}: {hp.env_id}: cannot build {spec.load().__name__}: {error}") from None


def make_callbacks(hp: Hyperparams, options: TrainOptions, run_folder: Path, eval_env: VecEnv | None,
                   model: BaseAlgorithm) -> list[BaseCallback]:
    """EvalCallback (with the env's action masks where the model takes them; none without an ``eval_env``),
    the checkpoint callback and the config's own callbacks."""
    callbacks: list[BaseCallback] = []
    eval_freq = options.eval_freq if options.eval_freq != 0 else max(10_000, hp.n_timesteps // 100)
    if eval_freq > 0 and eval_env is not None:
        evaluation_class = EvalCallback
        if passes_action_masks(model, eval_env):
            from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback

            evaluation_class = MaskableEvalCallback
        evaluation = evaluation_class(
            eval_env, n_eval_episodes=options.eval_episodes, eval_freq=max(eval_freq // hp.n_envs, 1),
            log_path=str(run_folder), best_model_save_path=str(run_folder), deterministic=True,
            verbose=options.verbose,
        )
        _restore_evaluations(evaluation, run_folder)
        callbacks.append(evaluation)
    save_freq = options.save_freq if options.save_freq != 0 else max(hp.n_timesteps // 10, 1)
    callbacks.append(RunCheckpoints(run_folder, max(save_freq, 0), get_spec(options.algo).off_policy, options.verbose))
    for path, kwargs in hp.callbacks:
        callbacks.append(resolve_name(path, f"{hp.source}: {hp.env_id}: callback")(**kwargs))
    return callbacks + list(options.callbacks)


def _restore_evaluations(callback: EvalCallback, run_folder: Path) -> None:
    """Let a resumed run's EvalCallback continue the earlier evaluations instead of overwriting them."""
    path = run_folder / "evaluations.npz"
    if not path.is_file():
        return
    with np.load(path) as data:
        callback.evaluations_timesteps = list(data["timesteps"])
        callback.evaluations_results = [list(r) for r in data["results"]]
        callback.evaluations_length = [list(r) for r in data["ep_lengths"]]
    if callback.evaluations_results:
        callback.best_mean_reward = float(max(np.mean(r) for r in callback.evaluations_results))


def learn(model: BaseAlgorithm, total_timesteps: int, callbacks: list[BaseCallback], run_folder: Path,
          progress: bool, resuming: bool) -> None:
    """``model.learn`` until ``total_timesteps`` in all; Ctrl-C saves a checkpoint, then raises
    :class:`TrainingInterrupted` (off-policy models: at the end of the current rollout, see :class:`RunCheckpoints`)."""
    remaining = total_timesteps - (model.num_timesteps if resuming else 0)
    checkpoints = next((c for c in callbacks if isinstance(c, RunCheckpoints)), None)
    try:
        with stop_at_rollout_end(checkpoints, model.get_env()):
            model.learn(remaining, callback=callbacks, progress_bar=progress, reset_num_timesteps=not resuming)
    except StopAtRolloutBoundary as stop:
        raise TrainingInterrupted(run_folder, stop.checkpoint, model.num_timesteps) from None
    except KeyboardInterrupt:
        checkpoint = runs.save_checkpoint(model, run_folder)
        raise TrainingInterrupted(run_folder, checkpoint, model.num_timesteps) from None
    except OSError as error:  # a full disk or lost permission under the Monitor files, evaluations, best model
        if error.errno not in _FILE_SYSTEM_ERRORS:
            raise
        raise ZooError(f"cannot write {error.filename or 'to ' + str(run_folder)}: {error.strerror}") from error


#: errno values of a file system that refuses writes (full, over quota, read-only, no permission)
_FILE_SYSTEM_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def finish(model: BaseAlgorithm, hp: Hyperparams, run_folder: Path, eval_env: VecEnv | None, eval_episodes: int,
           seed: int = 0) -> TrainResult:
    """Save the final model (and normalisation statistics) and evaluate it (without an ``eval_env``: through the
    algorithm's evaluation hook, which plays the env it makes itself).

    A last checkpoint is saved too, so that a run extended later (a larger ``n_timesteps`` in its
    ``config.yml``) resumes from where it ended.
    """
    runs.save_checkpoint(model, run_folder)
    runs.save_model(model, run_folder / f"{runs.safe_env_name(hp.env_id)}.zip")
    if eval_env is None:
        from zoo.enjoy import evaluate_own_env

        figures = evaluate_own_env(model, hp.env_id, max(eval_episodes, 1), seed=seed)
        return TrainResult(run_folder, model, float(figures["mean_reward"]), float(figures["std_reward"]))
    train_env = model.get_env()
    if model.get_vec_normalize_env() is not None:
        runs.save_vecnormalize(model.get_vec_normalize_env(), run_folder / "vecnormalize.pkl")
        sync_envs_normalization(train_env, eval_env)
    evaluate = evaluate_policy_for(model, eval_env)  # as the periodic evaluations: masks where the model takes them
    mean, std = evaluate(model, eval_env, n_eval_episodes=max(eval_episodes, 1), deterministic=True)
    return TrainResult(run_folder, model, float(mean), float(std))


# ---------------------------------------------------------------- algorithms that make their own env


def builds_own_env(spec: AlgoSpec, env_id: str) -> bool:
    """Whether the algorithm trains on ``env_id`` in an env it makes itself: an id gymnasium does not know, for
    an algorithm that declares ``builds_own_env`` (MCTS: self-play on a PettingZoo game such as connect_four_v3).
    Such a run has no training or evaluation ``VecEnv``: ``learn`` gets the checkpoint and config callbacks, and
    the final evaluation is the algorithm's evaluation hook."""
    import gymnasium as gym

    return env_id not in gym.registry and bool(getattr(spec.load(), "builds_own_env", False))


# ---------------------------------------------------------------- the two entry points


def train(options: TrainOptions) -> TrainResult:
    """Train ``options.algo`` on ``options.env_id`` in a new run folder (see :mod:`zoo.runs`).

    A run that fails before its first checkpoint leaves nothing behind: its folder is removed.
    """
    spec = get_spec(options.algo)
    check_options(options)
    own_env = builds_own_env(spec, options.env_id)
    if not own_env:
        check_env_id(options.env_id)
        check_spaces(spec.name, options.env_id, options.env_kwargs)
        check_config_entry(spec, options.env_id, options.conf_file, options.env_kwargs)
    overrides = dict(options.hyperparams)
    if options.n_timesteps is not None:
        overrides["n_timesteps"] = options.n_timesteps
    hp = load_hyperparams(spec.name, options.env_id, options.conf_file, overrides)
    check_tensorboard(options.tensorboard_log)
    seed = options.seed if options.seed is not None else int(np.random.randint(2**31 - 1))
    set_threads(options.num_threads)

    run_folder = runs.new_run_folder(options.log_folder, spec.name, options.env_id)
    envs: list[VecEnv] = []
    try:
        recorded = {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.name != "callbacks"}
        runs.write_yaml(run_folder / "args.yml", {**recorded, "algo": spec.name, "seed": seed})
        runs.write_yaml(run_folder / "config.yml", to_plain(hp.raw))
        runs.write_yaml(run_folder / "env_kwargs.yml", to_plain(options.env_kwargs))
        eval_env: VecEnv | None = None
        if own_env:
            model = build_model(spec, hp, options.env_id, options, seed)
        else:
            envs.append(make_train_env(hp, options, run_folder, seed))
            envs.append(make_eval_env(hp, options, seed))
            env, eval_env = envs
            model = build_model(spec, hp, env, options, seed)
        if options.verbose:
            print(f"Training {spec.name} on {hp.env_id} for {hp.n_timesteps} steps in {run_folder}")
        learn(model, hp.n_timesteps, make_callbacks(hp, options, run_folder, eval_env, model), run_folder, options.progress, False)
        return finish(model, hp, run_folder, eval_env, options.eval_episodes, seed)
    except BaseException as error:
        if isinstance(error, TrainingInterrupted):
            raise
        for venv in envs:
            _close_quietly(venv)
        if runs.remove_run_without_model(run_folder) and isinstance(error, ZooError):
            raise ZooError(f"{error} ({run_folder} removed: the run stopped before its first checkpoint)") from error
        raise


def _close_quietly(venv: VecEnv) -> None:
    try:
        venv.close()
    except Exception:  # the run already failed; its own error is the one to report
        pass


def resume(run_folder: str | Path, device: str | None = None, progress: bool = False, verbose: int | None = None,
           n_timesteps: int | None = None) -> TrainResult:
    """Continue a run from its last checkpoint until its configured ``n_timesteps``, in the same folder.

    The step counter, schedules (learning rate, exploration), replay buffer and normalisation statistics
    continue where the checkpoint left them. ``n_timesteps`` sets a new total (written to the run's
    ``config.yml``), e.g. to train a finished or pulled agent further.
    """
    run_folder = Path(run_folder)
    if not run_folder.is_dir():
        raise ZooError(f"run folder not found: {run_folder}" + (" (it is a file)" if run_folder.exists() else ""))
    from zoo.pull import check_pulled_run

    check_pulled_run(run_folder)  # a pulled run stays a download: its config is checked like one
    args = runs.read_run_yaml(run_folder, "args.yml")
    options = TrainOptions(**{k: v for k, v in args.items() if k in {f.name for f in dataclasses.fields(TrainOptions)}})
    options.device = device or options.device
    check_device(options.device)
    options.progress = progress
    options.verbose = options.verbose if verbose is None else verbose
    spec = get_spec(options.algo)
    config = runs.read_run_yaml(run_folder, "config.yml")
    if n_timesteps is not None:
        config["n_timesteps"] = n_timesteps
    hp = build_hyperparams(spec.name, options.env_id, config, spec.load(), str(run_folder / "config.yml"))

    found = runs.checkpoints(run_folder)
    if not found:
        raise ZooError(f"nothing to resume: {run_folder / 'checkpoints'} holds no checkpoint")
    steps = max(found)
    if steps >= hp.n_timesteps:
        raise ZooError(f"{run_folder} already reached its {hp.n_timesteps} steps; pass -n TOTAL to train it further")
    if n_timesteps is not None:
        runs.write_yaml(run_folder / "config.yml", config)
    files = runs.checkpoint_files(run_folder, steps)
    runs.remove_temporary_files(run_folder)
    set_threads(options.num_threads)
    env: VecEnv | None = None
    eval_env: VecEnv | None = None
    if not builds_own_env(spec, options.env_id):
        env = make_train_env(hp, options, run_folder, options.seed + steps, resume_from=files["vecnormalize"])
        eval_env = make_eval_env(hp, options, options.seed)
    model = spec.load().load(files["model"], env=env, device=options.device, tensorboard_log=options.tensorboard_log)
    if spec.off_policy:
        if files["replay_buffer"].is_file():
            model.load_replay_buffer(files["replay_buffer"])
        else:
            print(f"zoo train: warning: {files['replay_buffer']} is missing: {spec.name} resumes at {steps} steps "
                  "with an empty replay buffer", file=sys.stderr)
    if options.verbose:
        print(f"Resuming {spec.name} on {hp.env_id} at {steps} of {hp.n_timesteps} steps in {run_folder}")
    learn(model, hp.n_timesteps, make_callbacks(hp, options, run_folder, eval_env, model), run_folder, options.progress, True)
    return finish(model, hp, run_folder, eval_env, options.eval_episodes, options.seed)
