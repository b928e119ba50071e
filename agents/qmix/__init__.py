"""QMIX, VDN and independent Q-learners for cooperative multi-agent envs (:mod:`agents.qmix.qmix`)."""

from agents.qmix.buffer import EpisodeBatch, EpisodeReplayBuffer
from agents.qmix.policies import QMixer, QMIXPolicy, QMIXRnnPolicy, VDNMixer
from agents.qmix.qmix import QMIX, qmix_loss

__all__ = ["QMIX", "QMIXPolicy", "QMIXRnnPolicy", "QMixer", "VDNMixer", "EpisodeBatch", "EpisodeReplayBuffer", "qmix_loss"]
