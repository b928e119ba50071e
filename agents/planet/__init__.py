"""PlaNet (Hafner et al., 2019): a recurrent state-space world model planned with CEM in latent space.

- :mod:`agents.planet.world_model`: the RSSM, encoders, decoders, reward model and the ELBO's KL term
- :mod:`agents.planet.planner`: CEM, every candidate rolled out in one batched computation
- :mod:`agents.planet.replay`: episodes and the sequence chunks sampled from them
- :mod:`agents.planet.planet`: the ``PlaNet`` algorithm (SB3 ``BaseAlgorithm``) and its policies
- :mod:`agents.planet.wrappers`: action repeat and 64x64 pixel observations
"""

from agents.planet.planet import PlaNet, PlaNetCnnPolicy, PlaNetPolicy

__all__ = ["PlaNet", "PlaNetCnnPolicy", "PlaNetPolicy"]
