"""One SB3-faithful log dump for the zoo's own algorithms.

Stable-Baselines3's algorithms write the same keys on every dump, and dashboards (TensorBoard, W&B) are built
around them. :func:`dump_logs` writes those keys for any ``BaseAlgorithm`` of the zoo, so each algorithm only
records what is its own (losses, exploration rate) before calling it:

- ``rollout/ep_rew_mean``, ``rollout/ep_len_mean`` (from the Monitor's episodes),
- ``rollout/success_rate`` when the env reports ``is_success`` (counted at episode ends, as SB3 does),
- ``time/iterations`` (when given), ``time/fps``, ``time/time_elapsed``, ``time/total_timesteps``,
- ``train/learning_rate`` (the algorithm's schedule at the current progress).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from stable_baselines3.common.utils import safe_mean


def dump_logs(model: Any, iteration: int | None = None) -> None:
    """Record SB3's standard keys for ``model`` and dump everything recorded so far at its step count.

    :param model: the algorithm (a ``BaseAlgorithm`` whose ``learn`` has set up its buffers and start time)
    :param iteration: the rollout/update count, written as ``time/iterations`` when given
    """
    logger = model.logger
    elapsed = max((time.time_ns() - model.start_time) / 1e9, sys.float_info.epsilon)
    fps = int((model.num_timesteps - model._num_timesteps_at_start) / elapsed)
    if iteration is not None:
        logger.record("time/iterations", iteration, exclude="tensorboard")
    if model.ep_info_buffer is not None and len(model.ep_info_buffer) > 0:
        logger.record("rollout/ep_rew_mean", safe_mean([info["r"] for info in model.ep_info_buffer]))
        logger.record("rollout/ep_len_mean", safe_mean([info["l"] for info in model.ep_info_buffer]))
    if model.ep_success_buffer is not None and len(model.ep_success_buffer) > 0:
        logger.record("rollout/success_rate", safe_mean(model.ep_success_buffer))
    logger.record("time/fps", fps)
    logger.record("time/time_elapsed", int(elapsed), exclude="tensorboard")
    logger.record("time/total_timesteps", model.num_timesteps, exclude="tensorboard")
    if getattr(model, "lr_schedule", None) is not None:
        logger.record("train/learning_rate", float(model.lr_schedule(model._current_progress_remaining)))
    logger.dump(step=model.num_timesteps)
