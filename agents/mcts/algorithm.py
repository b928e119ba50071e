"""``MCTS``: Monte Carlo tree search (UCT) on Stable-Baselines3's ``BaseAlgorithm`` API.

``predict(obs)`` rebuilds the state the observation describes in a :class:`~agents.mcts.simulators.Simulator`,
runs ``n_simulations`` simulations of UCT from it and plays the most visited action (``deterministic=False``:
an action drawn in proportion to the visits). There is nothing to learn: ``learn()`` records nothing and
returns the model; ``save``/``load`` keep the search settings.

The search itself lives in :mod:`agents.mcts.reference` (plain Python) and :mod:`agents.mcts.fast` (arrays,
compiled with numba); ``engine`` picks one. A rollout policy given as a model runs in Python (through the
reference search), except on a transition table, where its action in every state is read once into a
table the compiled search uses.

On a transition table, ``backup="bellman"`` searches with DP-UCT instead (Keller and Helmert, 2013): nodes
are (state, depth) pairs shared by every path that reaches them, each backup is a full Bellman backup over
the table's outcome probabilities, and new nodes start at an optimistic bound on the return that is left
(:func:`agents.mcts.reference.return_bound`) unless a rollout policy model values them. It plays the root
action of largest Q (ties: the most visited).

``MCTS("AlphaZeroPolicy", game)`` searches the board games with a learned policy-value network instead of
rollouts (PUCT, :mod:`agents.mcts.alphazero`), and ``learn()`` trains that network by self-play.
"""

from __future__ import annotations

import importlib
import time
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback
from stable_baselines3.common.utils import is_vectorized_observation
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from agents.errors import ZooError
from agents.mcts import alphazero, fast, reference
from agents.mcts.reference import return_bound
from agents.mcts.simulators import (BOARD_GAMES, BoardGameSimulator, KernelSimulator, TransitionTableSimulator,
                                    board_game_name, make_simulator)

SelfMCTS = TypeVar("SelfMCTS", bound="MCTS")

ENGINES = ("fast", "reference")
ROLLOUTS = ("random", "decisive")
BACKUPS = ("mean", "bellman")
#: the horizon of an MDP's simulations when none is set
MAX_HORIZON = 10_000


class MCTSPolicy(BasePolicy):
    """The policy of a planner without a learned part: no parameters; the search is in :class:`MCTS`.

    :param observation_space: the env's observation space
    :param action_space: ``Discrete``
    :param lr_schedule: unused (SB3 passes it to every policy)
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule: Any = None) -> None:
        super().__init__(observation_space, action_space)

    def forward(self, obs: th.Tensor, deterministic: bool = False) -> th.Tensor:
        return self._predict(obs, deterministic)

    def _predict(self, observation: Any, deterministic: bool = False) -> th.Tensor:
        raise ZooError("MCTSPolicy has no network: call MCTS.predict, which searches")


def make_board_game_env(name: str) -> Any:
    """A PettingZoo classic env by name (``"tictactoe_v3"``, ``"connect_four_v3"``)."""
    if name not in BOARD_GAMES:
        raise ZooError(f"unknown board game {name!r}; MCTS plays {', '.join(BOARD_GAMES)}")
    return importlib.import_module(f"pettingzoo.classic.{name}").env()


def _check_gym_id(env_id: str) -> str:
    """``env_id`` if gymnasium knows it, else a one-line error naming the nearest ids."""
    import difflib

    import gymnasium as gym

    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, [*BOARD_GAMES, *gym.registry], n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else f"MCTS plays {', '.join(BOARD_GAMES)} and gymnasium envs"
        raise ZooError(f"unknown environment {env_id!r}; {hint}")
    return env_id


def _is_pettingzoo_env(env: Any) -> bool:
    return hasattr(env, "possible_agents") and callable(getattr(env, "observation_space", None))


def best_by_value(values: np.ndarray, visits: np.ndarray) -> int:
    """Index of the best move of a DP-UCT root: the highest value (unvisited moves, ``nan``, last), ties by visits."""
    values = np.where(np.isnan(values), -np.inf, values)
    best = np.flatnonzero(values >= values.max() - 1e-12)
    return int(best[np.argmax(visits[best])])


class MCTS(BaseAlgorithm):
    """Monte Carlo tree search with UCT selection, random (or policy) rollouts and negamax backup.

    :param policy: ``"MCTSPolicy"`` (the search has no network)
    :param env: a PettingZoo classic ``tictactoe_v3``/``connect_four_v3`` env (or its name), a gymnasium env
        with a simulator (a toy-text env's transition table, CartPole-v1), an env id, or a ``VecEnv`` of one
        such env
    :param n_simulations: simulations per move
    :param c_uct: exploration constant ``C`` of ``Q + C sqrt(ln N / n)`` (scale it with the returns)
    :param gamma: discount of rewards along a simulation (1 for board games)
    :param horizon: the most steps a simulation looks ahead (tree and rollout together); ``None``: to the end
        (at most ``MAX_HORIZON`` steps in an MDP)
    :param rollout_policy: ``"random"`` (uniform legal moves), ``"decisive"`` (random, but a move that wins on
        the spot is always played; board games) or a model with SB3's ``predict`` (any zoo agent of the same
        env) whose greedy action is played in rollouts
    :param solve: in two-player deterministic games, mark won and lost positions (MCTS-Solver): solved
        nodes back up their exact value, and a won move is played, a lost one avoided
    :param engine: ``"fast"`` (compiled array search) or ``"reference"`` (the plain Python one)
    :param backup: ``"mean"`` (UCT: a node's value is the mean of the returns through it) or ``"bellman"``
        (DP-UCT on a transition table: nodes by (state, depth), Bellman backups over the outcome
        probabilities; needs a finite ``horizon``)
    :param simulator: a :class:`~agents.mcts.simulators.KernelSimulator` to search on, instead of the env's
    :param learning_rate: Adam's learning rate for the ``AlphaZeroPolicy`` network (a float or a schedule)
    :param batch_size: positions per gradient step of self-play training
    :param buffer_size: the most recent self-play positions kept for training
    :param gradient_steps: gradient steps after each self-play game
    :param temperature_moves: self-play moves drawn in proportion to the root visits (then the most visited)
    :param dirichlet_alpha: concentration of the Dirichlet noise in self-play's root priors
    :param root_noise: share of that noise in the root priors during self-play (0 when playing)
    :param policy_kwargs: arguments of the policy (``AlphaZeroPolicy``: ``hidden``, ``weight_decay``)
    :param tensorboard_log: unused (nothing is learned), kept for SB3's signature
    :param verbose: verbosity level
    :param seed: seed of the search's random numbers
    :param device: torch device (unused: the search runs on the CPU)
    :param _init_setup_model: whether to build the search at construction (``load`` builds it later)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MCTSPolicy": MCTSPolicy,
                                                             "AlphaZeroPolicy": alphazero.AlphaZeroPolicy}
    #: a planner plays without training (``zoo enjoy`` may build one from its config)
    needs_training: ClassVar[bool] = False
    #: given an id gymnasium does not know (a PettingZoo game), it makes its own env: ``zoo train`` then runs
    #: ``learn`` (self-play for ``AlphaZeroPolicy``) without training or evaluation envs
    builds_own_env: ClassVar[bool] = True
    #: plain ids a pickle-free loader gives back from a checkpoint's data (checked again in ``_setup_model``)
    text_attributes: ClassVar[tuple[str, ...]] = ("env_id", "board_game")

    def __init__(
        self,
        policy: str | type[MCTSPolicy] = "MCTSPolicy",
        env: GymEnv | str | Any = None,
        n_simulations: int = 1000,
        c_uct: float = 1.4,
        gamma: float = 1.0,
        horizon: int | None = None,
        rollout_policy: str | Any = "random",
        solve: bool = True,
        engine: str = "fast",
        backup: str = "mean",
        simulator: KernelSimulator | None = None,
        learning_rate: float | Any = 1e-3,
        batch_size: int = 256,
        buffer_size: int = 50_000,
        gradient_steps: int = 10,
        temperature_moves: int = 8,
        dirichlet_alpha: float = 1.0,
        root_noise: float = 0.25,
        policy_kwargs: dict[str, Any] | None = None,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        if isinstance(env, str):
            env = make_board_game_env(env) if env in BOARD_GAMES else _check_gym_id(env)
        self.board_game: str | None = None
        self._source_env: Any = None
        gym_env = env
        if env is not None and _is_pettingzoo_env(env):
            self.board_game = board_game_name(env)
            if self.board_game is None:
                raise ZooError(f"MCTS plays the PettingZoo games {', '.join(BOARD_GAMES)}, not "
                               f"{getattr(env, 'metadata', {}).get('name', type(env).__name__)}")
            self._source_env, gym_env = env, None
        super().__init__(policy, gym_env, learning_rate=learning_rate, policy_kwargs=policy_kwargs,
                         tensorboard_log=tensorboard_log, verbose=verbose,
                         device=device, seed=seed, support_multi_env=True,
                         supported_action_spaces=(spaces.Discrete,))
        if self.board_game is not None:
            agent = env.possible_agents[0]
            self.observation_space = env.observation_space(agent)
            self.action_space = env.action_space(agent)
        self.env_id = self.board_game or _env_id(self.env)
        self.n_simulations = int(n_simulations)
        self.c_uct = float(c_uct)
        self.gamma = float(gamma)
        self.horizon = None if horizon is None else int(horizon)
        self.rollout_policy = rollout_policy
        self.solve = bool(solve)
        self.engine = engine
        self.backup = backup
        self.simulator = simulator
        self.batch_size, self.buffer_size, self.gradient_steps = int(batch_size), int(buffer_size), int(gradient_steps)
        self.temperature_moves, self.dirichlet_alpha, self.root_noise = int(temperature_moves), float(dirichlet_alpha), float(root_noise)
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        if self.n_simulations < 1:
            raise ZooError(f"n_simulations must be at least 1, not {self.n_simulations}")
        if self.engine not in ENGINES:
            raise ZooError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.c_uct < 0 or not 0 <= self.gamma <= 1:
            raise ZooError(f"c_uct must be at least 0 and gamma in [0, 1]; got c_uct={self.c_uct}, gamma={self.gamma}")
        if self.horizon is not None and self.horizon < 1:
            raise ZooError(f"horizon must be at least 1 (or None), not {self.horizon}")
        if self.backup not in BACKUPS:
            raise ZooError(f"backup must be one of {', '.join(BACKUPS)}, not {self.backup!r}")
        if self.board_game is not None and self.board_game not in BOARD_GAMES:
            raise ZooError(f"unknown board game {self.board_game!r}; MCTS plays {', '.join(BOARD_GAMES)}")
        if self.env_id is not None and self.board_game is None and self.env_id not in BOARD_GAMES:
            _check_gym_id(self.env_id)
        self.set_random_seed(self.seed)
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % (1 << 63))
        self._rng = np.array([seed], dtype=np.uint64)
        self._py_seed = seed
        self._setup_lr_schedule()
        self.policy = self.policy_class(self.observation_space, self.action_space, self.lr_schedule,
                                        **self.policy_kwargs).to(self.device)
        if self.has_prior and self.board_game is None:
            raise ZooError(f"AlphaZeroPolicy plays the two-player board games {', '.join(BOARD_GAMES)}; "
                           f"use MCTSPolicy for {self.env_id or 'this env'}")
        if self.has_prior and self.backup != "mean":
            raise ZooError("AlphaZeroPolicy searches with PUCT on the board games: leave backup='mean'")
        if self.simulator is None:
            self.simulator = self._make_simulator()
        if not isinstance(self.action_space, spaces.Discrete) or int(self.action_space.n) != self.simulator.n_actions:
            raise ZooError(f"the simulator has {self.simulator.n_actions} actions but the action space is {self.action_space}")
        self._rollout_table, self._rollout_fn = self._rollout_setup()
        if self.backup == "bellman":
            self._setup_bellman()
        else:
            self.tree = fast.ArrayTree(self.n_simulations + 1, self.simulator.n_actions)
            if self.engine == "fast":  # compile the search now (seconds), not in the first move
                fast.warm_up(self.simulator, self._rollout_table)
        self.simulations_done = 0
        self.search_seconds = 0.0

    def _setup_bellman(self) -> None:
        """DP-UCT's graph and return bound, after checking that the env and the settings allow it."""
        sim = self.simulator
        if not isinstance(sim, TransitionTableSimulator):
            raise ZooError(f"backup='bellman' needs a transition table (a toy-text env with unwrapped.P), and "
                           f"{self.env_id or type(sim).__name__} has none; use backup='mean'")
        if self.horizon is None:
            raise ZooError("backup='bellman' searches to a fixed depth: set horizon (e.g. 30 for FrozenLake, 40 for Taxi)")
        if self.decisive:
            raise ZooError("rollout_policy='decisive' is for board games; with backup='bellman' use 'random' or a model")
        #: DP-UCT's nodes, by (state, depth), reused by every search of this model
        self.graph = fast.TableGraph(self.n_simulations + 1, sim.n_states, sim.n_actions, self.horizon)
        self._bound = return_bound(sim, self.gamma, self.horizon)
        if self.engine == "fast":  # compile now, not in the first move
            fast.warm_up_bellman(sim, self.optimistic, self._rollout_table)

    @property
    def optimistic(self) -> bool:
        """Whether DP-UCT values new nodes by the return bound (else by one rollout of the rollout policy model)."""
        return len(self._rollout_table) == 0

    def _make_simulator(self) -> KernelSimulator:
        if self._source_env is not None:
            return make_simulator(self._source_env)
        if isinstance(self.env, DummyVecEnv):
            return make_simulator(self.env.envs[0])
        if self.env_id in BOARD_GAMES:
            return make_simulator(make_board_game_env(self.env_id))
        if self.env_id is None:
            raise ZooError("this MCTS has no env to simulate: pass env= (to load: MCTS.load(path, env=...))")
        import gymnasium as gym

        env = gym.make(self.env_id)
        try:
            return make_simulator(env)
        finally:
            env.close()

    def _rollout_setup(self) -> tuple[np.ndarray, Any]:
        """The rollout policy as a table of actions (transition tables) or a function of the simulator."""
        policy = self.rollout_policy
        if policy is None or (isinstance(policy, str) and policy in ROLLOUTS):
            return np.zeros(0, dtype=np.int64), None
        if not callable(getattr(policy, "predict", None)):
            raise ZooError(f"rollout_policy must be {' or '.join(map(repr, ROLLOUTS))} or a model with predict(), "
                           f"got {policy!r}")
        if isinstance(self.simulator, TransitionTableSimulator):
            states = np.arange(self.simulator.n_states)
            actions, _ = policy.predict(states, deterministic=True)
            return np.asarray(actions, dtype=np.int64).reshape(-1), None

        def act(sim: KernelSimulator) -> int:
            action, _ = policy.predict(sim.observation(), deterministic=True)
            action = int(np.asarray(action).reshape(-1)[0])
            legal = sim.legal_actions()
            return action if action in legal else int(legal[0])

        return np.zeros(0, dtype=np.int64), act

    def _excluded_save_params(self) -> list[str]:
        excluded = [*super()._excluded_save_params(), "simulator", "tree", "graph", "_bound", "_source_env",
                    "_rollout_table", "_rollout_fn", "_rng", "_py_seed", "_np_random", "_selfplay",
                    "_selfplay_next", "_selfplay_size"]  # rebuilt from the settings and the seed by _setup_model
        if not isinstance(self.rollout_policy, str):  # a model is not saved with the planner: pass it to load()
            excluded.append("rollout_policy")
        return excluded

    # --- planning -----------------------------------------------------------------------------------------

    @property
    def has_prior(self) -> bool:
        """Whether the search leans on a learned policy-value network (``AlphaZeroPolicy``)."""
        return issubclass(self.policy_class, alphazero.AlphaZeroPolicy)

    @property
    def decisive(self) -> bool:
        """Whether rollouts play a move that wins on the spot (``rollout_policy="decisive"``)."""
        return isinstance(self.rollout_policy, str) and self.rollout_policy == "decisive"

    @property
    def solving(self) -> bool:
        """Whether the searches mark solved positions (``solve`` on a two-player deterministic game)."""
        return self.solve and self.simulator.n_players == 2 and not self.simulator.stochastic

    def _legal_moves(self, observation: Any) -> np.ndarray:
        """Put the simulator in the state ``observation`` describes; its legal moves (within its action mask)."""
        sim = self.simulator
        sim.set_from_observation(observation)
        legal = sim.legal_actions()
        if isinstance(observation, dict) and "action_mask" in observation:
            mask = np.asarray(observation["action_mask"]).reshape(-1).astype(bool)
            legal = legal[mask[legal]]
        if sim.is_terminal() or len(legal) == 0:
            raise ZooError("the game is over: there is no legal move to search from this observation")
        return legal

    def search(self, observation: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Search from the state ``observation`` describes.

        :return: the legal actions, their root visits and their solved values for the opponent (-1: the move
            wins, +1: it loses, 0: unknown)
        """
        if self.backup == "bellman":
            raise ZooError("this MCTS searches with backup='bellman': call bellman_search (or predict)")
        sim = self.simulator
        legal = self._legal_moves(observation)
        horizon = self.horizon
        if horizon is None:  # games always end; an MDP's rollout policy may walk in circles forever
            horizon = np.inf if sim.n_players == 2 else MAX_HORIZON
        start = time.perf_counter()
        if self.engine == "fast" and self._rollout_fn is None:
            fast.run_search(sim, self.tree, self.n_simulations, self.c_uct, self._rng, self.gamma, horizon,
                            self._rollout_table, self.solving, self.decisive)
            visits, proven = self.tree.root_visits(), self.tree.root_proven()
        else:
            self._py_seed += 1
            policy = self._rollout_fn
            if policy is None and len(self._rollout_table):
                table = self._rollout_table
                policy = lambda s: int(table[s.state[0]])  # noqa: E731
            root = reference.search(sim, self.n_simulations, self.c_uct, self._py_seed, self.gamma, horizon, policy,
                                    self.solving, self.decisive)
            visits, proven = reference.root_visits(root, sim.n_actions), reference.root_proven(root, sim.n_actions)
        self.search_seconds += time.perf_counter() - start
        self.simulations_done += self.n_simulations
        return legal, visits[legal], proven[legal]

    def bellman_search(self, observation: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """DP-UCT from the state ``observation`` describes (``backup="bellman"``).

        :return: the actions, their root visits and their root values ``Q`` (NaN for an action never tried)
        """
        sim = self.simulator
        sim.set_from_observation(observation)
        if sim.is_terminal():
            raise ZooError("the episode is over: there is no move to search from this observation")
        start = time.perf_counter()
        if self.engine == "fast":
            fast.run_bellman_search(sim, self.graph, self.n_simulations, self.c_uct, self._rng, self.gamma, self.horizon,
                                    self.optimistic, self._rollout_table, self._bound)
            visits, values = self.graph.root()
        else:
            self._py_seed += 1
            table = self._rollout_table
            policy = (lambda s: int(table[s.state[0]])) if len(table) else None  # noqa: E731
            state = int(sim.state[0])
            graph = reference.bellman_search(sim, self.n_simulations, self.c_uct, self._py_seed, self.gamma, self.horizon,
                                             self.optimistic, policy)
            visits, values = reference.bellman_root(graph, state, sim.n_actions)
        self.search_seconds += time.perf_counter() - start
        self.simulations_done += self.n_simulations
        return np.arange(sim.n_actions), visits, values

    def _choose_bellman(self, observation: Any, deterministic: bool) -> int:
        actions, visits, values = self.bellman_search(observation)
        if not deterministic and visits.sum() > 0:
            return int(self.np_random.choice(actions, p=visits / visits.sum()))
        return int(actions[best_by_value(values, visits)])

    def prior_search(self, observation: Any) -> tuple[np.ndarray, np.ndarray]:
        """PUCT with the policy-value network from the position ``observation`` describes: legal moves, visits."""
        sim = self.simulator
        legal = self._legal_moves(observation)
        start = time.perf_counter()
        self.policy.set_training_mode(False)
        visits = alphazero.puct_search(sim, self.policy.evaluate, self.n_simulations, self.c_uct)
        self.search_seconds += time.perf_counter() - start
        self.simulations_done += self.n_simulations
        return legal, visits[legal]

    def _choose(self, observation: Any, deterministic: bool) -> int:
        if self.backup == "bellman":
            return self._choose_bellman(observation, deterministic)
        if self.has_prior:
            legal, visits = self.prior_search(observation)
            if deterministic:
                return int(legal[int(np.argmax(visits))])
            return int(self.np_random.choice(legal, p=visits / visits.sum()))
        legal, visits, proven = self.search(observation)
        if (proven < 0).any():  # a move that wins
            legal, visits = legal[proven < 0], visits[proven < 0]
        elif (proven > 0).any() and not (proven > 0).all():  # never a move that loses while another exists
            legal, visits = legal[proven <= 0], visits[proven <= 0]
        if deterministic or visits.sum() == 0:
            return int(legal[int(np.argmax(visits))])
        return int(self.np_random.choice(legal, p=visits / visits.sum()))

    @property
    def np_random(self) -> np.random.Generator:
        if not hasattr(self, "_np_random"):
            self._np_random = np.random.default_rng(self.seed)
        return self._np_random

    def predict(
        self,
        observation: Any,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """The action found by searching from ``observation`` (one, or a ``VecEnv``'s batch), like SB3's predict.

        A board game's observation is what PettingZoo gives the player to move (``{"observation",
        "action_mask"}``); only legal actions are ever returned.
        """
        if self.board_game is not None:
            planes = np.asarray(observation["observation"] if isinstance(observation, dict) else observation)
            if planes.ndim == 4:  # a batch
                masks = observation.get("action_mask") if isinstance(observation, dict) else None
                actions = [self._choose({"observation": planes[i], **({"action_mask": masks[i]} if masks is not None else {})},
                                        deterministic) for i in range(len(planes))]
                return np.array(actions, dtype=np.int64), state
            return np.array(self._choose(observation, deterministic), dtype=np.int64), state
        try:
            vectorized = is_vectorized_observation(observation, self.observation_space)
        except ValueError as error:
            raise ZooError(f"observation {observation!r} does not fit {self.observation_space}: {error}") from None
        if not vectorized:
            return np.array(self._choose(observation, deterministic), dtype=np.int64), state
        batch = np.asarray(observation)
        actions = [self._choose(batch[i], deterministic) for i in range(len(batch))]
        return np.array(actions, dtype=np.int64), state

    @property
    def simulations_per_second(self) -> float:
        """Simulations per second over the searches so far (NaN before the first)."""
        return self.simulations_done / self.search_seconds if self.search_seconds > 0 else float("nan")

    # --- SB3's API ----------------------------------------------------------------------------------------

    def learn(
        self: SelfMCTS,
        total_timesteps: int = 0,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "MCTS",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfMCTS:
        """Without a prior nothing is learned: records nothing and returns the model. With ``AlphaZeroPolicy``:
        self-play games until ``total_timesteps`` moves were played (see :mod:`agents.mcts.alphazero`); the
        callbacks are called after every move, ``on_rollout_start``/``end`` around every game.
        """
        if not self.has_prior:
            return self
        callback = self._start_learning(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        callback.on_training_start(locals(), globals())
        rng = self.np_random
        self.policy.set_training_mode(False)
        while self.num_timesteps < self._total_timesteps:
            callback.on_rollout_start()
            stopped = False

            def on_move() -> bool:
                nonlocal stopped
                self.num_timesteps += 1
                callback.update_locals(locals())
                stopped = not callback.on_step()
                return not stopped

            game = alphazero.self_play_game(BOARD_GAMES[self.board_game], self.policy.evaluate, self.n_simulations, self.c_uct, rng,
                                            self.temperature_moves, self.dirichlet_alpha, self.root_noise, on_move)
            callback.on_rollout_end()
            if game is None or stopped:
                break
            self._episode_num += 1
            self._remember(game)
            self._update_current_progress_remaining(self.num_timesteps, self._total_timesteps)
            self._train_prior()
            self.logger.record("selfplay/games", self._episode_num, exclude="tensorboard")
            self.logger.record("selfplay/moves_per_game", game.moves)
            self.logger.record("selfplay/first_player_result", float(game.outcomes[0]))
            if log_interval is not None and self._episode_num % log_interval == 0:
                self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
                self.logger.dump(step=self.num_timesteps)
        callback.on_training_end()
        return self

    def _start_learning(self, total_timesteps: int, callback: MaybeCallback, reset_num_timesteps: bool,
                        tb_log_name: str, progress_bar: bool) -> Any:
        """SB3's ``_setup_learn`` without an env to reset (self-play needs none): counters, logger, callbacks."""
        from stable_baselines3.common import utils

        self.start_time = time.time_ns()
        if reset_num_timesteps:
            self.num_timesteps, self._episode_num = 0, 0
        self._total_timesteps = int(total_timesteps) + (0 if reset_num_timesteps else self.num_timesteps)
        self._num_timesteps_at_start = self.num_timesteps
        if not self._custom_logger:
            self._logger = utils.configure_logger(self.verbose, self.tensorboard_log, tb_log_name, reset_num_timesteps)
        return self._init_callback(callback, progress_bar)

    def _remember(self, game: alphazero.SelfPlayGame) -> None:
        """Write a game's positions into the self-play buffer: a ring of the last ``buffer_size`` positions."""
        parts = [part[-self.buffer_size:] for part in (game.planes, game.pis, game.outcomes)]
        if getattr(self, "_selfplay", None) is None:
            self._selfplay = tuple(np.zeros((self.buffer_size, *part.shape[1:]), np.float32) for part in parts)
            self._selfplay_next, self._selfplay_size = 0, 0
        index = (self._selfplay_next + np.arange(len(parts[0]))) % self.buffer_size
        for store, part in zip(self._selfplay, parts):
            store[index] = part
        self._selfplay_next = int(index[-1] + 1) % self.buffer_size
        self._selfplay_size = min(self._selfplay_size + len(index), self.buffer_size)

    def _train_prior(self) -> None:
        """``gradient_steps`` Adam steps on batches of the self-play buffer."""
        planes, pis, outcomes = self._selfplay
        size = self._selfplay_size
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses = []
        for _ in range(self.gradient_steps):
            index = self.np_random.integers(0, size, size=min(self.batch_size, size))
            value_loss, policy_loss = alphazero.alphazero_loss(self.policy.net, th.as_tensor(planes[index], device=self.device),
                                                               th.as_tensor(pis[index], device=self.device),
                                                               th.as_tensor(outcomes[index], device=self.device))
            self.policy.optimizer.zero_grad()
            (value_loss + policy_loss).backward()
            self.policy.optimizer.step()
            losses.append((value_loss.item(), policy_loss.item()))
        self.policy.set_training_mode(False)
        self._n_updates += self.gradient_steps
        self.logger.record("train/value_loss", float(np.mean([v for v, _ in losses])))
        self.logger.record("train/policy_loss", float(np.mean([p for _, p in losses])))
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")

    def evaluation_figures(self, request: Any) -> dict[str, Any]:
        """The evaluation hook: W/D/L against a random player and itself for board games, else mean +- std."""
        from agents.mcts.evaluation import board_game_figures, mdp_figures

        if self.board_game is not None:
            return board_game_figures(self, request)
        return mdp_figures(self, request)


def _env_id(env: VecEnv | None) -> str | None:
    if env is None:
        return None
    try:
        spec = env.get_attr("spec", indices=[0])[0]
    except (AttributeError, IndexError):
        return None
    return getattr(spec, "id", None)
