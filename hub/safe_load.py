"""Pickle-free loading of Stable-Baselines3 checkpoints.

A Stable-Baselines3 zip holds ``data`` (JSON), ``policy.pth`` and friends (PyTorch state dicts) and
``pytorch_variables.pth``. SB3's own ``load`` unpickles the cloudpickled objects inside ``data``
(the ``":serialized:"`` fields), which runs whatever code the file's author wrote there. Here nothing
is unpickled:

1. ``data`` is parsed as JSON; every ``":serialized:"`` field is ignored. The spaces are rebuilt from
   the readable copies SB3 writes next to each pickle (``dtype``, ``shape``, ``low``, ``high``, ``n``...;
   a ``Tuple`` of ``Discrete``, as in Blackjack-v1, from its printed ``spaces``, parsed by :mod:`ast` and never
   evaluated).
2. The policy class is looked up by name among the algorithm's own ``policy_aliases``; class-valued
   policy keyword arguments (activation functions, optimizers, features extractors) are looked up in
   an allow-list (:data:`ALLOWED_CLASSES`).
3. Hyperparameters come from the readable values of ``data`` that the algorithm's constructor takes;
   those only pickled there (schedules, ``train_freq``) come from ``config.yml`` where given
   (``fallback_hyperparams``), else the constructor's default.
4. Every ``.pth`` file is read with ``torch.load(..., weights_only=True)``.

This also loads checkpoints whose pickles name modules that no longer exist (the old ``gym``).
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces

from zoo.errors import ZooError


class UnsafeCheckpointError(ZooError):
    """A checkpoint holds something that would run code if it were loaded; it was refused."""


def _allowed_classes() -> dict[str, type]:
    """Full dotted name -> class, for the classes a policy's keyword arguments may name.

    The same allow-list as the configs' (:data:`zoo.config.ALLOWED_NAMES`), keyed by the names
    ``str(cls)`` prints in SB3's ``data`` (``torch.nn.modules.activation.ReLU``) and the short ones (``nn.ReLU``).
    """
    from zoo.config import ALLOWED_NAMES, resolve_name

    table: dict[str, type] = {}
    for short_name, target in ALLOWED_NAMES.items():
        cls = resolve_name(target, "allow-list")
        table[short_name] = cls
        table[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return table


#: Classes a downloaded policy's keyword arguments may name (filled on first use).
ALLOWED_CLASSES: dict[str, type] = {}

_CLASS_REPR = re.compile(r"^<class '([\w.]+)'>$")
_FUNCTION_REPR = re.compile(r"<function (\w+)\.")


def allowed_class(dotted_name: str, what: str) -> type:
    """The allow-listed class called ``dotted_name``, or an :class:`UnsafeCheckpointError`."""
    if not ALLOWED_CLASSES:
        ALLOWED_CLASSES.update(_allowed_classes())
    if dotted_name not in ALLOWED_CLASSES:
        raise UnsafeCheckpointError(
            f"{what} names the class {dotted_name!r}, which is not in the zoo's allow-list "
            "(activation functions, optimizers and features extractors of torch and Stable-Baselines3)"
        )
    return ALLOWED_CLASSES[dotted_name]


# --------------------------------------------------------------------------------------------------
# Spaces
# --------------------------------------------------------------------------------------------------


def _parse_numbers(text: Any, what: str) -> list[float]:
    """The numbers of a printed numpy array such as ``"[-4.8 -inf 0.4]"`` (JSON lists pass through)."""
    if isinstance(text, (int, float)):
        return [float(text)]
    if isinstance(text, list):
        return [float(x) for x in np.asarray(text, dtype=np.float64).ravel()]
    tokens = str(text).replace("[", " ").replace("]", " ").replace(",", " ").split()
    try:
        return [float(token) for token in tokens if token != "..."]
    except ValueError as error:
        raise ZooError(f"cannot read {what} from the checkpoint's data: {text!r}") from error


def _array(text: Any, shape: tuple[int, ...], dtype: np.dtype, what: str, uniform_repr: Any = None) -> np.ndarray:
    """Rebuild an array of ``shape`` from its printed form (numpy abbreviates big arrays with ``...``)."""
    size = int(np.prod(shape)) if shape else 1
    values = _parse_numbers(text, what)
    if len(values) == size:
        return np.asarray(values, dtype=np.float64).reshape(shape).astype(dtype)
    if uniform_repr is not None and len(_parse_numbers(uniform_repr, what)) == 1:
        return np.full(shape, _parse_numbers(uniform_repr, what)[0]).astype(dtype)
    if values and "..." in str(text) and len(set(values)) == 1:  # an abbreviated constant array
        return np.full(shape, values[0]).astype(dtype)
    raise ZooError(f"cannot rebuild {what} of shape {shape} from the checkpoint's data ({len(values)} values)")


def space_from_json(entry: Any, what: str) -> spaces.Space:
    """Rebuild a gymnasium space from the readable fields SB3 stores next to its pickle.

    Old ``gym`` spaces (SB3 1.x) and gymnasium spaces are read alike; ``":serialized:"`` is never used.
    """
    if not isinstance(entry, dict) or ":type:" not in entry:
        raise ZooError(f"the checkpoint's data has no readable {what}")
    kind = entry[":type:"].split("'")[1].rsplit(".", 1)[-1] if "'" in entry[":type:"] else entry[":type:"]
    shape_field = entry.get("_shape", entry.get("shape"))
    shape = tuple(int(n) for n in shape_field) if isinstance(shape_field, list) else None
    dtype = np.dtype(entry.get("dtype", "float32"))
    if kind == "Box":
        if shape is None:
            raise ZooError(f"the checkpoint's {what} (Box) has no readable shape")
        low = _array(entry["low"], shape, dtype, f"{what}.low", entry.get("low_repr"))
        high = _array(entry["high"], shape, dtype, f"{what}.high", entry.get("high_repr"))
        return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    if kind == "Discrete":
        return spaces.Discrete(int(entry["n"]), start=int(entry.get("start", 0)))
    if kind == "MultiDiscrete":
        nvec_text = entry["nvec"]
        nvec_shape = shape if shape is not None else (len(_parse_numbers(nvec_text, f"{what}.nvec")),)
        nvec = _array(nvec_text, nvec_shape, np.dtype(np.int64), f"{what}.nvec")
        start = entry.get("start")
        start_array = _array(start, nvec_shape, np.dtype(np.int64), f"{what}.start") if start is not None else None
        return spaces.MultiDiscrete(nvec, dtype=dtype, start=start_array)
    if kind == "MultiBinary":
        n = entry["n"]
        return spaces.MultiBinary(n if isinstance(n, (int, list)) else [int(x) for x in _parse_numbers(n, what)])
    if kind == "Tuple":
        return tuple_space_from_text(entry.get("spaces"), what)
    raise ZooError(
        f"the checkpoint's {what} is a {kind} space, which cannot be rebuilt without unpickling it "
        "(readable forms exist for Box, Discrete, MultiDiscrete, MultiBinary and Tuple of Discrete)"
    )


def _not_a_tuple(text: Any, what: str) -> ZooError:
    shown = repr(text) if len(repr(text)) <= 120 else repr(text)[:117] + "..."
    return ZooError(f"the checkpoint's {what} is not a readable Tuple of Discrete spaces: {shown}")


def _small_int(node: ast.AST, text: str, what: str) -> int:
    """An integer literal (optionally negative) of the printed Tuple, else a one-line error."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_small_int(node.operand, text, what)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    raise _not_a_tuple(text, what)


def _space_from_node(node: ast.AST, text: str, what: str) -> spaces.Space:
    """``Discrete(n)``, ``Discrete(n, start=s)`` or ``Tuple(...)`` of those, from the parsed printed form."""
    refused = _not_a_tuple(text, what)
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise refused
    name = node.func.id
    if name == "Discrete" and len(node.args) == 1 and all(k.arg == "start" for k in node.keywords):
        n = _small_int(node.args[0], text, what)
        start = _small_int(node.keywords[0].value, text, what) if node.keywords else 0
        if n <= 0:
            raise refused
        return spaces.Discrete(n, start=start)
    if name == "Tuple" and not node.keywords and node.args:
        return spaces.Tuple(tuple(_space_from_node(arg, text, what) for arg in node.args))
    raise refused


def tuple_space_from_text(text: Any, what: str) -> spaces.Tuple:
    """Rebuild a ``Tuple`` space from the printed form SB3 keeps of its parts.

    ``text`` is ``str(space.spaces)``, e.g. ``"(Discrete(32), Discrete(11), Discrete(2))"``. It is parsed by
    :mod:`ast` and only ``Discrete(int[, start=int])`` and nested ``Tuple(...)`` of those are accepted;
    nothing is evaluated.
    """
    refused = _not_a_tuple(text, what)
    if not isinstance(text, str) or len(text) > 10_000:
        raise refused
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise refused from error
    if not isinstance(tree, ast.Tuple) or not tree.elts:
        raise refused
    try:
        return spaces.Tuple(tuple(_space_from_node(node, text, what) for node in tree.elts))
    except RecursionError as error:
        raise refused from error


# --------------------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------------------


def _policy_class(algo_class: type, entry: Any, fallback_name: str | None) -> type:
    """The policy class that ``entry`` (the readable copy of ``policy_class``) names, among the algorithm's."""
    candidates: dict[str, type] = {}
    for alias, cls in getattr(algo_class, "policy_aliases", {}).items():
        candidates.setdefault(cls.__name__, cls)
        candidates.setdefault(alias, cls)
    name = None
    if isinstance(entry, dict):
        match = _FUNCTION_REPR.search(str(entry.get("__init__", "")))
        name = match.group(1) if match else None
    elif isinstance(entry, str):
        name = entry
    if entry is None and fallback_name in candidates:  # no policy_class saved at all: the config names it
        name = fallback_name
    if name not in candidates:
        raise UnsafeCheckpointError(
            f"the checkpoint's policy class {name!r} is not one of {algo_class.__name__}'s policies "
            f"({', '.join(sorted(set(getattr(algo_class, 'policy_aliases', {}))))})"
        )
    return candidates[name]


def _policy_value(key: str, value: Any) -> Any:
    """One policy keyword argument: printed class names go through the allow-list, other code is refused."""
    if isinstance(value, str):
        match = _CLASS_REPR.match(value)
        if match:
            return allowed_class(match.group(1), f"policy_kwargs[{key!r}]")
        if value.startswith("<"):
            raise UnsafeCheckpointError(f"policy_kwargs[{key!r}] is {value!r}, which cannot be loaded without unpickling")
    if isinstance(value, dict):
        return {k: _policy_value(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, list):
        return [_policy_value(key, v) for v in value]
    return value


def policy_kwargs_from_json(entry: Any, policy_class: type) -> dict[str, Any]:
    """Rebuild ``policy_kwargs`` from its readable form (SB3 1.x habits are translated).

    - ``device`` (SB3 0.x) is dropped; ``net_arch=[dict(pi=..., vf=...)]`` becomes ``dict(pi=..., vf=...)``.
    - Keys the policy class does not take are refused with an error naming them.
    """
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        raise ZooError(f"the checkpoint's policy_kwargs are unreadable: {entry!r}")
    kwargs = {k: _policy_value(k, v) for k, v in entry.items() if not k.startswith(":") and k != "device"}
    net_arch = kwargs.get("net_arch")
    if isinstance(net_arch, list) and any(isinstance(layer, dict) for layer in net_arch):
        if len(net_arch) != 1 or not isinstance(net_arch[0], dict):
            raise ZooError(
                f"net_arch={net_arch} has layers shared by actor and critic, which Stable-Baselines3 >= 1.8 cannot build"
            )
        kwargs["net_arch"] = net_arch[0]
    accepted = inspect.signature(policy_class.__init__).parameters
    takes_any = any(p.kind == p.VAR_KEYWORD for p in accepted.values())
    unknown = sorted(set(kwargs) - set(accepted)) if not takes_any else []
    if unknown:
        raise ZooError(f"policy_kwargs {unknown} are not parameters of {policy_class.__name__}")
    return kwargs


# --------------------------------------------------------------------------------------------------
# The zip
# --------------------------------------------------------------------------------------------------

#: Constructor arguments never taken from a downloaded checkpoint.
_NOT_FROM_DATA = {"self", "policy", "env", "device", "policy_kwargs", "_init_setup_model", "tensorboard_log"}
#: Hyperparameters that may be schedules: a config's ``lin_X`` becomes a linear schedule (``alpha``: the
#: tabular algorithms' learning rate).
_SCHEDULES = {"learning_rate", "clip_range", "clip_range_vf", "delta_std", "alpha"}


_MISSING = object()


def _readable(value: Any) -> bool:
    return not (isinstance(value, dict) and ":type:" in value)


def _hyperparameter(key: str, value: Any) -> Any:
    """A config value as the constructor wants it (``lin_0.001`` -> linear schedule)."""
    if key in _SCHEDULES:
        from agents.common.schedules import parse_schedule

        return parse_schedule(value)
    return value


def load_torch_weights(raw: bytes, name: str, device: th.device | str) -> Any:
    """``torch.load(..., weights_only=True)`` of one ``.pth`` member, refusing anything else."""
    import pickle

    try:
        return th.load(io.BytesIO(raw), map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:  # weights_only refuses any global that is not plain data
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UnsafeCheckpointError(f"{name} is not a plain weights file and was refused ({first_line})") from error
    except Exception as error:
        raise ZooError(f"{name} cannot be read ({type(error).__name__}: {error})") from error


def read_zip_data(path: str | Path) -> dict[str, Any]:
    """The ``data`` JSON of an SB3 zip, parsed as JSON only."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as error:
        raise ZooError(f"{path} is not a Stable-Baselines3 checkpoint ({error})") from error


def load_sb3_zip(
    path: str | Path,
    algo_class: type,
    *,
    device: th.device | str = "auto",
    fallback_hyperparams: dict[str, Any] | None = None,
    verbose: int = 0,
) -> Any:
    """Load an SB3 checkpoint without unpickling anything.

    :param path: the ``.zip`` file
    :param algo_class: the ``BaseAlgorithm`` subclass it was saved from
    :param device: torch device for the policy
    :param fallback_hyperparams: hyperparameters (``config.yml``) used where ``data`` holds only a pickle;
        also names the policy (``policy``) when ``data`` has no ``policy_class`` at all
    :param verbose: verbosity of the returned model
    :return: the model, ready for ``predict`` (and for ``learn`` once given an env with ``set_env``)
    """
    from stable_baselines3.common.utils import get_device

    fallback = dict(fallback_hyperparams or {})
    device = get_device(device)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ZooError(f"{path} is not a Stable-Baselines3 checkpoint ({error})") from error
    with archive:
        names = set(archive.namelist())
        if "data" not in names:
            raise ZooError(f"{path} is not a Stable-Baselines3 checkpoint (no 'data' member)")
        try:
            data = json.loads(archive.read("data"))
        except json.JSONDecodeError as error:
            raise ZooError(f"{path}: the 'data' member is not JSON ({error})") from error
        weights = {
            name[: -len(".pth")]: load_torch_weights(archive.read(name), name, device)
            for name in sorted(names)
            if name.endswith(".pth")
        }
    if "policy" not in weights:
        raise ZooError(f"{path} has no policy.pth")

    observation_space = space_from_json(data.get("observation_space"), "observation_space")
    action_space = space_from_json(data.get("action_space"), "action_space")
    policy_class = _policy_class(algo_class, data.get("policy_class"), fallback.get("policy"))
    policy_kwargs = policy_kwargs_from_json(data.get("policy_kwargs"), policy_class)

    parameters = inspect.signature(algo_class.__init__).parameters
    arguments: dict[str, Any] = {}
    for key in parameters:
        if key in _NOT_FROM_DATA:
            continue
        if key in data and _readable(data[key]):
            arguments[key] = data[key]
        elif key in fallback and isinstance(fallback[key], (int, float, str, list, bool)):
            arguments[key] = _hyperparameter(key, fallback[key])
    arguments["verbose"] = verbose
    if isinstance(arguments.get("train_freq"), list):
        arguments["train_freq"] = tuple(arguments["train_freq"])
    if arguments.get("train_freq") == -1 and int(data.get("n_episodes_rollout", -1)) > 0:  # SB3 < 1.0
        arguments["train_freq"] = (int(data["n_episodes_rollout"]), "episode")
    if "target_entropy" in parameters and "target_entropy" not in arguments:
        # only pickled (a numpy float); "auto" would need an env: it means -dim(actions)
        arguments["target_entropy"] = float(-np.prod(action_space.shape))

    model = algo_class(
        policy=policy_class, env=None, device=device, policy_kwargs=policy_kwargs, _init_setup_model=False, **arguments
    )
    model.observation_space = observation_space
    model.action_space = action_space
    model.n_envs = int(data.get("n_envs", 1))
    # counters and other plain state (num_timesteps, _n_updates, exploration_rate...) where the types agree
    for key, value in data.items():
        if key in arguments or key in _NOT_FROM_DATA or not _readable(value):
            continue
        current = getattr(model, key, _MISSING)
        if current is not _MISSING and isinstance(value, (int, float)) and isinstance(current, (int, float)):
            setattr(model, key, type(current)(value) if not isinstance(current, bool) else bool(value))
    model._setup_model()

    variables = weights.pop("pytorch_variables", None) or weights.pop("tensors", None) or {}  # SB3 < 1.0: tensors
    state_names = set(model._get_torch_save_params()[0])
    unknown = sorted(set(weights) - state_names)
    if unknown:
        raise ZooError(f"{path} holds weights for {unknown}, which {algo_class.__name__} does not have")
    try:
        model.set_parameters(weights, exact_match=True, device=device)
    except RuntimeError as error:
        if "pi_features_extractor" in str(error) or "vf_features_extractor" in str(error):
            model.set_parameters(weights, exact_match=False, device=device)  # A2C/PPO saved by SB3 < 1.7
        else:
            raise ZooError(f"{path}: the weights do not fit the rebuilt policy ({str(error).splitlines()[0]})") from error
    except ValueError as error:
        _load_old_dqn_optimizer(model, weights, device, path, error)
    declared = set(model._get_torch_save_params()[1])  # the algorithm's own tensors (e.g. SAC's log_ent_coef)
    for name, tensor in variables.items():
        if tensor is None:  # saved as None (e.g. log_ent_coef with a fixed ent_coef)
            continue
        if name not in declared or not isinstance(tensor, th.Tensor):
            raise ZooError(f"{path}: pytorch_variables holds {name!r}, which {algo_class.__name__} does not declare")
        target = model
        *parents, leaf = name.split(".")
        for part in parents:
            target = getattr(target, part)
        getattr(target, leaf).data = tensor.data
    if getattr(model, "use_sde", False) and hasattr(model.policy, "reset_noise"):
        model.policy.reset_noise()
    return model



def _load_old_dqn_optimizer(model: Any, weights: dict, device: Any, path: Any, error: Exception) -> None:
    """DQN saved by SB3 < 2.4 listed the target network's parameters in its optimizer too: drop them."""
    groups = weights.get("policy.optimizer", {}).get("param_groups", [])
    n_params = len(model.policy.optimizer.param_groups[0]["params"]) if groups else 0
    if groups and len(groups[0]["params"]) == 2 * n_params:
        groups[0]["params"] = groups[0]["params"][:n_params]
        model.set_parameters(weights, exact_match=True, device=device)
    else:
        raise ZooError(f"{path}: the optimizer state does not fit the rebuilt policy ({error})") from error
