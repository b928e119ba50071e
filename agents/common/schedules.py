"""Schedules: a value that changes as training goes on (learning rates, exploration rates).

Every schedule follows Stable-Baselines3's convention: it is called with ``progress_remaining``,
which goes from 1 (start of training) to 0 (end), and returns the value to use now. They are small
classes rather than closures so that they pickle (SB3 saves ``learning_rate`` with the model).

- :class:`LinearSchedule`: straight line from ``initial`` to ``final``, reached after ``end_fraction``
  of training, constant afterwards (SB3's ``exploration_fraction``; the zoo's ``lin_X`` strings).
- :class:`ExponentialSchedule`: geometric decay from ``initial`` to ``final`` over ``end_fraction``
  of training (the same factor every step), constant afterwards.

A per-episode decay uses the same classes, fed with ``1 - episodes_done / n_episodes``
(see :func:`make_schedule` and the tabular agents' ``epsilon_decay_per`` parameter).
"""

from __future__ import annotations

import math
from typing import Any


class ConstantSchedule:
    """The same value at every point of training.

    :param value: the value returned
    """

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def __call__(self, progress_remaining: float) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"ConstantSchedule({self.value})"


class LinearSchedule:
    """Linear interpolation from ``initial`` to ``final`` over the first ``end_fraction`` of training.

    :param initial: value at the start (``progress_remaining == 1``)
    :param final: value from ``end_fraction`` of training on
    :param end_fraction: fraction of training (in ``(0, 1]``) after which ``final`` is reached
    """

    def __init__(self, initial: float, final: float = 0.0, end_fraction: float = 1.0) -> None:
        if not 0.0 < end_fraction <= 1.0:
            raise ValueError(f"end_fraction must be in (0, 1], got {end_fraction}")
        self.initial = float(initial)
        self.final = float(final)
        self.end_fraction = float(end_fraction)

    def __call__(self, progress_remaining: float) -> float:
        elapsed = min(1.0, (1.0 - progress_remaining) / self.end_fraction)
        return self.initial + elapsed * (self.final - self.initial)

    def __repr__(self) -> str:
        return f"LinearSchedule({self.initial}, {self.final}, end_fraction={self.end_fraction})"


class ExponentialSchedule:
    """Geometric decay from ``initial`` to ``final`` over the first ``end_fraction`` of training.

    ``value = initial * (final / initial) ** elapsed`` where ``elapsed`` goes from 0 to 1: the value is
    multiplied by the same factor at each step. Both values must be positive.

    :param initial: value at the start (``progress_remaining == 1``), > 0
    :param final: value from ``end_fraction`` of training on, > 0
    :param end_fraction: fraction of training (in ``(0, 1]``) after which ``final`` is reached
    """

    def __init__(self, initial: float, final: float, end_fraction: float = 1.0) -> None:
        if initial <= 0 or final <= 0:
            raise ValueError(f"an exponential schedule needs positive values, got {initial} -> {final}")
        if not 0.0 < end_fraction <= 1.0:
            raise ValueError(f"end_fraction must be in (0, 1], got {end_fraction}")
        self.initial = float(initial)
        self.final = float(final)
        self.end_fraction = float(end_fraction)
        self._log_ratio = math.log(self.final / self.initial)

    def __call__(self, progress_remaining: float) -> float:
        elapsed = min(1.0, (1.0 - progress_remaining) / self.end_fraction)
        return self.initial * math.exp(elapsed * self._log_ratio)

    def __repr__(self) -> str:
        return f"ExponentialSchedule({self.initial}, {self.final}, end_fraction={self.end_fraction})"


def linear_schedule(initial: float, final: float = 0.0, end_fraction: float = 1.0) -> LinearSchedule:
    """A :class:`LinearSchedule` (``lin_0.5`` in a config is ``linear_schedule(0.5)``)."""
    return LinearSchedule(initial, final, end_fraction)


def exponential_schedule(initial: float, final: float, end_fraction: float = 1.0) -> ExponentialSchedule:
    """An :class:`ExponentialSchedule`."""
    return ExponentialSchedule(initial, final, end_fraction)


def make_schedule(
    kind: str, initial: float, final: float | None = None, end_fraction: float = 1.0
) -> ConstantSchedule | LinearSchedule | ExponentialSchedule:
    """The schedule named ``kind`` (``"constant"``, ``"linear"`` or ``"exponential"``).

    ``final=None`` (or equal to ``initial``) gives a constant schedule whatever ``kind`` says.
    """
    if final is None or final == initial or kind == "constant":
        return ConstantSchedule(initial)
    if kind == "linear":
        return LinearSchedule(initial, final, end_fraction)
    if kind == "exponential":
        return ExponentialSchedule(initial, final, end_fraction)
    raise ValueError(f"unknown schedule {kind!r}; use 'constant', 'linear' or 'exponential'")


def parse_schedule(value: Any) -> Any:
    """The RL Baselines3 Zoo's ``"lin_X"``: a schedule going linearly from X (start) to 0 (end).

    The one parser of that form (configs, tabular ``alpha``, downloaded configs). It returns SB3's own
    ``LinearSchedule``, so checkpoints saved with it load in plain SB3 too. Any other value passes through.
    """
    if isinstance(value, str) and value.startswith("lin_"):
        from stable_baselines3.common.utils import LinearSchedule as SB3LinearSchedule

        try:
            return SB3LinearSchedule(float(value[len("lin_"):]), 0.0, 1.0)
        except ValueError:
            return value  # not a number: left for the caller's type check to report
    return value
