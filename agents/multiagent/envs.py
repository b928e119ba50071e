"""Gymnasium ids for every mpe2 scenario and lbforaging task, each made through the multi-agent adapter.

=====================================  ===============================================================
``mpe2/SCENARIO``                      an mpe2 scenario (``mpe2/simple_spread_v3``,
                                       ``mpe2/simple_speaker_listener_v4``, ``mpe2/simple_tag_v3`` ...);
                                       keyword arguments of ``gym.make`` (``--env-kwargs``) go to the
                                       scenario's constructor (``N``, ``local_ratio``, ``max_cycles``,
                                       ``continuous_actions`` ...)
``mpe2/SCENARIO-continuous``           the same scenario with ``continuous_actions=True`` (a Box action per
                                       agent), so that its agents have a Hub repository of their own
``lbforaging/TASK``                    an lbforaging task (``lbforaging/Foraging-8x8-2p-2f-coop-v3`` ...);
                                       keyword arguments override the task's ``ForagingEnv`` arguments
                                       (``max_episode_steps``, ``penalty`` ...)
=====================================  ===============================================================

:func:`multiagent_env_ids` lists them (``zoo/envs/__init__.py`` registers them with gymnasium);
:func:`make_mpe2` and :func:`make_lbforaging` are their entry points, :func:`make_multiagent` makes one by
its id without the registry. An unknown scenario, task or keyword
is refused with one line naming the nearest valid ones.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import re
from typing import Any

import gymnasium as gym

from agents.errors import ZooError
from agents.multiagent.adapter import MultiAgentEnv

MPE2_PREFIX = "mpe2/"
CONTINUOUS_SUFFIX = "-continuous"
LBF_PREFIX = "lbforaging/"
_SCENARIO = re.compile(r"^[a-z_]+_v\d+$")
_LBF_ENTRY = "lbforaging.foraging:ForagingEnv"


def mpe2_scenarios() -> list[str]:
    """The names of mpe2's scenario modules (``simple_spread_v3`` ...), found without importing them."""
    try:
        import mpe2
    except ImportError:
        return []
    return sorted(m.name for m in pkgutil.iter_modules(mpe2.__path__) if _SCENARIO.match(m.name))


def lbforaging_tasks() -> dict[str, dict[str, Any]]:
    """lbforaging's registered task ids and their ``ForagingEnv`` arguments (importing lbforaging registers them)."""
    try:
        import lbforaging  # noqa: F401
    except ImportError:
        return {}
    return {
        env_id: dict(spec.kwargs)
        for env_id, spec in gym.registry.items()
        if spec.entry_point == _LBF_ENTRY and not env_id.startswith(LBF_PREFIX)
    }


def multiagent_env_ids() -> dict[str, dict[str, Any]]:
    """Env id -> ``gym.register`` arguments of every mpe2 scenario and lbforaging task."""
    ids: dict[str, dict[str, Any]] = {}
    for scenario in mpe2_scenarios():
        ids[MPE2_PREFIX + scenario] = {"entry_point": "agents.multiagent.envs:make_mpe2", "kwargs": {"scenario": scenario}}
        ids[MPE2_PREFIX + scenario + CONTINUOUS_SUFFIX] = {
            "entry_point": "agents.multiagent.envs:make_mpe2", "kwargs": {"scenario": scenario, "continuous_actions": True}}
    for task in lbforaging_tasks():
        ids[LBF_PREFIX + task] = {"entry_point": "agents.multiagent.envs:make_lbforaging", "kwargs": {"task": task}}
    return ids


def _nearest(word: str, choices: list[str], n: int = 3) -> str:
    close = difflib.get_close_matches(word, choices, n=n, cutoff=0.5)
    return f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(choices[:12])}{' ...' if len(choices) > 12 else ''}"


def check_kwargs(where: str, given: dict[str, Any], accepted: list[str]) -> None:
    """Refuse keyword arguments not in ``accepted`` with one line naming the nearest ones."""
    for key in given:
        if key not in accepted:
            by_lower = {name.lower(): name for name in accepted}
            close = [by_lower[m] for m in difflib.get_close_matches(str(key).lower(), list(by_lower), n=3, cutoff=0.4)]
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ZooError(f"{where} takes no env kwarg {key!r}; {hint}it takes {', '.join(accepted)}")


def mpe2_module(scenario: str) -> Any:
    """The mpe2 scenario module (``simple_spread_v3``), or a one-line error naming the nearest scenarios."""
    scenarios = mpe2_scenarios()
    if not scenarios:
        raise ZooError("mpe2 is not installed: pip install mpe2")
    if scenario not in scenarios:
        raise ZooError(f"unknown mpe2 scenario {scenario!r}; {_nearest(scenario, scenarios)}")
    return importlib.import_module(f"mpe2.{scenario}")


def mpe2_parallel_env(scenario: str, **kwargs: Any) -> Any:
    """An mpe2 scenario's PettingZoo parallel env, its keyword arguments checked against the constructor."""
    module = mpe2_module(scenario)
    accepted = [name for name in inspect.signature(module.raw_env).parameters if name != "self"]
    check_kwargs(f"mpe2 scenario {scenario}", kwargs, accepted)
    try:
        return module.parallel_env(**kwargs)
    except (AssertionError, TypeError, ValueError) as error:
        raise ZooError(f"mpe2 scenario {scenario} refuses env kwargs {kwargs}: {error}") from None


def make_mpe2(scenario: str, **kwargs: Any) -> MultiAgentEnv:
    """Entry point of ``mpe2/SCENARIO``: the scenario's parallel env through the adapter.

    MPE's ``state()`` is the concatenation of the agents' observations, i.e. the joint observation, so the
    adapter gives the joint observation as ``info["state"]`` instead of computing it twice.

    :param scenario: mpe2 scenario module name (``simple_spread_v3``)
    :param kwargs: the scenario's constructor arguments (``N``, ``local_ratio``, ``max_cycles``,
        ``continuous_actions``, ``render_mode`` ...)
    """
    return MultiAgentEnv(mpe2_parallel_env(scenario, **kwargs), use_env_state=False)


def make_lbforaging(task: str, **kwargs: Any) -> MultiAgentEnv:
    """Entry point of ``lbforaging/TASK``: lbforaging's env with the task's arguments, through the adapter.

    :param task: lbforaging's env id (``Foraging-8x8-2p-2f-coop-v3``)
    :param kwargs: ``ForagingEnv`` arguments overriding the task's (``max_episode_steps``, ``penalty`` ...)
    """
    tasks = lbforaging_tasks()
    if not tasks:
        raise ZooError("lbforaging is not installed: pip install lbforaging")
    if task not in tasks:
        raise ZooError(f"unknown lbforaging task {task!r}; {_nearest(task, sorted(tasks))}")
    from lbforaging.foraging import ForagingEnv

    accepted = [name for name in inspect.signature(ForagingEnv.__init__).parameters if name != "self"]
    check_kwargs(f"lbforaging task {task}", kwargs, accepted)
    arguments = {**tasks[task], **kwargs}
    try:
        env = ForagingEnv(**arguments)
    except (AssertionError, TypeError, ValueError) as error:
        raise ZooError(f"lbforaging task {task} refuses env kwargs {kwargs}: {error}") from None
    return MultiAgentEnv(env, name=task)


def make_multiagent(env_id: str, **kwargs: Any) -> MultiAgentEnv:
    """An ``mpe2/...`` or ``lbforaging/...`` env by its id, without gymnasium's registry (for the agents layer).

    :param env_id: the env id
    :param kwargs: the scenario's or task's keyword arguments
    """
    if env_id.startswith(MPE2_PREFIX):
        scenario = env_id[len(MPE2_PREFIX):]
        if scenario.endswith(CONTINUOUS_SUFFIX):
            scenario, kwargs = scenario[: -len(CONTINUOUS_SUFFIX)], {"continuous_actions": True, **kwargs}
        return make_mpe2(scenario, **kwargs)
    if env_id.startswith(LBF_PREFIX):
        return make_lbforaging(env_id[len(LBF_PREFIX):], **kwargs)
    raise ZooError(f"{env_id!r} is not a multi-agent env id; they start with {MPE2_PREFIX} or {LBF_PREFIX}")
