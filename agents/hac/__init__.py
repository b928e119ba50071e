"""HAC: Hierarchical Actor-Critic (Levy et al., ICLR 2019) on goal-conditioned envs."""

from agents.hac.hac import HAC
from agents.hac.policies import HACPolicy

__all__ = ["HAC", "HACPolicy"]
