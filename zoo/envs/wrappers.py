"""The zoo's observation wrappers under the name configs use (``zoo.envs.wrappers.ObserveTime``).

They are defined in the bottom layer, :mod:`agents.common.wrappers`; shipped configs and published agents'
``config.yml`` name them here, so this name stays.
"""

from agents.common.wrappers import DiscretizeObservation, ObserveTime, time_bin, time_limit

__all__ = ["DiscretizeObservation", "ObserveTime", "time_bin", "time_limit"]
