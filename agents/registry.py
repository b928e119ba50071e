"""The algorithm registry: every algorithm of the zoo by its short name.

Each entry names where the class lives (``"module:Class"``) and which action spaces it handles;
the class itself is imported only when it is asked for, so ``import agents`` stays cheap and
``zoo --help`` never pays for torch.

Adding an algorithm is one ``register(...)`` line at the bottom of this file.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.errors import ZooError

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

#: Names of the gymnasium space classes an algorithm may support.
ALL_ACTION_SPACES = ("Box", "Discrete", "MultiDiscrete", "MultiBinary")


@dataclass(frozen=True)
class AlgoSpec:
    """What the zoo knows about one algorithm before importing it.

    :param name: short, lower-case name used on the command line and for ``configs/NAME.yml``
    :param target: ``"package.module:ClassName"`` of a ``BaseAlgorithm`` subclass
    :param action_spaces: names of the action-space classes the algorithm supports
    :param off_policy: whether the algorithm keeps a replay buffer (saved with checkpoints)
    :param observation_spaces: names of the observation-space classes it supports, or ``None`` for any
    :param source: where the implementation comes from (``"sb3"``, ``"sb3-contrib"``, ``"zoo"``)
    """

    name: str
    target: str
    action_spaces: tuple[str, ...]
    off_policy: bool = False
    observation_spaces: tuple[str, ...] | None = None
    source: str = "zoo"

    @property
    def class_name(self) -> str:
        return self.target.split(":")[1]

    def load(self) -> type[BaseAlgorithm]:
        """Import and return the algorithm class."""
        module_name, class_name = self.target.split(":")
        return getattr(importlib.import_module(module_name), class_name)


ALGOS: dict[str, AlgoSpec] = {}


def register(
    name: str,
    target: str,
    action_spaces: tuple[str, ...],
    off_policy: bool = False,
    observation_spaces: tuple[str, ...] | None = None,
    source: str = "zoo",
) -> None:
    """Add an algorithm to the registry (see :class:`AlgoSpec` for the parameters)."""
    if name in ALGOS:
        raise ValueError(f"algorithm {name!r} is registered twice")
    unknown = set(action_spaces) - set(ALL_ACTION_SPACES)
    if unknown:
        raise ValueError(f"{name}: unknown action spaces {sorted(unknown)}")
    ALGOS[name] = AlgoSpec(name, target, tuple(action_spaces), off_policy, observation_spaces, source)


class UnknownAlgorithmError(ZooError, KeyError):
    """Raised for an algorithm name that is not registered; its message names the nearest ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def get_spec(name: str) -> AlgoSpec:
    """The registry entry for ``name`` (case-insensitive), or an error suggesting the nearest names."""
    key = name.lower().replace("-", "_")
    if key in ALGOS:
        return ALGOS[key]
    for spec in ALGOS.values():  # the class name works too: RecurrentPPO, QRDQN, ...
        if spec.class_name.lower() == key.replace("_", ""):
            return spec
    close = difflib.get_close_matches(key, ALGOS, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(ALGOS))}"
    raise UnknownAlgorithmError(f"unknown algorithm {name!r}; {hint}")


def get_class(name: str) -> type[BaseAlgorithm]:
    """The algorithm class registered under ``name``."""
    return get_spec(name).load()


_ON_POLICY_SPACES = ALL_ACTION_SPACES
_BOX = ("Box",)
_DISCRETE = ("Discrete",)

# Stable-Baselines3
register("a2c", "stable_baselines3:A2C", _ON_POLICY_SPACES, source="sb3")
register("ppo", "stable_baselines3:PPO", _ON_POLICY_SPACES, source="sb3")
register("dqn", "stable_baselines3:DQN", _DISCRETE, off_policy=True, source="sb3")
register("ddpg", "stable_baselines3:DDPG", _BOX, off_policy=True, source="sb3")
register("sac", "stable_baselines3:SAC", _BOX, off_policy=True, source="sb3")
register("td3", "stable_baselines3:TD3", _BOX, off_policy=True, source="sb3")
# sb3-contrib
register("trpo", "sb3_contrib:TRPO", _ON_POLICY_SPACES, source="sb3-contrib")
register("qrdqn", "sb3_contrib:QRDQN", _DISCRETE, off_policy=True, source="sb3-contrib")
register("tqc", "sb3_contrib:TQC", _BOX, off_policy=True, source="sb3-contrib")
register("ars", "sb3_contrib:ARS", ("Box", "Discrete"), source="sb3-contrib")
register("ppo_lstm", "sb3_contrib:RecurrentPPO", _ON_POLICY_SPACES, source="sb3-contrib")
register("ppo_mask", "sb3_contrib:MaskablePPO", ("Discrete", "MultiDiscrete", "MultiBinary"), source="sb3-contrib")
register("crossq", "sb3_contrib:CrossQ", _BOX, off_policy=True, source="sb3-contrib")
# The zoo's own algorithms (one line each)
register("reinforce", "agents.reinforce:REINFORCE", ("Box", "Discrete"))
register("exploration_bot", "agents.tabular.exploration_bot:ExplorationBot", _DISCRETE, observation_spaces=("Discrete", "Tuple", "Box"))
register("qlearning", "agents.tabular.qlearning:QLearning", _DISCRETE, observation_spaces=("Discrete", "Tuple", "Box"))
register("sarsa", "agents.tabular.sarsa:SARSA", _DISCRETE, observation_spaces=("Discrete", "Tuple", "Box"))
register("expected_sarsa", "agents.tabular.expected_sarsa:ExpectedSARSA", _DISCRETE, observation_spaces=("Discrete", "Tuple", "Box"))
register("dynaq", "agents.tabular.dyna_q:DynaQ", _DISCRETE, observation_spaces=("Discrete", "Tuple", "Box"))
register("a3c", "agents.a3c:A3C", ("Box", "Discrete"))
register("mcts", "agents.mcts:MCTS", _DISCRETE, observation_spaces=("Discrete", "Box", "Dict"))
register("maddpg", "agents.maddpg:MADDPG", ("Box", "MultiDiscrete"), off_policy=True, observation_spaces=("Box",))
register("planet", "agents.planet:PlaNet", _BOX, observation_spaces=("Box",))
register("qmix", "agents.qmix:QMIX", ("MultiDiscrete",), observation_spaces=("Box",))
register("hac", "agents.hac:HAC", _BOX, off_policy=True)
