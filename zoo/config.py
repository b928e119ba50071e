"""Training configs: ``configs/ALGO.yml`` in the RL Baselines3 Zoo's hyperparameter format.

A config file maps env ids (or ``default``) to hyperparameters. The keys the zoo itself uses are
``n_timesteps``, ``policy``, ``n_envs``, ``normalize``, ``env_wrapper``, ``vec_env_wrapper``, ``frame_stack``,
``callback``, ``noise_type``/``noise_std``, and the zoo's ``vec_env`` (the VecEnv type, like ``--vec-env``); every other key is a constructor argument of the algorithm.

Nothing is evaluated: YAML goes through ``yaml.safe_load``, the zoo's string forms
(``policy_kwargs: "dict(net_arch=[64, 64], activation_fn=nn.ReLU)"``, ``normalize: "{'norm_obs': True}"``)
are parsed with :mod:`ast`, allowing literals, ``dict(...)`` and a fixed set of names, and ``lin_X`` becomes a
linear schedule from X down to 0.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.common.schedules import parse_schedule
from agents.common.hyperparams import NOISE_TYPES, ZOO_KEYS, constructor_parameters, make_action_noise, to_plain
# the names the string forms may use, and their parser (downloads are checked with the same allow-list)
from agents.common.untrusted import ALLOWED_NAMES, allowed_name as _allowed_name, parse_python_literal
from agents.errors import ZooError

#: where the shipped configs live (the repository's top-level ``configs/``)
CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"

#: VecEnv types (``vec_env`` key, ``--vec-env``): SB3's DummyVecEnv and SubprocVecEnv, and ``table``:
#: NumPy copies of a toy-text env stepped from its transition table (``zoo.envs.factory.create_table_env``)
VEC_ENV_TYPES = ("dummy", "subproc", "table")


@dataclass
class Hyperparams:
    """The hyperparameters of one run, parsed and checked.

    :param algo: registry name of the algorithm
    :param env_id: environment id
    :param source: the config file they came from (for error messages)
    :param raw: the hyperparameters as written (after overrides); saved as the run's ``config.yml``
    :param n_timesteps: total environment steps to train for
    :param policy: policy name (``MlpPolicy``, ...)
    :param n_envs: number of parallel training envs
    :param normalize: ``VecNormalize`` keyword arguments, or ``None`` for no normalisation
    :param env_wrappers: gymnasium wrappers as ``(dotted path, kwargs)``, applied in order
    :param vec_env_wrappers: VecEnv wrappers as ``(dotted path, kwargs)``
    :param frame_stack: number of stacked frames, or ``None``
    :param callbacks: extra callbacks as ``(dotted path, kwargs)``
    :param algo_kwargs: constructor arguments for the algorithm (schedules and policy_kwargs resolved)
    :param action_noise: ``(noise_type, noise_std)`` for off-policy continuous-action algorithms, or ``None``
    """

    algo: str
    env_id: str
    source: str
    raw: dict[str, Any]
    n_timesteps: int
    policy: str
    n_envs: int = 1
    normalize: dict[str, Any] | None = None
    env_wrappers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    vec_env_wrappers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    frame_stack: int | None = None
    callbacks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    algo_kwargs: dict[str, Any] = field(default_factory=dict)
    action_noise: tuple[str, float] | None = None


# ---------------------------------------------------------------- reading files


def read_yaml(path: str | Path) -> Any:
    """Safe-load a YAML file; a syntax error becomes a one-line :class:`ZooError` naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"config file not found: {path}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ZooError(f"{where}: invalid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise ZooError(f"{path}: invalid YAML: {error}") from None


def config_path(algo: str) -> Path:
    """The shipped config of an algorithm, ``configs/ALGO.yml``."""
    return CONFIGS_DIR / f"{algo}.yml"


def configured_envs(path: str | Path) -> list[str]:
    """Env ids a config file has entries for (without ``default``)."""
    data = read_yaml(path) or {}
    return [key for key in data if key != "default"] if isinstance(data, dict) else []


def select_entry(data: Any, env_id: str, path: str | Path) -> dict[str, Any]:
    """The entry for ``env_id`` in a config file's contents, or its ``default`` entry."""
    if not isinstance(data, dict):
        raise ZooError(f"{path}: expected a mapping of env ids to hyperparameters")
    entry = data.get(env_id, data.get("default"))
    if entry is None:
        close = difflib.get_close_matches(env_id, list(data), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        known = ", ".join(k for k in data if k != "default")
        raise ZooError(f"{path} has no entry for {env_id} and no 'default' entry{hint}; configured: {known}")
    if not isinstance(entry, dict):
        raise ZooError(f"{path}: {env_id}: expected a mapping of hyperparameters, got {type(entry).__name__}")
    return dict(entry)


# ---------------------------------------------------------------- values from the command line


def parse_value(text: str) -> Any:
    """A command-line value: a Python literal when it parses as one (``3e-4``, ``[64, 64]``), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_assignments(items: list[str] | None, what: str) -> dict[str, Any]:
    """``["learning_rate=3e-4", "n_envs:4"]`` -> ``{"learning_rate": 0.0003, "n_envs": 4}``."""
    result: dict[str, Any] = {}
    for item in items or []:
        for sep in ("=", ":"):
            if sep in item:
                key, value = item.split(sep, 1)
                break
        else:
            raise ZooError(f"{what}: expected KEY=VALUE, got {item!r}")
        if not key.strip():
            raise ZooError(f"{what}: missing key in {item!r}")
        result[key.strip()] = parse_value(value.strip())
    return result


# ---------------------------------------------------------------- the zoo's string forms


def resolve_name(path: str, where: str) -> Any:
    """Import ``package.module.Name`` (or ``package.module:Name``) and return the object."""
    module_name, _, attr = path.replace(":", ".").rpartition(".")
    if not module_name:
        raise ZooError(f"{where}: {path!r} is not a dotted path like package.module.Class")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise ZooError(f"{where}: cannot import {path!r} ({error})") from None


def _resolve_names_in(value: Any, where: str) -> Any:
    """In a YAML mapping, strings naming allowed classes (``nn.ReLU``) become those classes."""
    if isinstance(value, dict):
        return {k: _resolve_names_in(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_names_in(v, where) for v in value]
    if isinstance(value, str) and value in ALLOWED_NAMES:
        return _allowed_name(value, where)
    return value


def parse_policy_kwargs(value: Any, where: str) -> dict[str, Any]:
    """``policy_kwargs`` as a YAML mapping or as the zoo's ``"dict(...)"`` string."""
    if isinstance(value, str):
        value = parse_python_literal(value, where)
    if not isinstance(value, dict):
        raise ZooError(f"{where}: expected a mapping (or a \"dict(...)\" string), got {type(value).__name__}")
    return _resolve_names_in(value, where)


def parse_normalize(value: Any, where: str) -> dict[str, Any] | None:
    """``normalize``: ``true``/``false``, a mapping of VecNormalize kwargs, or the zoo's string of one."""
    if isinstance(value, str):
        value = parse_python_literal(value, where)
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, dict):
        return dict(value)
    raise ZooError(f"{where}: expected true, false or a mapping of VecNormalize arguments, got {value!r}")


def parse_wrappers(value: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """``env_wrapper``/``callback``: a dotted path, a ``{path: kwargs}`` mapping, or a list of those."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    wrappers = []
    for item in items:
        if isinstance(item, str):
            wrappers.append((item, {}))
        elif isinstance(item, dict) and len(item) == 1:
            path, kwargs = next(iter(item.items()))
            if kwargs is not None and not isinstance(kwargs, dict):
                raise ZooError(f"{where}: arguments of {path} must be a mapping, got {kwargs!r}")
            wrappers.append((str(path), dict(kwargs or {})))
        else:
            raise ZooError(f"{where}: expected a dotted class path or {{path: kwargs}}, got {item!r}")
    return wrappers


# ---------------------------------------------------------------- checking against the algorithm


_KIND_WORDS = {
    "int": int, "float": float, "bool": bool, "str": str, "dict": dict, "list": list, "tuple": tuple,
    "Schedule": "callable", "Callable": "callable", "None": type(None), "Any": object, "type": type,
}


def _expected_kinds(parameter: inspect.Parameter) -> set[Any] | None:
    """What Python types a constructor argument accepts, judged from its annotation or default."""
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        default = parameter.default
        return None if default is inspect.Parameter.empty or default is None else {type(default)}
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None) or str(annotation)
    if isinstance(annotation, type):
        text = annotation.__name__
    tokens = {name.rsplit(".", 1)[-1] for name in re.findall(r"[A-Za-z_][\w.]*", str(text))}
    words = tokens & set(_KIND_WORDS)
    if not words or "Any" in words:
        return None  # classes or other types: not checked here
    return {_KIND_WORDS[word] for word in words}


def _matches(value: Any, kinds: set[Any]) -> bool:
    if value is None:
        return type(None) in kinds or len(kinds - {type(None)}) == 0
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int) and (int in kinds or float in kinds):
        return True
    if isinstance(value, float) and (float in kinds or (int in kinds and value.is_integer())):
        return True
    if callable(value) and not isinstance(value, type) and "callable" in kinds:
        return True
    if isinstance(value, list) and tuple in kinds:
        return True
    return any(isinstance(kind, type) and kind not in (int, float, bool) and isinstance(value, kind) for kind in kinds)


def _describe(kinds: set[Any]) -> str:
    names = sorted("schedule (lin_X)" if k == "callable" else ("null" if k is type(None) else k.__name__) for k in kinds)
    return " or ".join(names)


def _coerce(value: Any, kinds: set[Any] | None) -> Any:
    if kinds and isinstance(value, float) and value.is_integer() and int in kinds and float not in kinds:
        return int(value)
    if kinds and isinstance(value, list) and tuple in kinds and list not in kinds:
        return tuple(value)
    return value


def build_hyperparams(
    algo: str, env_id: str, raw: dict[str, Any], algo_class: type, source: str
) -> Hyperparams:
    """Check ``raw`` against the algorithm and turn it into :class:`Hyperparams`.

    :param algo: registry name
    :param env_id: environment id
    :param raw: hyperparameters as written (after overrides)
    :param algo_class: the algorithm class, whose constructor decides which keys are valid
    :param source: file name used in error messages
    """
    where = f"{source}: {env_id}"
    params = constructor_parameters(algo_class)
    for key in raw:
        if key not in ZOO_KEYS and key not in params:
            close = difflib.get_close_matches(key, list(params) + sorted(ZOO_KEYS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ZooError(f"{where}: unknown key {key!r} for {algo_class.__name__}{hint}")

    def number(key: str, default: Any, kind: type = int) -> Any:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not float(value).is_integer()):
            raise ZooError(f"{where}: {key} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        return kind(value)

    if "n_timesteps" not in raw:
        raise ZooError(f"{where}: missing n_timesteps")
    n_timesteps = number("n_timesteps", None)
    n_envs = number("n_envs", 1)
    if n_envs < 1 or n_timesteps < 0:
        raise ZooError(f"{where}: n_envs must be >= 1 and n_timesteps >= 0")
    policy = raw.get("policy", "MlpPolicy")
    if not isinstance(policy, str):
        raise ZooError(f"{where}: policy must be a policy name such as MlpPolicy, got {policy!r}")
    frame_stack = raw.get("frame_stack")
    if frame_stack is not None:
        frame_stack = number("frame_stack", None)
    if raw.get("vec_env", "dummy") not in VEC_ENV_TYPES:
        raise ZooError(f"{where}: vec_env must be one of {', '.join(VEC_ENV_TYPES)}, got {raw['vec_env']!r}")

    normalize = parse_normalize(raw.get("normalize", False), f"{where}: normalize")
    if "normalize_kwargs" in raw and normalize is not None:
        normalize.update(parse_normalize(raw["normalize_kwargs"], f"{where}: normalize_kwargs") or {})

    algo_kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ZOO_KEYS:
            continue
        if key.endswith("_kwargs"):  # policy_kwargs, replay_buffer_kwargs, ...
            algo_kwargs[key] = parse_policy_kwargs(value, f"{where}: {key}")
            continue
        if key == "replay_buffer_class" and isinstance(value, str):
            value = _allowed_name(value, f"{where}: {key}") if value in ALLOWED_NAMES else resolve_name(value, f"{where}: {key}")
        kinds = _expected_kinds(params[key])
        value = _coerce(parse_schedule(value), kinds)
        if kinds is not None and not _matches(value, kinds):
            raise ZooError(f"{where}: {key} must be {_describe(kinds)}, got {value!r}")
        algo_kwargs[key] = value

    noise = None
    if "noise_type" in raw:
        if raw["noise_type"] not in NOISE_TYPES:
            raise ZooError(f"{where}: noise_type must be one of {', '.join(NOISE_TYPES)}, got {raw['noise_type']!r}")
        noise = (raw["noise_type"], float(number("noise_std", 0.1, float)))

    return Hyperparams(
        algo=algo,
        env_id=env_id,
        source=source,
        raw=raw,
        n_timesteps=n_timesteps,
        policy=policy,
        n_envs=n_envs,
        normalize=normalize,
        env_wrappers=parse_wrappers(raw.get("env_wrapper"), f"{where}: env_wrapper"),
        vec_env_wrappers=parse_wrappers(raw.get("vec_env_wrapper"), f"{where}: vec_env_wrapper"),
        frame_stack=frame_stack,
        callbacks=parse_wrappers(raw.get("callback"), f"{where}: callback"),
        algo_kwargs=algo_kwargs,
        action_noise=noise,
    )


def load_hyperparams(
    algo: str,
    env_id: str,
    conf_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Hyperparams:
    """Read the hyperparameters of ``algo`` on ``env_id``.

    :param algo: registry name of the algorithm
    :param env_id: environment id (its entry, or the ``default`` entry, is used)
    :param conf_file: a config file to use instead of ``configs/ALGO.yml``
    :param overrides: values replacing those of the file (``--hyperparams``)
    """
    from agents.registry import get_spec

    spec = get_spec(algo)
    path = Path(conf_file) if conf_file else config_path(spec.name)
    if not path.is_file():
        if conf_file:
            raise ZooError(f"config file not found: {path}")
        raise ZooError(f"no config for {spec.name}: {path} does not exist (pass --conf-file)")
    raw = select_entry(read_yaml(path), env_id, path)
    raw.update(overrides or {})
    return build_hyperparams(spec.name, env_id, raw, spec.load(), str(path))
