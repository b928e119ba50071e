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
   the allow-list of :mod:`agents.common.untrusted`, which imports nothing a file names.
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
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces

from agents.common.hyperparams import constructor_parameters
from agents.common.untrusted import check_entries, max_entries, parse_python_literal, resolve_untrusted
from agents.errors import UnsafeCheckpointError, ZooError

__all__ = ["UnsafeCheckpointError", "allowed_class", "load_sb3_zip", "space_from_json", "space_from_text"]


#: Classes a downloaded policy's keyword arguments may name: :func:`agents.common.untrusted.allowed_table`
#: (``"policy_kwargs"``), keyed by the names ``str(cls)`` prints in SB3's ``data`` and the short ones (``nn.ReLU``).


_CLASS_REPR = re.compile(r"^<class '([\w.]+)'>$")
_FUNCTION_REPR = re.compile(r"<function (\w+)\.")


def allowed_class(dotted_name: str, what: str) -> type:
    """The allow-listed class called ``dotted_name``, or an :class:`UnsafeCheckpointError` (nothing imported)."""
    return resolve_untrusted(dotted_name, "policy_kwargs", what)


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


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(int(n) for n in shape) if shape else 1


def space_from_json(entry: Any, what: str) -> spaces.Space:
    """Rebuild a gymnasium space from the readable fields SB3 stores next to its pickle.

    Old ``gym`` spaces (SB3 1.x) and gymnasium spaces are read alike; ``":serialized:"`` is never used.
    Every size the entry claims is checked (:func:`agents.common.untrusted.check_entries`) before anything
    is allocated.
    """
    if not isinstance(entry, dict) or ":type:" not in entry:
        raise ZooError(f"the checkpoint's data has no readable {what}")
    kind = entry[":type:"].split("'")[1].rsplit(".", 1)[-1] if "'" in entry[":type:"] else entry[":type:"]
    shape_field = entry.get("_shape", entry.get("shape"))
    shape = tuple(int(n) for n in shape_field) if isinstance(shape_field, list) else None
    if shape is not None and (any(n < 0 for n in shape) or len(shape) > 32):
        raise ZooError(f"the checkpoint's {what} has an impossible shape {shape}")
    dtype = _dtype_of(entry.get("dtype") or "float32", what)
    if kind == "Box":
        if shape is None:
            raise ZooError(f"the checkpoint's {what} (Box) has no readable shape")
        check_entries(_size(shape), f"the checkpoint's {what} Box{shape}")
        low = _array(entry["low"], shape, dtype, f"{what}.low", entry.get("low_repr"))
        high = _array(entry["high"], shape, dtype, f"{what}.high", entry.get("high_repr"))
        return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    if kind == "Discrete":
        n = int(entry["n"])
        check_entries(n, f"the checkpoint's {what} Discrete({n})")
        return spaces.Discrete(n, start=int(entry.get("start", 0)))
    if kind == "MultiDiscrete":
        nvec_text = entry["nvec"]
        if shape is not None:
            check_entries(_size(shape), f"the checkpoint's {what} MultiDiscrete{shape}")
        nvec_shape = shape if shape is not None else (len(_parse_numbers(nvec_text, f"{what}.nvec")),)
        nvec = _array(nvec_text, nvec_shape, np.dtype(np.int64), f"{what}.nvec")
        check_entries(int(nvec.max(initial=0)), f"the checkpoint's {what} MultiDiscrete (a dimension)")
        start = entry.get("start")
        start_array = _array(start, nvec_shape, np.dtype(np.int64), f"{what}.start") if start is not None else None
        return spaces.MultiDiscrete(nvec, dtype=dtype, start=start_array)
    if kind == "MultiBinary":
        n = entry["n"]
        n = n if isinstance(n, (int, list)) else [int(x) for x in _parse_numbers(n, what)]
        check_entries(_size(tuple(n) if isinstance(n, list) else (n,)), f"the checkpoint's {what} MultiBinary({n})")
        return spaces.MultiBinary(n)
    if kind in ("Tuple", "Dict"):
        parts = space_from_text(entry.get("spaces"), what)
        if kind == "Tuple" and isinstance(parts, tuple):
            return spaces.Tuple(parts)
        if kind == "Dict" and isinstance(parts, dict):
            return spaces.Dict(parts)
        raise ZooError(f"the checkpoint's {what} is not a readable {kind}: {_shown(entry.get('spaces'))}")
    raise ZooError(
        f"the checkpoint's {what} is a {kind} space, which cannot be rebuilt without unpickling it "
        "(readable forms exist for Box, Discrete, MultiDiscrete, MultiBinary, Tuple and Dict)"
    )


def _dtype_of(name: Any, what: str) -> np.dtype:
    """A numeric numpy dtype named by the checkpoint (object and other dtypes refused)."""
    try:
        dtype = np.dtype(str(name).replace("<class 'numpy.", "").rstrip("'>"))
    except TypeError:
        raise ZooError(f"the checkpoint's {what} has an unknown dtype {name!r}") from None
    if dtype.kind not in "biuf":
        raise UnsafeCheckpointError(f"the checkpoint's {what} has the dtype {dtype}, not a numeric one")
    return dtype


# The printed form of spaces (``str(space.spaces)`` of a Tuple or Dict), read without evaluating it.
#
# gymnasium prints ``Box([-1.2 -0.07], [0.6 0.07], (2,), float32)``, ``Discrete(3)``, ``Discrete(3, start=1)``,
# ``MultiBinary(4)``, ``MultiDiscrete([3 3])``, ``Dict('a': Box(...), 'b': ...)`` and ``Tuple(...)``. Two steps
# make that a Python expression: numpy's space-separated array items get commas, and ``Dict(k: v, ...)`` becomes
# ``Dict({k: v, ...})``. The expression is parsed by :mod:`ast` and walked by :func:`_space_from_node`, which
# accepts only those six calls with literal arguments and a few names (``inf``, ``nan``, dtype names).

_SPACE_CALLS = ("Box", "Discrete", "MultiBinary", "MultiDiscrete", "Dict", "Tuple")
_ARRAY_GAP = re.compile(r"(?<=[\d.\]fn])\s+(?=[-+\d.\[ni])")
_NAMES = {"inf": np.inf, "nan": np.nan}
_MAX_TEXT = 200_000
_MAX_DEPTH = 16


def _shown(text: Any) -> str:
    shown = repr(text)
    return shown if len(shown) <= 120 else shown[:117] + "..."


def _as_python(text: str) -> str:
    """Commas between numpy's array items, and ``Dict(...)``'s items in braces."""
    text = _ARRAY_GAP.sub(", ", text)
    out: list[str] = []
    stack: list[bool] = []  # for each open parenthesis: does it open a Dict?
    i, quote = 0, ""
    while i < len(text):
        char = text[i]
        if quote:
            out.append(char)
            quote = "" if char == quote else quote
        elif char in "'\"":
            out.append(char)
            quote = char
        elif text.startswith("Dict(", i):
            out.append("Dict({")
            stack.append(True)
            i += 5
            continue
        elif char == "(":
            out.append(char)
            stack.append(False)
        elif char == ")":
            out.append("})" if stack and stack.pop() else ")")
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _number(node: ast.AST, text: str, what: str) -> Any:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _number(node.operand, text, what)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant) and type(node.value) in (int, float) or (
            isinstance(node, ast.Constant) and node.value is Ellipsis):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    raise ZooError(f"the checkpoint's {what} is not a readable space: {_shown(text)}")


def _numbers(node: ast.AST, text: str, what: str) -> list[Any]:
    """The numbers of a (nested) list, flattened; ``...`` (numpy's abbreviation) kept as Ellipsis."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return [value for item in node.elts for value in _numbers(item, text, what)]
    return [_number(node, text, what)]


def _int(node: ast.AST, text: str, what: str) -> int:
    value = _number(node, text, what)
    if type(value) is not int:
        raise ZooError(f"the checkpoint's {what} is not a readable space: {_shown(text)}")
    return value


def _bound(node: ast.AST, shape: tuple[int, ...], dtype: np.dtype, upper: bool, text: str, what: str) -> np.ndarray:
    """A Box bound of ``shape``: a scalar, a full list, or numpy's abbreviation (then the widest bound)."""
    values = _numbers(node, text, what)
    numbers = [v for v in values if v is not Ellipsis]
    if len(values) == 1 and numbers:
        return np.full(shape, numbers[0]).astype(dtype)
    if Ellipsis not in values and len(values) == _size(shape):
        return np.asarray(values, dtype=np.float64).reshape(shape).astype(dtype)
    if Ellipsis in values and len(set(numbers)) == 1:  # an abbreviated constant array
        return np.full(shape, numbers[0]).astype(dtype)
    if Ellipsis in values:  # abbreviated and not constant: the widest bound (the env's own space may replace it)
        widest = (np.inf if upper else -np.inf) if dtype.kind == "f" else (
            np.iinfo(dtype).max if upper else np.iinfo(dtype).min) if dtype.kind in "iu" else int(upper)
        return np.full(shape, widest).astype(dtype)
    raise ZooError(f"the checkpoint's {what}: a Box bound has {len(values)} values for the shape {shape}")


def _arguments(node: ast.Call, names: tuple[str, ...], text: str, what: str) -> dict[str, ast.AST]:
    """The call's arguments by parameter name (positional ones in the order of ``names``)."""
    if len(node.args) > len(names) or any(k.arg not in names for k in node.keywords):
        raise ZooError(f"the checkpoint's {what} is not a readable space: {_shown(text)}")
    found = dict(zip(names, node.args))
    found.update({k.arg: k.value for k in node.keywords if k.arg is not None})
    return found


def _space_from_node(node: ast.AST, text: str, what: str, depth: int = 0) -> spaces.Space:
    """One space from its parsed printed form: only the calls of :data:`_SPACE_CALLS`, literal arguments."""
    refused = ZooError(f"the checkpoint's {what} is not a readable space: {_shown(text)}")
    if depth > _MAX_DEPTH or not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise refused
    name = node.func.id
    if name == "Discrete":
        args = _arguments(node, ("n", "start"), text, what)
        n = _int(args["n"], text, what) if "n" in args else 0
        check_entries(n, f"the checkpoint's {what} Discrete({n})")
        if n <= 0:
            raise refused
        return spaces.Discrete(n, start=_int(args["start"], text, what) if "start" in args else 0)
    if name == "MultiBinary":
        args = _arguments(node, ("n",), text, what)
        if "n" not in args:
            raise refused
        is_list = isinstance(args["n"], (ast.List, ast.Tuple))
        sizes = [_int(x, text, what) for x in (args["n"].elts if is_list else [args["n"]])]
        check_entries(_size(tuple(sizes)), f"the checkpoint's {what} MultiBinary({sizes})")
        return spaces.MultiBinary(sizes if is_list else sizes[0])
    if name == "MultiDiscrete":
        args = _arguments(node, ("nvec", "dtype", "seed", "start"), text, what)
        nvec = _numbers(args["nvec"], text, what)
        if Ellipsis in nvec or not nvec or any(type(v) is not int for v in nvec):
            raise refused
        check_entries(len(nvec), f"the checkpoint's {what} MultiDiscrete (its length)")
        check_entries(max(nvec), f"the checkpoint's {what} MultiDiscrete (a dimension)")
        start = [int(v) for v in _numbers(args["start"], text, what)] if "start" in args else None
        return spaces.MultiDiscrete(np.asarray(nvec, dtype=np.int64), start=start)
    if name == "Box":
        args = _arguments(node, ("low", "high", "shape", "dtype"), text, what)
        if not {"low", "high", "shape"} <= set(args):
            raise refused
        shape = tuple(_int(n, text, what) for n in getattr(args["shape"], "elts", [args["shape"]]))
        if any(n < 0 for n in shape) or len(shape) > 32:
            raise refused
        check_entries(_size(shape), f"the checkpoint's {what} Box{shape}")
        dtype_node = args.get("dtype")
        dtype = _dtype_of(dtype_node.id if isinstance(dtype_node, ast.Name) else "float32", what)
        low = _bound(args["low"], shape, dtype, False, text, what)
        high = _bound(args["high"], shape, dtype, True, text, what)
        return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    if name == "Tuple" and not node.keywords:
        items = node.args[0].elts if len(node.args) == 1 and isinstance(node.args[0], (ast.Tuple, ast.List)) else node.args
        return spaces.Tuple(tuple(_space_from_node(item, text, what, depth + 1) for item in items))
    if name == "Dict" and not node.keywords and len(node.args) == 1 and isinstance(node.args[0], ast.Dict):
        return spaces.Dict(_space_dict(node.args[0], text, what, depth + 1))
    raise refused


def _space_dict(node: ast.Dict, text: str, what: str, depth: int) -> dict[str, spaces.Space]:
    parts: dict[str, spaces.Space] = {}
    for key, value in zip(node.keys, node.values):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            raise ZooError(f"the checkpoint's {what} is not a readable space: {_shown(text)}")
        parts[key.value] = _space_from_node(value, text, what, depth)
    return parts


def space_from_text(text: Any, what: str) -> tuple[spaces.Space, ...] | dict[str, spaces.Space]:
    """The parts of a ``Tuple`` or ``Dict`` space from the printed form SB3 keeps of them.

    ``text`` is ``str(space.spaces)``: ``"(Discrete(32), Discrete(11), Discrete(2))"`` for a Tuple,
    ``"{'achieved_goal': Box(-inf, inf, (3,), float32), ...}"`` for a Dict (nested Box, Discrete, MultiBinary,
    MultiDiscrete, Tuple and Dict). It is parsed, never evaluated, and every size is checked before any array
    is made; the entries of all parts together count against the limit too.
    """
    refused = ZooError(f"the checkpoint's {what} is not a readable Tuple or Dict of spaces: {_shown(text)}")
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        raise refused
    try:
        tree = ast.parse(_as_python(text.strip()), mode="eval").body
        if isinstance(tree, ast.Dict):
            parts: Any = _space_dict(tree, text, what, 0)
            flat = list(parts.values())
        elif isinstance(tree, ast.Tuple) and tree.elts:
            parts = tuple(_space_from_node(node, text, what) for node in tree.elts)
            flat = list(parts)
        else:
            raise refused
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise refused from error
    total = sum(_size(space.shape) if space.shape else 1 for space in flat)
    check_entries(total, f"the checkpoint's {what} (all parts)")
    return parts


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
#: what a text attribute restored from ``data`` may look like (a gymnasium or PettingZoo id)
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")
_NOT_FROM_DATA = {"self", "policy", "env", "device", "policy_kwargs", "_init_setup_model", "tensorboard_log",
                  "replay_buffer_class"}  # the buffer class: through the allow-list (_replay_buffer_choice)
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


def _check_members(archive: zipfile.ZipFile, path: Any) -> None:
    """Refuse a zip whose members claim more bytes than the entry limit allows (8 bytes an entry), or
    too many members, before any is read (a zip bomb claims little on disk and much unpacked)."""
    members = archive.infolist()
    if len(members) > 1000:
        raise UnsafeCheckpointError(f"{Path(str(path)).name} holds {len(members)} files; a checkpoint holds a few")
    for member in members:
        check_entries(member.file_size / 8, f"{Path(str(path)).name}: {member.filename} ({member.file_size} bytes)")


def read_zip_data(path: str | Path) -> dict[str, Any]:
    """The ``data`` JSON of an SB3 zip, parsed as JSON only."""
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(archive, path)
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
        _check_members(archive, path)
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
    table_entries = getattr(policy_class, "table_entries", None)  # policies that allocate from the spaces' sizes
    if callable(table_entries):
        check_entries(table_entries(observation_space, action_space),
                      f"{Path(str(path)).name}: the {policy_class.__name__} table")

    parameters = constructor_parameters(algo_class)  # through the class hierarchy (subclasses taking **kwargs)
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
    buffer = _replay_buffer_choice(arguments, fallback, observation_space, action_space, Path(str(path)).name)

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
    # names the algorithm declares it needs back (MCTS: the env id, the board game), if they are plain ids
    for key in getattr(algo_class, "text_attributes", ()):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not _PLAIN_ID.match(value) or ".." in value or len(value) > 200:
            raise UnsafeCheckpointError(f"{Path(str(path)).name}: {key} {_shown(value)} is not a plain id")
        setattr(model, key, value)
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
    for key, value in buffer.items():  # what the buffer really is, for a later save (zoo pull) and resume
        setattr(model, key, value)
    return model


def _replay_buffer_choice(arguments: dict[str, Any], fallback: dict[str, Any], observation_space: spaces.Space,
                          action_space: spaces.Space, name: str) -> dict[str, Any]:
    """Set up an off-policy model's replay buffer for loading, without trusting or allocating what the file claims.

    ``replay_buffer_class`` (only pickled in ``data``; the config names it) goes through the allow-list. A buffer
    that needs an env (HerReplayBuffer), or whose claimed size is over the entry limit, is set up with one slot
    of the plain buffer instead: predicting needs none, and the real choice is returned, to be put back on the
    model once it is set up, so that saving it (``zoo pull``) and resuming build the real one.
    """
    if "buffer_size" not in arguments:
        return {}
    chosen: dict[str, Any] = {"buffer_size": int(arguments["buffer_size"])}
    named = fallback.get("replay_buffer_class")
    buffer_class = resolve_untrusted(named, "replay_buffer_class", f"{name}: replay_buffer_class") if named else None
    kwargs = arguments.get("replay_buffer_kwargs")
    if isinstance(kwargs, str):  # the config's string form
        kwargs = arguments["replay_buffer_kwargs"] = parse_python_literal(kwargs, f"{name}: replay_buffer_kwargs")
    if buffer_class is None and isinstance(kwargs, dict) and {"goal_selection_strategy", "n_sampled_goal"} & set(kwargs):
        buffer_class = resolve_untrusted("HerReplayBuffer", "replay_buffer_class", name)  # only HER takes those
    per_transition = 2 * flatdim_entries(observation_space) + flatdim_entries(action_space) + 3
    too_big = chosen["buffer_size"] * per_transition > max_entries()
    needs_env = buffer_class is not None and buffer_class.__name__ == "HerReplayBuffer"
    if buffer_class is not None:
        chosen["replay_buffer_class"] = buffer_class
    if isinstance(kwargs, dict):
        chosen["replay_buffer_kwargs"] = dict(kwargs)
    if needs_env or too_big:
        arguments["buffer_size"] = 1
        arguments.pop("replay_buffer_kwargs", None)
    elif buffer_class is not None:
        arguments["replay_buffer_class"] = buffer_class
    else:
        chosen.pop("replay_buffer_kwargs", None)
    return chosen if (needs_env or too_big or buffer_class is not None) else {}


def flatdim_entries(space: spaces.Space) -> int:
    """Numbers one sample of ``space`` holds (a Dict's or Tuple's parts added up)."""
    if isinstance(space, spaces.Dict):
        return sum(flatdim_entries(part) for part in space.spaces.values())
    if isinstance(space, spaces.Tuple):
        return sum(flatdim_entries(part) for part in space.spaces)
    return _size(space.shape) if space.shape else 1



def _load_old_dqn_optimizer(model: Any, weights: dict, device: Any, path: Any, error: Exception) -> None:
    """DQN saved by SB3 < 2.4 listed the target network's parameters in its optimizer too: drop them."""
    groups = weights.get("policy.optimizer", {}).get("param_groups", [])
    n_params = len(model.policy.optimizer.param_groups[0]["params"]) if groups else 0
    if groups and len(groups[0]["params"]) == 2 * n_params:
        groups[0]["params"] = groups[0]["params"][:n_params]
        model.set_parameters(weights, exact_match=True, device=device)
    else:
        raise ZooError(f"{path}: the optimizer state does not fit the rebuilt policy ({error})") from error


# --------------------------------------------------------------------------------------------------
# Legacy spaces
# --------------------------------------------------------------------------------------------------

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _bounds_agree(saved: np.ndarray, env: np.ndarray) -> bool:
    """Equal bounds, where old gym's ±float32-max counts as gymnasium's ±inf."""
    saved, env = np.asarray(saved, dtype=np.float64), np.asarray(env, dtype=np.float64)
    legacy_inf = (np.abs(saved) >= 0.99 * _FLOAT32_MAX) & np.isinf(env) & (np.sign(saved) == np.sign(env))
    return bool(np.all((saved == env) | legacy_inf))


def same_space_but_legacy_bounds(saved: spaces.Space, env: spaces.Space) -> bool:
    """Whether ``saved`` is ``env`` but for bounds written as ±3.4e38 (old gym) where ``env`` has ±inf.

    Shapes, dtypes, sizes and every other bound must agree; Dict and Tuple spaces are compared part by part.
    """
    if type(saved) is not type(env):
        return False
    if isinstance(saved, spaces.Box):
        return (saved.shape == env.shape and saved.dtype == env.dtype
                and _bounds_agree(saved.low, env.low) and _bounds_agree(saved.high, env.high))
    if isinstance(saved, spaces.Dict):
        return saved.keys() == env.keys() and all(same_space_but_legacy_bounds(saved[k], env[k]) for k in saved.keys())
    if isinstance(saved, spaces.Tuple):
        return len(saved) == len(env) and all(same_space_but_legacy_bounds(a, b) for a, b in zip(saved, env))
    return saved == env


def adopt_env_spaces(model: Any, observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """Give ``model`` the env's own spaces where its saved ones differ only in legacy bounds, so that SB3's
    space check passes when a pulled legacy agent is resumed on today's env (``set_env``/``load(env=...)``)."""
    if model.observation_space != observation_space and same_space_but_legacy_bounds(model.observation_space, observation_space):
        model.observation_space = observation_space
        if getattr(model, "policy", None) is not None:
            model.policy.observation_space = observation_space
    if model.action_space != action_space and same_space_but_legacy_bounds(model.action_space, action_space):
        model.action_space = action_space
        if getattr(model, "policy", None) is not None:
            model.policy.action_space = action_space
