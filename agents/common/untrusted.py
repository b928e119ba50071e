"""Names and sizes from files the user did not write: one allow-list resolver, one size limit.

A downloaded (or pulled) config or checkpoint names classes: env wrappers, callbacks, a replay buffer, a
policy, activation functions. Resolving such a name by importing it would let the file's author run code
(``os.system`` is a dotted name too), so every such name goes through :func:`resolve_untrusted`:

- for each key there is an exact table of allowed names (:func:`allowed_table`), built from modules the zoo
  trusts (gymnasium, Stable-Baselines3, sb3-contrib, torch, the zoo's own wrappers);
- the name is looked up in that table as written: nothing named by the file is imported, ever, and a
  name that is not in the table is refused with one line naming the file, the key, the name and what
  is allowed.

A user's own configs keep their freedom (``zoo.config.resolve_name`` imports what they name).

Sizes a download claims (a ``Discrete(10**12)`` observation space, a Box shape, a tabular agent's table)
are checked with :func:`check_entries` against :func:`max_entries` (10^8 by default; the environment
variable ``ZOO_MAX_ENTRIES`` or the command line's ``--max-entries`` change it) before anything is allocated.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import math
import os
from collections.abc import Iterable
from functools import cache
from typing import Any

from agents.errors import UnsafeCheckpointError, ZooError

# ---------------------------------------------------------------------------------------------- names

#: Short names the zoo's string forms (``"dict(activation_fn=nn.ReLU)"``) and checkpoints may use for classes
#: inside keyword arguments, and the ``module:Class`` each stands for.
ALLOWED_NAMES: dict[str, str] = {
    **{f"{prefix}.{name}": f"torch.nn:{name}" for prefix in ("nn", "th.nn", "torch.nn") for name in (
        "ReLU", "Tanh", "ELU", "LeakyReLU", "SiLU", "GELU", "Sigmoid", "Softplus", "Mish", "SELU", "Identity")},
    **{f"{prefix}.{name}": f"torch.optim:{name}" for prefix in ("optim", "th.optim", "torch.optim") for name in (
        "Adam", "AdamW", "RMSprop", "SGD")},
    **{name: f"stable_baselines3.common.buffers:{name}" for name in ("ReplayBuffer", "DictReplayBuffer")},
    "HerReplayBuffer": "stable_baselines3:HerReplayBuffer",
    "RMSpropTFLike": "stable_baselines3.common.sb2_compat.rmsprop_tf_like:RMSpropTFLike",
    "NatureCNN": "stable_baselines3.common.torch_layers:NatureCNN",
    "FlattenExtractor": "stable_baselines3.common.torch_layers:FlattenExtractor",
    "CombinedExtractor": "stable_baselines3.common.torch_layers:CombinedExtractor",
}

#: ``env_wrapper`` classes a download may name, by the module users write them under. Wrappers that
#: write files (RecordVideo, Monitor) or take code (TransformObservation and its kin) are left out.
_ENV_WRAPPERS: dict[str, tuple[str, ...]] = {
    "gymnasium.wrappers": (
        "TimeLimit", "ClipAction", "RescaleAction", "FlattenObservation", "FrameStackObservation",
        "GrayscaleObservation", "ResizeObservation", "ReshapeObservation", "RescaleObservation",
        "DtypeObservation", "FilterObservation", "TimeAwareObservation", "NormalizeObservation",
        "NormalizeReward", "ClipReward", "RecordEpisodeStatistics", "AtariPreprocessing", "StickyAction",
        "MaxAndSkipObservation", "DelayObservation", "OrderEnforcing", "PassiveEnvChecker",
    ),
    "stable_baselines3.common.atari_wrappers": (
        "AtariWrapper", "NoopResetEnv", "FireResetEnv", "EpisodicLifeEnv", "MaxAndSkipEnv", "WarpFrame",
        "ClipRewardEnv", "StickyActionEnv",
    ),
    "sb3_contrib.common.wrappers": ("TimeFeatureWrapper",),
    # the zoo's own, under the names configs use and where they are defined
    "zoo.envs.wrappers": ("DiscretizeObservation", "ObserveTime"),
    "agents.common.wrappers": ("DiscretizeObservation", "ObserveTime"),
    "zoo.envs.masking": ("AllActionsValid",),
    "agents.common.masking": ("AllActionsValid",),
    "agents.envs.goal_envs": ("GoalObservation",),
    "agents.envs.robotics": ("EndAtGoal",),
}
#: where the zoo's own wrappers are defined, for the names under ``zoo.envs.*``
_DEFINED_IN = {"zoo.envs.wrappers": "agents.common.wrappers", "zoo.envs.masking": "agents.common.masking"}

#: ``vec_env_wrapper`` classes a download may name (VecMonitor and VecVideoRecorder write files: left out).
_VEC_ENV_WRAPPERS: dict[str, tuple[str, ...]] = {
    "stable_baselines3.common.vec_env": ("VecFrameStack", "VecTransposeImage", "VecExtractDictObs", "VecCheckNan"),
}

#: ``callback`` classes a download may name. A downloaded config's callbacks are checked, then dropped (they
#: are training-time choices of the author's); the RL Baselines3 Zoo's own ones are known and dropped unread.
_CALLBACKS: dict[str, tuple[str, ...]] = {
    "stable_baselines3.common.callbacks": (
        "CheckpointCallback", "EvalCallback", "StopTrainingOnRewardThreshold", "StopTrainingOnMaxEpisodes",
        "StopTrainingOnNoModelImprovement", "ProgressBarCallback",
    ),
}
#: Callbacks of the RL Baselines3 Zoo (``rl_zoo3``, formerly ``utils``): known names, never imported.
KNOWN_FOREIGN_CALLBACKS = frozenset(
    f"{package}.callbacks.{name}" for package in ("rl_zoo3", "utils") for name in (
        "ParallelTrainCallback", "TrialEvalCallback", "SaveVecNormalizeCallback", "RawStatisticsCallback")
)

#: ``replay_buffer_class`` values a download may name.
_REPLAY_BUFFERS: dict[str, tuple[str, ...]] = {
    "stable_baselines3.common.buffers": ("ReplayBuffer", "DictReplayBuffer"),
    "stable_baselines3": ("HerReplayBuffer",),
    "stable_baselines3.her.her_replay_buffer": ("HerReplayBuffer",),
    "stable_baselines3.her": ("HerReplayBuffer",),
}

_BASE_CLASS = {
    "env_wrapper": ("gymnasium", "Wrapper"),
    "vec_env_wrapper": ("stable_baselines3.common.vec_env", "VecEnvWrapper"),
    "callback": ("stable_baselines3.common.callbacks", "BaseCallback"),
    "replay_buffer_class": ("stable_baselines3.common.buffers", "ReplayBuffer"),
}
_TABLES = {"env_wrapper": _ENV_WRAPPERS, "vec_env_wrapper": _VEC_ENV_WRAPPERS, "callback": _CALLBACKS,
           "replay_buffer_class": _REPLAY_BUFFERS}
#: the keys :func:`resolve_untrusted` knows; ``policy_kwargs`` covers every class inside keyword arguments
UNTRUSTED_KEYS = (*_TABLES, "policy_kwargs")


def _import_trusted(module: str, name: str) -> Any:
    """A class of a module the zoo trusts (a fixed module of its tables, never one named by a file)."""
    return getattr(importlib.import_module(_DEFINED_IN.get(module, module)), name)


@cache
def allowed_table(key: str) -> dict[str, type]:
    """Every name a download may use for ``key``, spelled as users write it (``module.Class``,
    ``module:Class``) and as Python prints it (``<defining module>.<Class>``), mapped to the class.

    Classes of optional packages that are not installed are left out. Each class is checked to be a
    subclass of what ``key`` needs (a gymnasium ``Wrapper`` for ``env_wrapper``, ...).
    """
    table: dict[str, type] = {}
    if key == "policy_kwargs":
        for short, target in ALLOWED_NAMES.items():
            module, name = target.split(":")
            cls = _import_trusted(module, name)
            for spelling in (short, f"{module}.{name}", target, f"{cls.__module__}.{cls.__qualname__}"):
                table[spelling] = cls
        return table
    if key not in _TABLES:
        raise KeyError(f"no allow-list for {key!r}; known: {', '.join(UNTRUSTED_KEYS)}")
    base_module, base_name = _BASE_CLASS[key]
    base = _import_trusted(base_module, base_name)
    for module, names in _TABLES[key].items():
        for name in names:
            try:
                cls = _import_trusted(module, name)
            except (ImportError, AttributeError):  # an optional package, or a class this version lacks
                continue
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise TypeError(f"allow-list for {key}: {module}.{name} is not a {base_name}")
            for spelling in (f"{module}.{name}", f"{module}:{name}", f"{cls.__module__}.{cls.__qualname__}"):
                table[spelling] = cls
            if key == "replay_buffer_class":  # configs write the bare name (replay_buffer_class: HerReplayBuffer)
                table[name] = cls
    return table


def _short_list(names: Iterable[str]) -> str:
    shown = sorted({name for name in names if ":" not in name})
    return ", ".join(shown[:6]) + (f" and {len(shown) - 6} more" if len(shown) > 6 else "")


def resolve_untrusted(name: Any, key: str, source: str) -> type:
    """The allowed class called ``name`` for ``key``, else an :class:`UnsafeCheckpointError` (nothing imported).

    :param name: the name as the file writes it (``gymnasium.wrappers.TimeLimit``, ``nn.ReLU``)
    :param key: what it is for: one of :data:`UNTRUSTED_KEYS`
    :param source: the file it comes from, for the message (``ORG/NAME/config.yml``)
    """
    table = allowed_table(key)
    if isinstance(name, str) and name in table:
        return table[name]
    close = difflib.get_close_matches(str(name), [n for n in table if ":" not in n], n=1, cutoff=0.8)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise UnsafeCheckpointError(
        f"{source}: {key} names {name!r}, which is not in the zoo's allow-list for downloaded files{hint}; "
        f"allowed: {_short_list(table)}"
    )


def is_known_foreign_callback(name: Any) -> bool:
    """Whether ``name`` is one of the RL Baselines3 Zoo's own callbacks (dropped from downloads, never imported)."""
    return isinstance(name, str) and name.replace(":", ".") in KNOWN_FOREIGN_CALLBACKS


# ------------------------------------------------------------------------------ the zoo's string forms

#: names that are constants in the zoo's string forms
_CONSTANTS = {"True": True, "False": False, "None": None}


def allowed_name(name: str, where: str) -> Any:
    """What a name of the zoo's string forms stands for: ``True``/``False``/``None`` or an allow-listed class."""
    if name in _CONSTANTS:
        return _CONSTANTS[name]
    if name not in ALLOWED_NAMES:
        close = difflib.get_close_matches(name, ALLOWED_NAMES, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ZooError(f"{where}: name {name!r} is not allowed{hint}")
    return allowed_table("policy_kwargs")[name]


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _literal(node: ast.AST, where: str) -> Any:
    """Evaluate an expression made only of literals, ``dict(...)`` and allowed names."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(item, where) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise ZooError(f"{where}: '**' is not allowed")
        return {_literal(k, where): _literal(v, where) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, where)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call) and _dotted(node.func) == "dict" and not node.args:
        if any(kw.arg is None for kw in node.keywords):
            raise ZooError(f"{where}: '**' is not allowed")
        return {kw.arg: _literal(kw.value, where) for kw in node.keywords}
    name = _dotted(node)
    if name is not None:
        return allowed_name(name, where)
    raise ZooError(f"{where}: only literals, dict(...) and known names are allowed, got {ast.unparse(node)!r}")


def parse_python_literal(text: str, where: str) -> Any:
    """Parse the zoo's Python-looking strings without evaluating them."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ZooError(f"{where}: cannot parse {text!r}") from None
    return _literal(tree.body, where)


# ---------------------------------------------------------------------------------------------- sizes

#: Default bound on the number of entries (array elements, table cells, discrete values) a download may claim.
DEFAULT_MAX_ENTRIES = 10**8
_max_entries: int | None = None


def max_entries() -> int:
    """The bound in force: :func:`set_max_entries`, else ``ZOO_MAX_ENTRIES``, else :data:`DEFAULT_MAX_ENTRIES`."""
    if _max_entries is not None:
        return _max_entries
    text = os.environ.get("ZOO_MAX_ENTRIES")
    if text is None:
        return DEFAULT_MAX_ENTRIES
    try:
        value = int(float(text))
    except ValueError:
        raise ZooError(f"ZOO_MAX_ENTRIES must be a positive number, got {text!r}") from None
    if value < 1:
        raise ZooError(f"ZOO_MAX_ENTRIES must be a positive number, got {text!r}")
    return value


def set_max_entries(value: int | None) -> None:
    """Set the bound for this process (``None``: back to ``ZOO_MAX_ENTRIES`` or the default)."""
    global _max_entries
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ZooError(f"--max-entries must be a positive integer, got {value!r}")
    _max_entries = value


def check_entries(count: int | float, what: str) -> None:
    """Refuse, with one line, a claimed size above :func:`max_entries` (before anything is allocated).

    :param count: the number of entries the download claims (may be astronomically large)
    :param what: what claims it (``observation_space Discrete(1000000000000)``)
    """
    limit = max_entries()
    if not math.isfinite(float(count)) or count > limit:
        shown = f"{count:.3g}" if isinstance(count, float) or count >= 10**6 else str(count)
        raise UnsafeCheckpointError(
            f"{what} claims {shown} entries, above the limit of {limit:.3g} for downloads; "
            "if you trust it, raise the limit with --max-entries N (or ZOO_MAX_ENTRIES=N)"
        )
