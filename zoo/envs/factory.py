"""Environment factories: one place that turns an env id and a config into an SB3 ``VecEnv``."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecFrameStack, VecNormalize

import zoo.envs  # noqa: F401  (registers the zoo's own environments)
from zoo.config import VEC_ENV_TYPES, parse_normalize, parse_wrappers, resolve_name
from zoo.errors import ZooError

VEC_ENV_CLASSES = {"dummy": DummyVecEnv, "subproc": SubprocVecEnv}


def check_env_id(env_id: str) -> None:
    """Raise a one-line error for an env id gymnasium does not know, naming the nearest ones."""
    if env_id in gym.registry:
        return
    try:
        gym.spec(env_id)  # gymnasium explains deprecated versions ("use Taxi-v4 instead")
    except gym.error.Error as error:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else str(error).splitlines()[0]
        raise ZooError(f"unknown environment {env_id!r}; {hint}") from None


def space_name(space: gym.Space) -> str:
    """The class name of a gymnasium space (``Box``, ``Discrete``, ...)."""
    return type(space).__name__


def check_spaces(algo: str, env_id: str, env_kwargs: dict[str, Any] | None = None) -> None:
    """Raise a one-line error when the algorithm cannot handle the env's spaces (checked on one fresh env)."""
    from agents.registry import get_spec

    spec = get_spec(algo)
    try:
        env = gym.make(env_id, **(env_kwargs or {}))
    except TypeError as error:
        raise ZooError(f"cannot make {env_id} with env kwargs {env_kwargs}: {error}") from None
    action_space, observation_space = env.action_space, env.observation_space
    env.close()
    if space_name(action_space) not in spec.action_spaces:
        raise ZooError(
            f"{spec.name} cannot handle {env_id}'s {space_name(action_space)} action space; "
            f"it supports {', '.join(spec.action_spaces)} action spaces"
        )
    if spec.observation_spaces is not None and space_name(observation_space) not in spec.observation_spaces:
        raise ZooError(
            f"{spec.name} cannot handle {env_id}'s {space_name(observation_space)} observations; "
            f"it supports {', '.join(spec.observation_spaces)} observation spaces"
        )


def apply_wrappers(env: gym.Env, wrappers: list[tuple[str, dict[str, Any]]]) -> gym.Env:
    """Wrap ``env`` with ``(dotted path, kwargs)`` wrappers, first in the list innermost."""
    for path, kwargs in wrappers:
        env = resolve_name(path, "env_wrapper")(env, **kwargs)
    return env


class _MakeEnv:
    """``gym.make`` plus the config's wrappers, picklable for SubprocVecEnv.

    ``make_vec_env`` puts the Monitor on top of what this returns, so the Monitor (and with it
    ``evaluate_policy`` and the training logs) sees episodes as the wrapped env ends them: a ``TimeLimit``
    given as ``env_wrapper`` truncates the episodes the Monitor records.
    """

    def __init__(self, env_id: str, wrappers: list[tuple[str, dict[str, Any]]]):
        self.env_id = env_id
        self.wrappers = wrappers

    def __call__(self, **kwargs: Any) -> gym.Env:
        return apply_wrappers(gym.make(self.env_id, **kwargs), self.wrappers)


def make_env(env_id: str, hyperparams: dict[str, Any] | None = None, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """One env as the config builds it (``gym.make`` and the ``env_wrapper`` list), without a Monitor."""
    check_env_id(env_id)
    wrappers = parse_wrappers((hyperparams or {}).get("env_wrapper"), f"{env_id}: env_wrapper")
    try:
        return _MakeEnv(env_id, wrappers)(**(env_kwargs or {}))
    except TypeError as error:
        raise ZooError(f"cannot make {env_id} with env kwargs {env_kwargs}: {error}") from None


def create_env(
    env_id: str,
    n_envs: int = 1,
    *,
    hyperparams: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    seed: int | None = None,
    monitor_dir: str | None = None,
    vec_env: str = "dummy",
    render_mode: str | None = None,
    wrap_normalize: Callable[[VecEnv], VecNormalize] | None = None,
    training: bool = True,
    append_monitor: bool = False,
) -> VecEnv:
    """Make a Monitor-wrapped ``VecEnv`` the way a config asks for it.

    :param env_id: gymnasium env id
    :param n_envs: number of copies
    :param hyperparams: config entry as written (``env_wrapper``, ``vec_env_wrapper``, ``frame_stack``,
        ``normalize`` are used; other keys are ignored)
    :param env_kwargs: keyword arguments for ``gym.make``
    :param seed: seed of the first copy (the others get ``seed + i``)
    :param monitor_dir: folder for the Monitor CSV files, or ``None``
    :param vec_env: ``"dummy"`` (one process), ``"subproc"`` (one process per copy) or ``"table"`` (NumPy
        copies of a toy-text env stepped from its transition table, see :func:`create_table_env`)
    :param render_mode: ``render_mode`` passed to ``gym.make``
    :param wrap_normalize: builds the ``VecNormalize`` layer with saved statistics; by default a fresh one
    :param training: whether normalisation statistics are updated (``False`` for evaluation)
    :param append_monitor: append to existing Monitor files instead of replacing them (resumed runs)
    """
    check_env_id(env_id)
    hyperparams = hyperparams or {}
    if vec_env not in VEC_ENV_TYPES:
        raise ZooError(f"vec_env must be one of {', '.join(VEC_ENV_TYPES)}, got {vec_env!r}")
    kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    wrappers = parse_wrappers(hyperparams.get("env_wrapper"), f"{env_id}: env_wrapper")
    try:
        if vec_env == "table":
            venv = create_table_env(env_id, n_envs, wrappers, kwargs, seed, monitor_dir, append_monitor)
        else:
            venv = make_vec_env(
                _MakeEnv(env_id, wrappers),
                n_envs=n_envs,
                seed=seed,
                monitor_dir=monitor_dir,
                env_kwargs=kwargs,
                vec_env_cls=VEC_ENV_CLASSES[vec_env],
                monitor_kwargs={"override_existing": not append_monitor},
            )
    except TypeError as error:  # an env_kwargs key the env does not take
        raise ZooError(f"cannot make {env_id} with env kwargs {kwargs}: {error}") from None
    for path, wrapper_kwargs in parse_wrappers(hyperparams.get("vec_env_wrapper"), f"{env_id}: vec_env_wrapper"):
        venv = resolve_name(path, "vec_env_wrapper")(venv, **wrapper_kwargs)
    normalize = parse_normalize(hyperparams.get("normalize", False), f"{env_id}: normalize")
    if normalize is not None or wrap_normalize is not None:
        if wrap_normalize is not None:
            venv = wrap_normalize(venv)
        elif training:
            venv = VecNormalize(venv, **normalize)
        else:
            venv = VecNormalize(venv, training=False, norm_reward=False, **{k: v for k, v in normalize.items() if k != "norm_reward"})
    if hyperparams.get("frame_stack"):
        venv = VecFrameStack(venv, n_stack=int(hyperparams["frame_stack"]))
    return venv


def create_table_env(
    env_id: str,
    n_envs: int,
    wrappers: list[tuple[str, dict[str, Any]]],
    env_kwargs: dict[str, Any],
    seed: int | None,
    monitor_dir: str | None,
    append_monitor: bool = False,
) -> VecEnv:
    """``n_envs`` NumPy copies of a toy-text env, stepped from its transition table, with a ``VecMonitor``.

    The copies are :class:`agents.tabular.vectorized.TransitionTableVecEnv`: no Python ``env.step``
    per copy, so tabular agents train tens of times faster. The env is built with the config's wrappers
    first; only those the transition table can follow are allowed (``gymnasium.wrappers.TimeLimit``: the
    time limit, :class:`zoo.envs.wrappers.ObserveTime`: the time in the observation), any other is refused.
    """
    from agents.tabular.exact import foreign_wrapper
    from agents.tabular.vectorized import TransitionTableVecEnv
    from stable_baselines3.common.monitor import ResultsWriter
    from stable_baselines3.common.vec_env import VecMonitor

    env = _MakeEnv(env_id, wrappers)(**env_kwargs)
    foreign = foreign_wrapper(env)
    if foreign is not None:
        raise ZooError(
            f"{env_id}: vec_env table cannot apply the env_wrapper {type(foreign).__module__}.{type(foreign).__name__}; "
            "it applies gymnasium.wrappers.TimeLimit and zoo.envs.wrappers.ObserveTime only (use vec_env dummy)"
        )
    venv = VecMonitor(TransitionTableVecEnv(env, n_envs, seed=seed))
    if monitor_dir is not None:
        os.makedirs(monitor_dir, exist_ok=True)
        venv.results_writer = ResultsWriter(
            os.path.join(monitor_dir, "0"), header={"t_start": venv.t_start, "env_id": env_id}, override_existing=not append_monitor
        )
    return venv


def load_normalize(path: str, training: bool = False) -> Callable[[VecEnv], VecNormalize]:
    """A ``wrap_normalize`` that applies statistics saved by ``VecNormalize.save``.

    Local runs only: this unpickles the file, so it is never used on a download.

    :param path: the saved statistics
    :param training: keep updating them (resumed training) or freeze them and report raw rewards (evaluation)
    """

    def wrap(venv: VecEnv) -> VecNormalize:
        normalized = VecNormalize.load(path, venv)
        normalized.training = training
        if not training:
            normalized.norm_reward = False
        return normalized

    return wrap
