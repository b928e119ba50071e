"""The experiment runner: train an algorithm on an env with its config, and resume interrupted runs.

``train(TrainOptions(algo="ppo", env_id="CartPole-v1"))`` is what ``zoo train`` calls. Each step is a small
function: read the hyperparameters, make the envs, build the model, learn with SB3's EvalCallback and a
checkpoint callback, save, evaluate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, sync_envs_normalization

from agents.registry import AlgoSpec, get_spec
from zoo import runs
from zoo.config import Hyperparams, build_hyperparams, load_hyperparams, make_action_noise, resolve_name, to_plain
from zoo.envs.factory import check_env_id, check_spaces, create_env, load_normalize
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


class AtomicCheckpointCallback(CheckpointCallback):
    """SB3's CheckpointCallback, writing complete checkpoints atomically (see :func:`zoo.runs.save_checkpoint`)."""

    def __init__(self, save_freq: int, run_folder: Path, verbose: int = 0):
        super().__init__(save_freq, str(run_folder / "checkpoints"), runs.CHECKPOINT_PREFIX, True, True, verbose)
        self.run_folder = run_folder

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            path = runs.save_checkpoint(self.model, self.run_folder)
            if self.verbose >= 2:
                print(f"Saved checkpoint {path}")
        return True


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


def build_model(spec: AlgoSpec, hp: Hyperparams, env: VecEnv, options: TrainOptions, seed: int) -> BaseAlgorithm:
    """Instantiate the algorithm with the config's arguments."""
    kwargs = dict(hp.algo_kwargs)
    if hp.action_noise is not None:
        kwargs["action_noise"] = make_action_noise(hp.action_noise, int(np.prod(env.action_space.shape)))
    try:
        return spec.load()(
            hp.policy, env, seed=seed, verbose=options.verbose, device=options.device,
            tensorboard_log=options.tensorboard_log, **kwargs,
        )
    except (ValueError, TypeError, AssertionError, KeyError) as error:
        raise ZooError(f"{hp.source}: {hp.env_id}: cannot build {spec.load().__name__}: {error}") from None


def make_callbacks(hp: Hyperparams, options: TrainOptions, run_folder: Path, eval_env: VecEnv) -> list[BaseCallback]:
    """EvalCallback, the checkpoint callback and the config's own callbacks."""
    callbacks: list[BaseCallback] = []
    eval_freq = options.eval_freq if options.eval_freq != 0 else max(10_000, hp.n_timesteps // 100)
    if eval_freq > 0:
        evaluation = EvalCallback(
            eval_env, n_eval_episodes=options.eval_episodes, eval_freq=max(eval_freq // hp.n_envs, 1),
            log_path=str(run_folder), best_model_save_path=str(run_folder), deterministic=True,
            verbose=options.verbose,
        )
        _restore_evaluations(evaluation, run_folder)
        callbacks.append(evaluation)
    save_freq = options.save_freq if options.save_freq != 0 else max(hp.n_timesteps // 10, 1)
    if save_freq > 0:
        callbacks.append(AtomicCheckpointCallback(max(save_freq // hp.n_envs, 1), run_folder, options.verbose))
    for path, kwargs in hp.callbacks:
        callbacks.append(resolve_name(path, f"{hp.source}: {hp.env_id}: callback")(**kwargs))
    return callbacks


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
    """``model.learn`` until ``total_timesteps`` in all; Ctrl-C saves a checkpoint, then re-raises."""
    remaining = total_timesteps - (model.num_timesteps if resuming else 0)
    try:
        model.learn(remaining, callback=callbacks, progress_bar=progress, reset_num_timesteps=not resuming)
    except KeyboardInterrupt:
        checkpoint = runs.save_checkpoint(model, run_folder)
        raise TrainingInterrupted(run_folder, checkpoint, model.num_timesteps) from None


def finish(model: BaseAlgorithm, hp: Hyperparams, run_folder: Path, eval_env: VecEnv, eval_episodes: int) -> TrainResult:
    """Save the final model (and normalisation statistics) and evaluate it.

    A last checkpoint is saved too, so that a run extended later (a larger ``n_timesteps`` in its
    ``config.yml``) resumes from where it ended.
    """
    runs.save_checkpoint(model, run_folder)
    runs.save_model(model, run_folder / f"{runs.safe_env_name(hp.env_id)}.zip")
    train_env = model.get_env()
    if model.get_vec_normalize_env() is not None:
        runs.save_vecnormalize(model.get_vec_normalize_env(), run_folder / "vecnormalize.pkl")
        sync_envs_normalization(train_env, eval_env)
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=max(eval_episodes, 1), deterministic=True)
    return TrainResult(run_folder, model, float(mean), float(std))


# ---------------------------------------------------------------- the two entry points


def train(options: TrainOptions) -> TrainResult:
    """Train ``options.algo`` on ``options.env_id`` in a new run folder (see :mod:`zoo.runs`)."""
    spec = get_spec(options.algo)
    check_env_id(options.env_id)
    check_spaces(spec.name, options.env_id, options.env_kwargs)
    overrides = dict(options.hyperparams)
    if options.n_timesteps is not None:
        overrides["n_timesteps"] = options.n_timesteps
    hp = load_hyperparams(spec.name, options.env_id, options.conf_file, overrides)
    check_tensorboard(options.tensorboard_log)
    seed = options.seed if options.seed is not None else int(np.random.randint(2**31 - 1))
    set_threads(options.num_threads)

    run_folder = runs.new_run_folder(options.log_folder, spec.name, options.env_id)
    runs.write_yaml(run_folder / "args.yml", {**dataclasses.asdict(options), "algo": spec.name, "seed": seed})
    runs.write_yaml(run_folder / "config.yml", to_plain(hp.raw))
    runs.write_yaml(run_folder / "env_kwargs.yml", to_plain(options.env_kwargs))

    env = make_train_env(hp, options, run_folder, seed)
    eval_env = make_eval_env(hp, options, seed)
    model = build_model(spec, hp, env, options, seed)
    if options.verbose:
        print(f"Training {spec.name} on {hp.env_id} for {hp.n_timesteps} steps in {run_folder}")
    learn(model, hp.n_timesteps, make_callbacks(hp, options, run_folder, eval_env), run_folder, options.progress, False)
    return finish(model, hp, run_folder, eval_env, options.eval_episodes)


def resume(run_folder: str | Path, device: str | None = None, progress: bool = False, verbose: int | None = None,
           n_timesteps: int | None = None) -> TrainResult:
    """Continue a run from its last checkpoint until its configured ``n_timesteps``, in the same folder.

    The step counter, schedules (learning rate, exploration), replay buffer and normalisation statistics
    continue where the checkpoint left them. ``n_timesteps`` sets a new total (written to the run's
    ``config.yml``), e.g. to train a finished or pulled agent further.
    """
    run_folder = Path(run_folder)
    if not run_folder.is_dir():
        raise ZooError(f"run folder not found: {run_folder}")
    from zoo.pull import check_pulled_run

    check_pulled_run(run_folder)  # a pulled run stays a download: its config is checked like one
    args = runs.read_run_yaml(run_folder, "args.yml")
    options = TrainOptions(**{k: v for k, v in args.items() if k in {f.name for f in dataclasses.fields(TrainOptions)}})
    options.device = device or options.device
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
    set_threads(options.num_threads)
    env = make_train_env(hp, options, run_folder, options.seed + steps, resume_from=files["vecnormalize"])
    eval_env = make_eval_env(hp, options, options.seed)
    model = spec.load().load(files["model"], env=env, device=options.device, tensorboard_log=options.tensorboard_log)
    if spec.off_policy and files["replay_buffer"].is_file():
        model.load_replay_buffer(files["replay_buffer"])
    if options.verbose:
        print(f"Resuming {spec.name} on {hp.env_id} at {steps} of {hp.n_timesteps} steps in {run_folder}")
    learn(model, hp.n_timesteps, make_callbacks(hp, options, run_folder, eval_env), run_folder, options.progress, True)
    return finish(model, hp, run_folder, eval_env, options.eval_episodes)
