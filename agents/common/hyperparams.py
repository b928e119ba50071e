"""What a config entry may hold, known to every layer: the zoo's own keys, the algorithm's parameters, noise.

The application reads and checks configs (``zoo.config``); the Hub layer cleans downloaded ones
(``hub.loading``). Both need the same facts, so they live here, at the bottom.
"""

from __future__ import annotations

import inspect
from typing import Any

#: keys the zoo consumes itself; the rest go to the algorithm's constructor
ZOO_KEYS = frozenset({
    "n_timesteps", "policy", "n_envs", "normalize", "normalize_kwargs", "env_wrapper", "vec_env_wrapper",
    "frame_stack", "callback", "noise_type", "noise_std", "vec_env",
})
#: ``noise_type`` values, as in the RL Baselines3 Zoo
NOISE_TYPES = ("normal", "ornstein-uhlenbeck")
_NOT_HYPERPARAMETERS = ("self", "policy", "env")


def constructor_parameters(algo_class: type) -> dict[str, inspect.Parameter]:
    """Keyword arguments the algorithm's constructor takes, read through the class hierarchy.

    A subclass whose ``__init__`` takes ``**kwargs`` and passes them up (``DynaQ(QLearning)``) takes its
    bases' parameters too: the walk goes up the MRO while each ``__init__`` has a ``**kwargs``, and a
    parameter of a subclass wins over its base's.
    """
    found: dict[str, inspect.Parameter] = {}
    for cls in algo_class.__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        for name, param in params.items():
            if name in _NOT_HYPERPARAMETERS or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            found.setdefault(name, param)
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break
    return found


def make_action_noise(noise: tuple[str, float], n_actions: int) -> Any:
    """``noise_type``/``noise_std`` of a config as an SB3 action-noise object.

    :param noise: ``(noise_type, noise_std)``, ``noise_type`` one of :data:`NOISE_TYPES`
    :param n_actions: size of the (Box) action space
    """
    import numpy as np
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    noise_type, noise_std = noise
    noise_class = NormalActionNoise if noise_type == "normal" else OrnsteinUhlenbeckActionNoise
    return noise_class(mean=np.zeros(n_actions), sigma=noise_std * np.ones(n_actions))


def to_plain(value: Any) -> Any:
    """A value as plain YAML can hold it (classes and schedules become their names) for ``config.yml``."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
