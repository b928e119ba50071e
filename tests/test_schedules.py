"""Schedules of agents.common.schedules (SB3's progress_remaining convention, 1 -> 0)."""

from __future__ import annotations

import pickle

import pytest

from agents.common.schedules import (
    ConstantSchedule,
    ExponentialSchedule,
    LinearSchedule,
    exponential_schedule,
    linear_schedule,
    make_schedule,
)


def test_linear_reaches_final_at_end_fraction_and_stays():
    schedule = linear_schedule(1.0, 0.1, end_fraction=0.5)
    assert schedule(1.0) == 1.0
    assert schedule(0.75) == pytest.approx(0.55)
    assert schedule(0.5) == pytest.approx(0.1)
    assert schedule(0.0) == pytest.approx(0.1)
    assert linear_schedule(0.5)(0.0) == 0.0  # lin_0.5: down to 0 over the whole run


def test_exponential_multiplies_by_the_same_factor():
    schedule = exponential_schedule(1.0, 0.01, end_fraction=1.0)
    assert schedule(1.0) == pytest.approx(1.0)
    assert schedule(0.5) == pytest.approx(0.1)
    assert schedule(0.0) == pytest.approx(0.01)
    assert schedule(0.75) / schedule(1.0) == pytest.approx(schedule(0.25) / schedule(0.5))
    with pytest.raises(ValueError):
        ExponentialSchedule(1.0, 0.0)


def test_make_schedule_and_pickling():
    assert isinstance(make_schedule("linear", 0.3, None), ConstantSchedule)
    assert isinstance(make_schedule("exponential", 1.0, 0.1), ExponentialSchedule)
    schedule = make_schedule("linear", 1.0, 0.0, 0.2)
    assert isinstance(schedule, LinearSchedule)
    assert pickle.loads(pickle.dumps(schedule))(0.9) == schedule(0.9) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("cosine", 1.0, 0.0)
    with pytest.raises(ValueError):
        LinearSchedule(1.0, 0.0, end_fraction=0.0)
