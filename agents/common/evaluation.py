"""The evaluation hook: one way for every algorithm to report its figures.

Everything in the zoo that evaluates an agent (``zoo enjoy``, ``zoo push``'s ``results.json`` and model
card, the pretrained store's test, the benchmarks) calls :func:`evaluate_agent`. An algorithm family with
figures of its own (exact returns, per-agent returns, success rates, wins/draws/losses, planner time)
defines one method on its class::

    def evaluation_figures(self, request: EvaluationRequest) -> dict[str, float | int | str]:
        episodes = run_episodes(self, request)
        return {**summarise(episodes, request), "my_figure": ...}

and returns the whole dict: the standard keys (:data:`STANDARD_KEYS`) first, then its own. A class without
the method (SB3's and sb3-contrib's algorithms) gets :func:`standard_figures`. Nothing outside the family
needs to know which figures it adds: the card and ``zoo enjoy`` print every extra key they are given.
Figure names are flat strings; a ``/`` groups them (``agent_0/mean_reward``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.errors import ZooError

#: Keys every evaluation returns; anything else is a family's own figure.
STANDARD_KEYS = ("mean_reward", "std_reward", "n_eval_episodes", "is_deterministic", "mean_ep_length")


@dataclass
class EvaluationRequest:
    """What an evaluation is asked to do, and how to make the envs it needs.

    :param env_id: the env id the agent plays
    :param make_vec_env: builds a fresh one-env ``VecEnv`` as the agent was trained on it (config wrappers,
        a ``Monitor``, frozen normalisation statistics), seeded with ``seed``
    :param make_env: builds one plain ``gym.Env`` with the config's wrappers and no ``Monitor`` (for figures
        computed from the env itself, such as an exact return from a transition table)
    :param n_eval_episodes: episodes to play
    :param deterministic: play the deterministic policy
    :param seed: seed of the evaluation env
    """

    env_id: str
    make_vec_env: Callable[[], Any]
    make_env: Callable[[], Any]
    n_eval_episodes: int = 10
    deterministic: bool = True
    seed: int = 0


@dataclass
class Episodes:
    """The episodes of one evaluation.

    :param returns: each episode's return (the ``Monitor``'s, i.e. raw rewards)
    :param lengths: each episode's length in steps
    :param infos: each episode's ``info`` dicts, one per step, the last one from the step that ended it
    """

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    infos: list[list[dict[str, Any]]] = field(default_factory=list)


def run_episodes(model: Any, request: EvaluationRequest, evaluate: Callable[..., Any] | None = None,
                 **evaluate_kwargs: Any) -> Episodes:
    """Play ``request.n_eval_episodes`` episodes with SB3's ``evaluate_policy``, keeping every step's info.

    :param evaluate: another function with ``evaluate_policy``'s signature (sb3-contrib's masked one, for
        agents that honour action masks); default SB3's
    :param evaluate_kwargs: its extra arguments (``use_masking=True``)
    """
    from stable_baselines3.common.evaluation import evaluate_policy

    evaluate_policy = evaluate or evaluate_policy

    if request.n_eval_episodes < 1:
        raise ZooError(f"the number of evaluation episodes must be at least 1, not {request.n_eval_episodes}")
    episodes = Episodes()
    current: list[dict[str, Any]] = []

    def keep_info(local_vars: dict[str, Any], _globals: dict[str, Any]) -> None:
        current.append(dict(local_vars["info"]))
        if local_vars["done"]:
            episodes.infos.append(list(current))
            current.clear()

    env = request.make_vec_env()
    try:
        returns, lengths = evaluate_policy(model, env, n_eval_episodes=request.n_eval_episodes,
                                           deterministic=request.deterministic, return_episode_rewards=True,
                                           callback=keep_info, **evaluate_kwargs)
    finally:
        env.close()
    episodes.returns = [float(r) for r in returns]
    episodes.lengths = [int(n) for n in lengths]
    return episodes


def summarise(episodes: Episodes, request: EvaluationRequest) -> dict[str, Any]:
    """The standard figures of a set of episodes, plus ``success_rate`` when the env reports ``is_success``."""
    figures: dict[str, Any] = {
        "mean_reward": float(np.mean(episodes.returns)),
        "std_reward": float(np.std(episodes.returns)),
        "n_eval_episodes": int(len(episodes.returns)),
        "is_deterministic": bool(request.deterministic),
        "mean_ep_length": float(np.mean(episodes.lengths)),
    }
    finals = [infos[-1] for infos in episodes.infos if infos]
    if finals and all("is_success" in info for info in finals):
        figures["success_rate"] = float(np.mean([bool(info["is_success"]) for info in finals]))
    return figures


def standard_figures(model: Any, request: EvaluationRequest) -> dict[str, Any]:
    """What every algorithm reports: mean and std return, episodes, mean length (and success rate)."""
    return summarise(run_episodes(model, request), request)


def evaluate_agent(model: Any, request: EvaluationRequest) -> dict[str, Any]:
    """Evaluate ``model`` through its family's hook (``evaluation_figures``), else the standard figures."""
    hook = getattr(model, "evaluation_figures", None)
    figures = hook(request) if callable(hook) else standard_figures(model, request)
    missing = [key for key in ("mean_reward", "std_reward", "n_eval_episodes") if key not in figures]
    if missing:
        raise TypeError(f"{type(model).__name__}.evaluation_figures returned no {', '.join(missing)}")
    return figures


def extra_figures(figures: dict[str, Any]) -> dict[str, Any]:
    """A family's own figures: everything but the standard keys (and bookkeeping such as seed or dates)."""
    skip = set(STANDARD_KEYS) | {"algo", "env_id", "seed", "eval_datetime"}
    return {key: value for key, value in figures.items() if key not in skip}
