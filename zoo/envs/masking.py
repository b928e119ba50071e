"""``zoo.envs.masking.AllActionsValid``, the name configs use; defined in :mod:`agents.common.masking`."""

from agents.common.masking import AllActionsValid, mask_size

__all__ = ["AllActionsValid", "mask_size"]
