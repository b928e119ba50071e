"""The multi-agent env adapter: many agents moving at once become one gymnasium env SB3 accepts.

:class:`MultiAgentEnv` wraps

* a PettingZoo ``ParallelEnv`` (every live agent acts at every step),
* a PettingZoo ``AECEnv`` whose agents move simultaneously (``metadata["is_parallelizable"]``; it goes
  through ``pettingzoo.utils.aec_to_parallel``). A turn-based AEC env (chess, tic-tac-toe) is refused
  with one line: the algorithms built on this adapter need simultaneous moves;
* a gymnasium env with ``Tuple`` observation and action spaces and a list of rewards, one per agent
  (the envs lbforaging registers, ``Foraging-8x8-2p-2f-coop-v3`` ...),

and presents them as one agent to SB3's VecEnvs, ``Monitor``, ``EvalCallback`` and ``evaluate_policy``.
It passes gymnasium's and SB3's ``check_env``. What the wrapped env sees and what SB3 sees:

=====================  ==================================================================================
observation            the agents' observations, each flattened to ``float32``, concatenated in agent
                       order into one ``Box`` (heterogeneous sizes allowed: ``simple_speaker_listener_v4``)
action                 all agents ``Discrete``: one ``MultiDiscrete`` (``nvec`` = each agent's ``n``);
                       all agents ``Box``: their flattened boxes concatenated into one ``Box``, rescaled
                       to ``[-1, 1]`` where the agent's bounds are finite (the adapter maps them back).
                       Agents mixing discrete and continuous actions are refused with one line.
reward                 the team reward: the sum of the agents' rewards
terminated/truncated   the episode ends when every agent has left; it counts as *terminated* when some
                       agent terminated at the last step, else as *truncated* (a time limit)
``info``               ``agent_rewards``: ``float32`` array, each agent's reward at this step;
                       ``agent_terminated``: ``bool`` array, the agents that have terminated (they stay
                       ``True`` once out; an agent cut by a time limit is not terminated);
                       ``active_agents``: ``bool`` array, the agents still in the episode *after* this
                       step (an agent that left early gets zeros as observation, 0 as reward, and its
                       action is not sent to the env);
                       ``state``: the global state, ``env.state()`` where the env has one, else the joint
                       observation (MPE's ``state()`` *is* the joint observation, so it is not recomputed);
                       ``action_mask``: where the env says which actions are available (lbforaging, or
                       PettingZoo observations ``{"observation", "action_mask"}``), a ``bool`` array of
                       shape ``(n_agents, max_n_actions)`` for the *next* step, ``False`` for padding
=====================  ==================================================================================

The same ``info`` keys come with :meth:`MultiAgentEnv.reset`. ``MultiAgentEnv.action_masks()`` gives the
masks flattened (``sum(nvec)`` booleans), as sb3-contrib's ``MaskablePPO`` reads them.

The structure algorithms need (agent ids, each agent's slice of the joint observation and action,
discrete or continuous, the state size) is :attr:`MultiAgentEnv.multiagent_spec`, a
:class:`MultiAgentSpec` of plain Python values, so an algorithm can store it in its checkpoint as JSON.
Reach it through any VecEnv with ``venv.get_attr("multiagent_spec")[0]``.

So PPO or SAC on the adapted env is a centralised baseline for free::

    from mpe2 import simple_spread_v3
    env = MultiAgentEnv(simple_spread_v3.parallel_env(continuous_actions=True))
    PPO("MlpPolicy", env).learn(100_000)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.errors import ZooError

#: The algorithm that plays turn-based games in the zoo (named in the refusal of turn-based envs).
TURN_BASED_ALGO = "mcts"


@dataclass
class MultiAgentSpec:
    """The structure of an adapted multi-agent env, in plain Python values (JSON-serialisable).

    :param agent_ids: the agents' names, in the order of the joint observation and action
    :param obs_sizes: each agent's flattened observation size
    :param discrete: ``True`` when every agent's action is ``Discrete``, ``False`` when every one is a ``Box``
    :param action_sizes: each agent's number of actions (discrete) or flattened action size (continuous)
    :param state_size: size of ``info["state"]``
    :param has_action_masks: whether ``info["action_mask"]`` is given
    :param name: the wrapped env's name
    :param state_is_observation: whether ``info["state"]`` is the joint observation (so the joint observation
        space's bounds are the state's)
    """

    agent_ids: list[str]
    obs_sizes: list[int]
    discrete: bool
    action_sizes: list[int]
    state_size: int
    has_action_masks: bool = False
    name: str = "multi-agent env"
    state_is_observation: bool = True

    @property
    def n_agents(self) -> int:
        return len(self.agent_ids)

    @property
    def obs_offsets(self) -> list[int]:
        """Where each agent's observation starts in the joint observation (and the total at the end)."""
        return list(np.cumsum([0, *self.obs_sizes]).tolist())

    @property
    def action_offsets(self) -> list[int]:
        """Where each agent's action starts in the joint action (discrete: in the one-hot joint action)."""
        return list(np.cumsum([0, *self.action_sizes]).tolist())

    def split_obs(self, joint_obs: np.ndarray) -> list[np.ndarray]:
        """Each agent's observation from joint observations of shape ``(..., sum(obs_sizes))``."""
        offsets = self.obs_offsets
        return [joint_obs[..., offsets[i] : offsets[i + 1]] for i in range(self.n_agents)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MultiAgentSpec:
        return cls(**data)


@dataclass
class _AgentSpaces:
    """What the adapter keeps of one agent's spaces."""

    obs_space: spaces.Space
    action_space: spaces.Space
    obs_key: str | None = None  # "observation" when the obs is a dict {"observation", "action_mask"}
    low: np.ndarray | None = field(default=None, repr=False)  # finite Box bounds for rescaling
    high: np.ndarray | None = field(default=None, repr=False)


def _env_name(env: Any) -> str:
    metadata = getattr(env, "metadata", None) or {}
    if metadata.get("name"):
        return str(metadata["name"])
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return str(spec.id)
    return type(getattr(env, "unwrapped", env)).__name__


def _is_pettingzoo_aec(env: Any) -> bool:
    try:
        from pettingzoo.utils.env import AECEnv
    except ImportError:  # pragma: no cover - pettingzoo is a dependency
        return False
    return isinstance(env, AECEnv)


def _is_pettingzoo_parallel(env: Any) -> bool:
    try:
        from pettingzoo.utils.env import ParallelEnv
    except ImportError:  # pragma: no cover
        return False
    return isinstance(env, ParallelEnv)


def refuse_turn_based(name: str, algo: str | None = None) -> ZooError:
    """The one-line refusal of a turn-based env."""
    who = f"{algo} needs" if algo else "the multi-agent adapter (and maddpg, qmix) needs"
    return ZooError(
        f"{name} is turn-based (its agents move one at a time); {who} simultaneous moves; "
        f"the zoo's {TURN_BASED_ALGO} plays turn-based games"
    )


class TupleGymParallelEnv:
    """A gymnasium env with ``Tuple`` spaces and list rewards (lbforaging) seen as a PettingZoo-style parallel env.

    Agents are named ``agent_0 .. agent_{n-1}``. lbforaging ends every episode with ``terminated=True``,
    also at its time limit; here an episode that ends with food left is *truncated* (the time limit), one
    that ends with all food collected is terminated, so value targets bootstrap correctly. lbforaging's
    available actions (``_valid_actions``) become action masks. Players' positions are cleared before each
    reset (lbforaging would otherwise let the previous episode's positions steer the new one, so a seeded
    reset did not repeat an episode).

    :param env: the gymnasium env (its ``observation_space`` and ``action_space`` are ``Tuple``)
    """

    def __init__(self, env: gym.Env):
        if not isinstance(env.observation_space, spaces.Tuple) or not isinstance(env.action_space, spaces.Tuple):
            raise ZooError(
                f"{_env_name(env)}: a multi-agent gymnasium env needs Tuple observation and action spaces, "
                f"got {type(env.observation_space).__name__} and {type(env.action_space).__name__}"
            )
        if len(env.observation_space.spaces) != len(env.action_space.spaces):
            raise ZooError(f"{_env_name(env)}: its Tuple spaces give different numbers of agents")
        self.env = env
        self.possible_agents = [f"agent_{i}" for i in range(len(env.action_space.spaces))]
        self.agents = list(self.possible_agents)
        self.metadata = dict(getattr(env, "metadata", {}) or {})
        self.metadata.setdefault("name", _env_name(env))
        self.render_mode = getattr(env, "render_mode", None)
        self._lbf = hasattr(env.unwrapped, "_valid_actions") and hasattr(env.unwrapped, "field")

    def observation_space(self, agent: str) -> spaces.Space:
        return self.env.observation_space.spaces[self.possible_agents.index(agent)]

    def action_space(self, agent: str) -> spaces.Space:
        return self.env.action_space.spaces[self.possible_agents.index(agent)]

    def _infos(self, info: dict[str, Any]) -> dict[str, dict[str, Any]]:
        infos: dict[str, dict[str, Any]] = {agent: dict(info) for agent in self.agents}
        if self._lbf:
            raw = self.env.unwrapped
            for agent, player in zip(self.possible_agents, raw.players):
                if agent in infos:
                    n = self.action_space(agent).n
                    mask = np.zeros(n, dtype=bool)
                    for action in raw._valid_actions.get(player, []):
                        mask[int(action.value)] = True
                    infos[agent]["action_mask"] = mask
        return infos

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        self.agents = list(self.possible_agents)
        if self._lbf:  # lbforaging places new players avoiding the last episode's positions: forget them,
            for player in self.env.unwrapped.players:  # so that a seed gives the same episode every time
                player.position = None
        obs, info = self.env.reset(seed=seed, options=options)
        return dict(zip(self.possible_agents, obs)), self._infos(info)

    def step(self, actions: dict[str, Any]):
        joint = tuple(actions.get(agent, 0) for agent in self.possible_agents)
        obs, rewards, terminated, truncated, info = self.env.step(joint)
        if np.isscalar(rewards):
            rewards = [float(rewards)] * len(self.possible_agents)
        done = bool(np.all(terminated)) if not np.isscalar(terminated) else bool(terminated)
        cut = bool(np.all(truncated)) if not np.isscalar(truncated) else bool(truncated)
        if done and self._lbf and int(self.env.unwrapped.field.sum()) > 0:
            done, cut = False, True  # lbforaging's time limit, not the end of the task
        infos = self._infos(info)
        out_obs = dict(zip(self.possible_agents, obs))
        out_rewards = {a: float(r) for a, r in zip(self.possible_agents, rewards)}
        terminations = {a: done for a in self.possible_agents}
        truncations = {a: cut and not done for a in self.possible_agents}
        if done or cut:
            self.agents = []
        return out_obs, out_rewards, terminations, truncations, infos

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self.env.close()


def to_parallel(env: Any, algo: str | None = None) -> Any:
    """A PettingZoo-style parallel env from a ParallelEnv, a simultaneous-move AEC env or a Tuple-space gym env.

    :param env: the env
    :param algo: name of the algorithm asking (for the refusal of turn-based envs)
    """
    if _is_pettingzoo_parallel(env):
        return env
    if _is_pettingzoo_aec(env):
        if not (env.metadata or {}).get("is_parallelizable", False):
            raise refuse_turn_based(_env_name(env), algo)
        from pettingzoo.utils.conversions import aec_to_parallel

        return aec_to_parallel(env)
    if isinstance(env, gym.Env):
        return TupleGymParallelEnv(env)
    raise ZooError(
        f"cannot adapt a {type(env).__name__}: the multi-agent adapter takes a PettingZoo ParallelEnv or AECEnv, "
        "or a gymnasium env with Tuple spaces"
    )


class MultiAgentEnv(gym.Env):
    """A multi-agent env as one gymnasium env (see the module docstring for what SB3 sees).

    :param env: a PettingZoo ``ParallelEnv``, a simultaneous-move ``AECEnv``, or a gymnasium env with
        ``Tuple`` spaces and list rewards
    :param use_env_state: put ``env.state()`` in ``info["state"]`` where the env has it (``False``: the
        joint observation, which is what MPE's ``state()`` returns anyway)
    :param algo: name of the algorithm asking, for the one-line refusal of a turn-based env
    :param name: the env's name in messages and in :attr:`multiagent_spec` (default: from its metadata)
    """

    def __init__(self, env: Any, use_env_state: bool = True, algo: str | None = None, name: str | None = None):
        super().__init__()
        self.parallel_env = to_parallel(env, algo)
        par = self.parallel_env
        self.agent_ids: list[str] = list(par.possible_agents)
        if not self.agent_ids:
            raise ZooError(f"{_env_name(par)} has no agents")
        self.name = name or _env_name(par)
        self.metadata = {"render_modes": list((par.metadata or {}).get("render_modes", [])),
                         "render_fps": (par.metadata or {}).get("render_fps", 30)}
        self.render_mode = getattr(par, "render_mode", None)
        self._agents = [self._agent_spaces(agent) for agent in self.agent_ids]

        # the joint observation
        lows, highs = [], []
        for spec in self._agents:
            box = spec.obs_space
            if isinstance(box, spaces.Box):
                lows.append(np.broadcast_to(box.low, box.shape).astype(np.float32).ravel())
                highs.append(np.broadcast_to(box.high, box.shape).astype(np.float32).ravel())
            else:
                size = spaces.flatdim(box)
                lows.append(np.full(size, -np.inf, np.float32))
                highs.append(np.full(size, np.inf, np.float32))
        self.obs_sizes = [len(low) for low in lows]
        self.observation_space = spaces.Box(np.concatenate(lows), np.concatenate(highs), dtype=np.float32)

        # the joint action
        kinds = {type(spec.action_space) for spec in self._agents}
        if kinds == {spaces.Discrete}:
            self.discrete = True
            self.action_sizes = [int(spec.action_space.n) for spec in self._agents]
            self._action_starts = [int(spec.action_space.start) for spec in self._agents]
            self.action_space = spaces.MultiDiscrete(self.action_sizes)
        elif kinds == {spaces.Box}:
            self.discrete = False
            lows, highs = [], []
            for spec in self._agents:
                box = spec.action_space
                low = np.broadcast_to(box.low, box.shape).astype(np.float32).ravel()
                high = np.broadcast_to(box.high, box.shape).astype(np.float32).ravel()
                if np.all(np.isfinite(low)) and np.all(np.isfinite(high)):
                    spec.low, spec.high = low, high
                    low, high = -np.ones_like(low), np.ones_like(high)
                lows.append(low)
                highs.append(high)
            self.action_sizes = [len(low) for low in lows]
            self.action_space = spaces.Box(np.concatenate(lows), np.concatenate(highs), dtype=np.float32)
        else:
            names = sorted({kind.__name__ for kind in kinds})
            raise ZooError(
                f"{self.name}: its agents' action spaces are {', '.join(names)}; the multi-agent adapter takes "
                "agents that all have Discrete or all have Box actions"
            )
        ends = np.cumsum(self.action_sizes)
        self._act_slices = [slice(int(end - n), int(end)) for end, n in zip(ends, self.action_sizes)]
        self._all_box_obs = all(isinstance(s.obs_space, spaces.Box) and s.obs_key is None for s in self._agents)
        if not self.discrete:  # the joint [-1, 1] -> each agent's [low, high], on the whole joint vector at once
            lows, half_ranges, rescaled, self._act_plain = [], [], [], []
            for spec, n in zip(self._agents, self.action_sizes):
                bounded = spec.low is not None
                lows.append(spec.low if bounded else np.zeros(n, np.float32))
                half_ranges.append(0.5 * (spec.high - spec.low) if bounded else np.zeros(n, np.float32))
                rescaled.append(np.full(n, bounded))
                self._act_plain.append(spec.action_space.shape == (n,) and spec.action_space.dtype == np.float32)
            self._act_low, self._act_half_range = np.concatenate(lows), np.concatenate(half_ranges)
            self._act_rescaled = np.concatenate(rescaled)
            self._all_rescaled = bool(self._act_rescaled.all())

        # the global state
        self._use_env_state = bool(use_env_state) and callable(getattr(par, "state", None))
        state_size = int(self.observation_space.shape[0])
        if self._use_env_state:
            state_space = getattr(par, "state_space", None)
            if state_space is not None:
                state_size = int(spaces.flatdim(state_space))
            else:
                self._use_env_state = False
        self._has_masks = (any(spec.obs_key is not None for spec in self._agents)
                           or (isinstance(par, TupleGymParallelEnv) and par._lbf))
        self._max_actions = max(self.action_sizes) if self.discrete else 0
        self.multiagent_spec = MultiAgentSpec(
            agent_ids=list(self.agent_ids),
            obs_sizes=[int(n) for n in self.obs_sizes],
            discrete=self.discrete,
            action_sizes=[int(n) for n in self.action_sizes],
            state_size=state_size,
            has_action_masks=bool(self._has_masks and self.discrete),
            name=self.name,
            state_is_observation=not self._use_env_state,
        )
        self._active = [True] * len(self.agent_ids)
        self._terminated = [False] * len(self.agent_ids)
        self._last_masks: np.ndarray | None = None

    # ------------------------------------------------------------------ spaces
    def _agent_spaces(self, agent: str) -> _AgentSpaces:
        obs_space = self.parallel_env.observation_space(agent)
        action_space = self.parallel_env.action_space(agent)
        key = None
        if isinstance(obs_space, spaces.Dict) and "observation" in obs_space.spaces and "action_mask" in obs_space.spaces:
            key, obs_space = "observation", obs_space.spaces["observation"]
        if not isinstance(action_space, (spaces.Discrete, spaces.Box)):
            raise ZooError(
                f"{_env_name(self.parallel_env)}: agent {agent} has a {type(action_space).__name__} action space; "
                "the multi-agent adapter takes Discrete or Box actions"
            )
        return _AgentSpaces(obs_space, action_space, key)

    # ------------------------------------------------------------------ conversions
    def _joint_obs(self, obs: dict[str, Any]) -> np.ndarray:
        if self._all_box_obs and all(self._active) and len(obs) == len(self.agent_ids):  # the common case, fast
            return np.concatenate([np.asarray(obs[agent], dtype=np.float32).ravel() for agent in self.agent_ids])
        parts = []
        for i, (agent, spec) in enumerate(zip(self.agent_ids, self._agents)):
            if agent in obs and self._active[i]:
                value = obs[agent][spec.obs_key] if spec.obs_key else obs[agent]
                if isinstance(spec.obs_space, spaces.Box):
                    parts.append(np.asarray(value, dtype=np.float32).ravel())
                else:
                    parts.append(np.asarray(spaces.flatten(spec.obs_space, value), dtype=np.float32))
            else:
                parts.append(np.zeros(self.obs_sizes[i], dtype=np.float32))
        return np.concatenate(parts)

    def _agent_actions(self, action: np.ndarray) -> dict[str, Any]:
        action = np.asarray(action)
        if self.discrete:
            return {agent: int(a) + start for agent, a, start, active
                    in zip(self.agent_ids, action.tolist(), self._action_starts, self._active) if active}
        joint = action.astype(np.float32)
        scaled = self._act_low + (np.minimum(np.maximum(joint, -1.0), 1.0) + 1.0) * self._act_half_range
        joint = scaled if self._all_rescaled else np.where(self._act_rescaled, scaled, joint)
        actions: dict[str, Any] = {}
        for i, (agent, spec, part) in enumerate(zip(self.agent_ids, self._agents, self._act_slices)):
            if self._active[i]:
                box = spec.action_space
                actions[agent] = joint[part] if self._act_plain[i] else joint[part].reshape(box.shape).astype(box.dtype)
        return actions

    def _masks(self, obs: dict[str, Any], infos: dict[str, Any]) -> np.ndarray | None:
        if not (self._has_masks and self.discrete):
            return None
        masks = np.zeros((len(self.agent_ids), self._max_actions), dtype=bool)
        for i, (agent, spec) in enumerate(zip(self.agent_ids, self._agents)):
            n = self.action_sizes[i]
            mask = None
            if spec.obs_key and agent in obs:
                mask = obs[agent]["action_mask"]
            elif agent in infos and "action_mask" in infos[agent]:
                mask = infos[agent]["action_mask"]
            if mask is None or not self._active[i]:
                masks[i, :n] = True  # an agent out of the episode: anything goes (its action is ignored)
            else:
                masks[i, :n] = np.asarray(mask, dtype=bool)[:n]
        return masks

    def _info(self, joint_obs: np.ndarray, rewards: np.ndarray, obs: dict[str, Any], infos: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "agent_rewards": rewards,
            "agent_terminated": np.array(self._terminated, dtype=bool),
            "active_agents": np.array(self._active, dtype=bool),
        }
        if self._use_env_state:
            info["state"] = np.asarray(self.parallel_env.state(), dtype=np.float32).ravel()
        else:
            info["state"] = joint_obs
        masks = self._masks(obs, infos)
        if masks is not None:
            info["action_mask"] = masks
        self._last_masks = masks
        return info

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, infos = self.parallel_env.reset(seed=seed, options=options)
        live = set(self.parallel_env.agents)
        self._active = [agent in live for agent in self.agent_ids]
        self._terminated = [False] * len(self.agent_ids)
        joint = self._joint_obs(obs)
        return joint, self._info(joint, np.zeros(len(self.agent_ids), dtype=np.float32), obs, infos or {})

    def step(self, action: np.ndarray):
        obs, rewards, terminations, truncations, infos = self.parallel_env.step(self._agent_actions(action))
        agent_rewards = np.array([float(rewards.get(agent, 0.0)) if active else 0.0
                                  for agent, active in zip(self.agent_ids, self._active)], dtype=np.float32)
        ended_by_termination = False
        for i, agent in enumerate(self.agent_ids):
            if self._active[i] and terminations.get(agent, False):
                self._terminated[i] = True
                ended_by_termination = True
        joint = self._joint_obs(obs)  # before updating who is active: the last observation of a leaving agent counts
        live = set(self.parallel_env.agents)
        for i, agent in enumerate(self.agent_ids):
            if self._active[i] and (terminations.get(agent, False) or truncations.get(agent, False) or agent not in live):
                self._active[i] = False
        episode_over = not any(self._active)
        terminated = episode_over and ended_by_termination
        truncated = episode_over and not ended_by_termination
        info = self._info(joint, agent_rewards, obs, infos or {})
        return joint, float(agent_rewards.sum()), terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """The available actions of the next step, flattened over agents (``sum(nvec)`` booleans, for MaskablePPO)."""
        if not self.discrete:
            raise ZooError(f"{self.name} has continuous actions: there are no action masks")
        if self._last_masks is None:
            return np.ones(int(sum(self.action_sizes)), dtype=bool)
        return np.concatenate([self._last_masks[i, :n] for i, n in enumerate(self.action_sizes)])

    def render(self):
        return self.parallel_env.render()

    def close(self) -> None:
        self.parallel_env.close()


def as_multiagent_env(env: Any, algo: str | None = None) -> gym.Env:
    """``env`` itself when it already is (or wraps) a :class:`MultiAgentEnv`, else ``MultiAgentEnv(env)``."""
    if isinstance(env, gym.Env):
        try:
            env.get_wrapper_attr("multiagent_spec")
            return env
        except AttributeError:
            pass
    return MultiAgentEnv(env, algo=algo)
