"""Multi-agent RL: the env adapter (:mod:`agents.multiagent.adapter`) and the env ids (:mod:`agents.multiagent.envs`)."""

from agents.multiagent.adapter import MultiAgentEnv, MultiAgentSpec, as_multiagent_env

__all__ = ["MultiAgentEnv", "MultiAgentSpec", "as_multiagent_env"]
