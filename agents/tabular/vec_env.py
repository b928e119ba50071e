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
        if self.num_envs == 1:  # the common case, without the lists
            obs, reward, terminated, truncated, info = self.envs[0].step(self.actions[0])
            info["TimeLimit.truncated"] = truncated and not terminated
            if terminated or truncated:
                info["terminal_observation"] = obs
                obs, self.reset_infos[0] = self.envs[0].reset()
            return self._stack([obs]), np.array([reward], dtype=np.float32), np.array([terminated or truncated]), [info]
        observations, rewards, dones, infos = [], [], [], []
        for env_idx, env in enumerate(self.envs):
            obs, reward, terminated, truncated, info = env.step(self.actions[env_idx])
            info["TimeLimit.truncated"] = truncated and not terminated
            if terminated or truncated:
                info["terminal_observation"] = obs  # the true last observation; then start a new episode
                obs, self.reset_infos[env_idx] = env.reset()
            observations.append(obs)
            rewards.append(reward)
            dones.append(terminated or truncated)
            infos.append(info)
        return self._stack(observations), np.array(rewards, dtype=np.float32), np.array(dones, dtype=bool), infos

    def _stack(self, observations: list) -> VecEnvObs:
        """The batch of observations, as ``DummyVecEnv`` would return it (fresh arrays)."""
        if self.keys == [None]:  # not a Dict/Tuple space
            buf = self.buf_obs[None]
            batch = np.array(observations, dtype=buf.dtype)
            return batch if buf.ndim == 1 else batch.reshape(buf.shape)
        for env_idx, obs in enumerate(observations):
            self._save_obs(env_idx, obs)
        return dict_to_obs(self.observation_space, OrderedDict((key, buf.copy()) for key, buf in self.buf_obs.items()))
