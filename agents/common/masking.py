"""Action masks: for environments that have none (so MaskablePPO can train on them), and whether to pass them.

MaskablePPO asks its environment for ``action_masks()``: a flat boolean array with one entry per
choice of every action dimension (``True`` = allowed). Classic-control and Box2D environments
forbid nothing, so :class:`AllActionsValid` answers "everything is allowed"; with it MaskablePPO
behaves exactly like PPO. Use it from a config as::

    env_wrapper: zoo.envs.masking.AllActionsValid
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.errors import ZooError


def mask_size(action_space: spaces.Space) -> int:
    """Length of the flat action mask MaskablePPO expects for ``action_space``.

    :param action_space: a ``Discrete``, ``MultiDiscrete`` or ``MultiBinary`` space
    :return: ``n`` for Discrete, ``sum(nvec)`` for MultiDiscrete, ``2 * n`` for MultiBinary
    """
    if isinstance(action_space, spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, spaces.MultiDiscrete):
        return int(np.sum(action_space.nvec))
    if isinstance(action_space, spaces.MultiBinary):
        return 2 * int(np.prod(action_space.shape))
    raise ZooError(
        f"action masks need a Discrete, MultiDiscrete or MultiBinary action space, not {action_space}; "
        "pick an environment with discrete actions"
    )


class AllActionsValid(gym.Wrapper):
    """Give an environment an ``action_masks()`` method that allows every action.

    :param env: the environment to wrap (discrete action space)
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._mask = np.ones(mask_size(env.action_space), dtype=bool)

    def action_masks(self) -> np.ndarray:
        """The mask of allowed actions: all ``True``."""
        return self._mask.copy()


def passes_action_masks(model: Any, env: Any) -> bool:
    """Whether ``model`` should be evaluated with ``env``'s action masks (sb3-contrib's maskable evaluation).

    True when the model's ``predict`` takes ``action_masks`` (MaskablePPO, QMIX) and the env (or VecEnv) has
    an ``action_masks()`` method; such a model acts unmasked otherwise, and may pick an unavailable action.
    """
    from sb3_contrib.common.maskable.utils import is_masking_supported

    return "action_masks" in inspect.signature(model.predict).parameters and is_masking_supported(env)


def evaluate_policy_for(model: Any, env: Any) -> Callable[..., Any]:
    """SB3's ``evaluate_policy``, or sb3-contrib's maskable one where :func:`passes_action_masks` holds (same
    arguments; the maskable one passes the env's masks to ``predict``)."""
    if passes_action_masks(model, env):
        from sb3_contrib.common.maskable.evaluation import evaluate_policy as maskable_evaluate_policy

        return maskable_evaluate_policy
    from stable_baselines3.common.evaluation import evaluate_policy

    return evaluate_policy
