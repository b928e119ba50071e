"""Observation/return normalisation statistics without unpickling code.

Two forms of the same numbers:

- ``vec_normalize.pkl``: SB3 pickles the whole ``VecNormalize`` wrapper. :func:`read_vec_normalize_pkl`
  reads it with a restricted unpickler: numpy arrays and scalars are rebuilt, the classes it names
  (``VecNormalize``, ``RunningMeanStd``, spaces, random generators) become inert records of their
  fields, and any other global is refused before anything is called.
- ``vec_normalize.json``: the zoo's own, readable form (:func:`write_json` / :func:`read_json`).

Either way :class:`NormalizationStats` comes out, and :meth:`NormalizationStats.wrap` applies it.
"""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hub.safe_load import UnsafeCheckpointError
from agents.errors import ZooError

#: The zoo's pickle-free file name for normalisation statistics.
JSON_NAME = "vec_normalize.json"
#: Stable-Baselines3's (pickled) file name, as the RL Baselines3 Zoo and the Hub use it.
PKL_NAME = "vec_normalize.pkl"
_FORMAT = "agent-zoo/vec-normalize"


@dataclass
class RunningStats:
    """Mean, variance and count of a running estimate (SB3's ``RunningMeanStd``)."""

    mean: np.ndarray
    var: np.ndarray
    count: float

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": float(self.count),
                "shape": list(self.mean.shape)}

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> RunningStats:
        shape = tuple(entry.get("shape", np.shape(entry["mean"])))
        return cls(np.asarray(entry["mean"], dtype=np.float64).reshape(shape),
                   np.asarray(entry["var"], dtype=np.float64).reshape(shape), float(entry["count"]))

    def to_sb3(self) -> Any:
        from stable_baselines3.common.running_mean_std import RunningMeanStd

        rms = RunningMeanStd(shape=self.mean.shape)
        rms.mean, rms.var, rms.count = self.mean.copy(), self.var.copy(), self.count
        return rms


@dataclass
class NormalizationStats:
    """What ``VecNormalize`` needs to normalise like it did in training.

    :param obs_rms: observation statistics (one per key for dict observations), or None
    :param ret_rms: return statistics
    :param clip_obs: bound of normalised observations
    :param clip_reward: bound of normalised rewards
    :param gamma: discount used for the return statistics
    :param epsilon: added to the variance before dividing
    :param norm_obs: whether observations are normalised
    :param norm_reward: whether rewards were normalised in training
    :param norm_obs_keys: the dict-observation keys that are normalised
    """

    obs_rms: RunningStats | dict[str, RunningStats] | None
    ret_rms: RunningStats | None
    clip_obs: float = 10.0
    clip_reward: float = 10.0
    gamma: float = 0.99
    epsilon: float = 1e-8
    norm_obs: bool = True
    norm_reward: bool = True
    norm_obs_keys: list[str] | None = field(default=None)

    def wrap(self, venv: Any) -> Any:
        """``VecNormalize`` around ``venv`` with these statistics, frozen (``training=False``) and with
        raw rewards (``norm_reward=False``), as for evaluation."""
        from stable_baselines3.common.vec_env import VecNormalize

        wrapped = VecNormalize(
            venv, training=False, norm_obs=self.norm_obs, norm_reward=False, clip_obs=self.clip_obs,
            clip_reward=self.clip_reward, gamma=self.gamma, epsilon=self.epsilon, norm_obs_keys=self.norm_obs_keys,
        )
        if isinstance(self.obs_rms, dict):
            wrapped.obs_rms = {key: stats.to_sb3() for key, stats in self.obs_rms.items()}
        elif self.obs_rms is not None:
            wrapped.obs_rms = self.obs_rms.to_sb3()
        if self.ret_rms is not None:
            wrapped.ret_rms = self.ret_rms.to_sb3()
        return wrapped

    def to_sb3_pickle(self, env_id: str, env_kwargs: dict[str, Any] | None = None) -> bytes:
        """These statistics pickled the way ``VecNormalize.save`` writes them (``training=True``, as trained),
        for tools that expect ``vec_normalize.pkl``; made here from plain numbers, so it holds nothing else."""
        import gymnasium as gym
        from stable_baselines3.common.vec_env import DummyVecEnv

        venv = DummyVecEnv([lambda: gym.make(env_id, **(env_kwargs or {}))])
        wrapped = self.wrap(venv)
        wrapped.training, wrapped.norm_reward = True, self.norm_reward
        data = pickle.dumps(wrapped)  # VecNormalize.__getstate__ leaves the env out
        venv.close()
        return data

    @classmethod
    def from_vec_normalize(cls, vec_normalize: Any) -> NormalizationStats:
        """The statistics of a live ``VecNormalize``."""
        def stats(rms: Any) -> RunningStats:
            return RunningStats(np.asarray(rms.mean, dtype=np.float64), np.asarray(rms.var, dtype=np.float64),
                                float(rms.count))
        obs_rms = vec_normalize.obs_rms
        return cls(
            obs_rms={k: stats(v) for k, v in obs_rms.items()} if isinstance(obs_rms, dict) else stats(obs_rms),
            ret_rms=stats(vec_normalize.ret_rms), clip_obs=float(vec_normalize.clip_obs),
            clip_reward=float(vec_normalize.clip_reward), gamma=float(vec_normalize.gamma),
            epsilon=float(vec_normalize.epsilon), norm_obs=bool(vec_normalize.norm_obs),
            norm_reward=bool(vec_normalize.norm_reward), norm_obs_keys=getattr(vec_normalize, "norm_obs_keys", None),
        )


# --------------------------------------------------------------------------------------------------
# Restricted unpickling of vec_normalize.pkl
# --------------------------------------------------------------------------------------------------


class _Record:
    """Stands for an object of a class the pickle names: keeps the pickle's fields, runs nothing."""

    qualified_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> _Record:
        record = object.__new__(cls)
        record.__dict__["_args"] = args
        return record

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):  # (state, slots)
            state = {**(state[0] or {}), **state[1]}
        self.__dict__["_state"] = state if isinstance(state, dict) else {"_value": state}

    def get(self, key: str, default: Any = None) -> Any:
        return self.__dict__.get("_state", {}).get(key, default)


#: Classes that may appear in a vec_normalize.pkl; each becomes a :class:`_Record`.
_RECORD_CLASSES = {
    ("stable_baselines3.common.vec_env.vec_normalize", "VecNormalize"),
    ("stable_baselines3.common.running_mean_std", "RunningMeanStd"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    *((package + ".spaces." + module, name) for package in ("gym", "gymnasium") for module, name in (
        ("box", "Box"), ("discrete", "Discrete"), ("multi_discrete", "MultiDiscrete"),
        ("multi_binary", "MultiBinary"), ("dict", "Dict"), ("tuple", "Tuple"))),
}


def _dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise UnsafeCheckpointError("the normalisation pickle holds an object array; only numbers are allowed")
    return dtype


def _reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copyreg._reconstructor`` for records and builtin containers only."""
    if isinstance(cls, type) and issubclass(cls, _Record):
        return cls()
    if cls in (dict, list) and base is object:
        return cls()
    raise UnsafeCheckpointError(f"the normalisation pickle rebuilds {cls!r}, which is not allowed")


class _RestrictedUnpickler(pickle.Unpickler):
    """Allows numbers, strings, containers, numpy arrays, and the inert records of :data:`_RECORD_CLASSES`."""

    def find_class(self, module: str, name: str) -> Any:
        numpy_core = module in ("numpy.core.multiarray", "numpy._core.multiarray")
        if numpy_core and name == "_reconstruct":
            return (np._core if hasattr(np, "_core") else np.core).multiarray._reconstruct
        if numpy_core and name == "scalar":
            return _scalar
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return _dtype
        if module.startswith("numpy.dtypes") and name.endswith("DType") and "Object" not in name:
            return getattr(__import__("numpy.dtypes", fromlist=[name]), name)
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        if (module, name) == ("copyreg", "_reconstructor"):
            return _reconstructor
        if (module, name) in _RECORD_CLASSES:
            return type(name, (_Record,), {"qualified_name": f"{module}.{name}"})
        raise UnsafeCheckpointError(
            f"the normalisation pickle names {module}.{name}, which is not allowed (only numbers and arrays are)"
        )


def _scalar(dtype: np.dtype, data: bytes = b"") -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafeCheckpointError("the normalisation pickle holds a non-numeric scalar")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _stats(record: Any, what: str) -> RunningStats:
    if not isinstance(record, _Record):
        raise ZooError(f"vec_normalize.pkl: {what} is not running statistics")
    try:
        return RunningStats(np.asarray(record.get("mean"), dtype=np.float64),
                            np.asarray(record.get("var"), dtype=np.float64), float(record.get("count")))
    except (TypeError, ValueError) as error:
        raise ZooError(f"vec_normalize.pkl: {what} holds no numeric mean/var/count") from error


def read_vec_normalize_pkl(raw: bytes) -> NormalizationStats:
    """The statistics in SB3's pickled ``VecNormalize``, read without running any code it names."""
    try:
        root = _RestrictedUnpickler(io.BytesIO(raw)).load()
    except UnsafeCheckpointError:
        raise
    except Exception as error:
        raise ZooError(f"vec_normalize.pkl is unreadable ({type(error).__name__}: {error})") from error
    if not isinstance(root, _Record) or not root.qualified_name.endswith("VecNormalize"):
        raise ZooError("vec_normalize.pkl does not hold a VecNormalize")
    obs_rms = root.get("obs_rms")
    return NormalizationStats(
        obs_rms=({k: _stats(v, f"obs_rms[{k}]") for k, v in obs_rms.items()} if isinstance(obs_rms, dict)
                 else _stats(obs_rms, "obs_rms") if obs_rms is not None else None),
        ret_rms=_stats(root.get("ret_rms"), "ret_rms") if root.get("ret_rms") is not None else None,
        clip_obs=float(root.get("clip_obs", 10.0)), clip_reward=float(root.get("clip_reward", 10.0)),
        gamma=float(root.get("gamma", 0.99)), epsilon=float(root.get("epsilon", 1e-8)),
        norm_obs=bool(root.get("norm_obs", True)), norm_reward=bool(root.get("norm_reward", True)),
        norm_obs_keys=root.get("norm_obs_keys"),
    )


# --------------------------------------------------------------------------------------------------
# The zoo's JSON form
# --------------------------------------------------------------------------------------------------


def to_json(stats: NormalizationStats) -> str:
    """The statistics as readable JSON (floats written exactly)."""
    obs = stats.obs_rms
    body = {
        "format": _FORMAT, "version": 1,
        "obs_rms": {k: v.to_json() for k, v in obs.items()} if isinstance(obs, dict) else obs.to_json() if obs else None,
        "obs_rms_is_dict": isinstance(obs, dict),
        "ret_rms": stats.ret_rms.to_json() if stats.ret_rms else None,
        "clip_obs": stats.clip_obs, "clip_reward": stats.clip_reward, "gamma": stats.gamma,
        "epsilon": stats.epsilon, "norm_obs": stats.norm_obs, "norm_reward": stats.norm_reward,
        "norm_obs_keys": stats.norm_obs_keys,
    }
    return json.dumps(body, indent=1)


def from_json(text: str | bytes) -> NormalizationStats:
    """Statistics from :func:`to_json`'s output."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise ZooError(f"{JSON_NAME} is not JSON ({error})") from error
    if not isinstance(body, dict) or body.get("format") != _FORMAT:
        raise ZooError(f"{JSON_NAME} is not in the zoo's format ({_FORMAT})")
    obs = body.get("obs_rms")
    return NormalizationStats(
        obs_rms=({k: RunningStats.from_json(v) for k, v in obs.items()} if body.get("obs_rms_is_dict")
                 else RunningStats.from_json(obs) if obs else None),
        ret_rms=RunningStats.from_json(body["ret_rms"]) if body.get("ret_rms") else None,
        clip_obs=float(body["clip_obs"]), clip_reward=float(body["clip_reward"]), gamma=float(body["gamma"]),
        epsilon=float(body["epsilon"]), norm_obs=bool(body["norm_obs"]), norm_reward=bool(body["norm_reward"]),
        norm_obs_keys=body.get("norm_obs_keys"),
    )


def load_stats(folder: str | Path) -> NormalizationStats | None:
    """The statistics saved in ``folder``: the zoo's JSON form first, else the pickle (read restricted)."""
    folder = Path(folder)
    if (folder / JSON_NAME).is_file():
        return from_json((folder / JSON_NAME).read_text())
    for name in (PKL_NAME, "vecnormalize.pkl"):  # the Hub's name, then the run folder's
        if (folder / name).is_file():
            return read_vec_normalize_pkl((folder / name).read_bytes())
    return None

