"""MADDPG: multi-agent DDPG with centralised critics (:mod:`agents.maddpg.maddpg`)."""

from agents.maddpg.maddpg import MADDPG, MultiAgentReplayBuffer
from agents.maddpg.policies import MADDPGPolicy

__all__ = ["MADDPG", "MADDPGPolicy", "MultiAgentReplayBuffer"]
