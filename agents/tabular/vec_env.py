"""A ``DummyVecEnv`` for cheap envs: the same behaviour, without a deep copy of the infos every step.

SB3's ``DummyVecEnv`` deep-copies the infos and the observation buffers every step; for a toy-text
env (Taxi's info holds a NumPy action mask) those copies cost more than the env step and the
tabular update together. Every ``env.step`` returns a fresh info dict, so a new list of those dicts
is just as safe to hand out, and a plain copy of each observation array is a full copy.
The tabular agents wrap a plain gymnasium env (or env id) in this one; any SB3 ``VecEnv`` works too.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn
from stable_baselines3.common.vec_env.util import dict_to_obs


class LightDummyVecEnv(DummyVecEnv):
    """``DummyVecEnv`` returning a new list of the envs' (fresh) info dicts instead of a deep copy."""

    def step_wait(self) -> VecEnvStepReturn:
        for env_idx in range(self.num_envs):
            obs, reward, terminated, truncated, info = self.envs[env_idx].step(self.actions[env_idx])
            self.buf_rews[env_idx] = reward
            self.buf_dones[env_idx] = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            if terminated or truncated:
                info["terminal_observation"] = obs  # the true last observation; then start a new episode
                obs, self.reset_infos[env_idx] = self.envs[env_idx].reset()
            self.buf_infos[env_idx] = info
            self._save_obs(env_idx, obs)
        return self._obs_from_buf(), np.copy(self.buf_rews), np.copy(self.buf_dones), list(self.buf_infos)

    def _obs_from_buf(self) -> VecEnvObs:
        return dict_to_obs(self.observation_space, OrderedDict((key, buf.copy()) for key, buf in self.buf_obs.items()))
