"""MCTS: the UCT search against a hand-worked tree, negamax signs, the compiled search against the reference,
simulators against the envs they stand for, legality, and SB3's API."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch as th
import pytest

pytest.importorskip("numba")
pettingzoo_classic = pytest.importorskip("pettingzoo.classic")

from agents.errors import ZooError  # noqa: E402
from agents.mcts import MCTS, make_simulator  # noqa: E402
from agents.mcts import fast, reference  # noqa: E402
from agents.mcts.evaluation import match, model_player, play_game, random_player  # noqa: E402
from agents.mcts.simulators import BoardGameSimulator  # noqa: E402


class TinyGame:
    """Player 0 picks a: a=1 ends in a draw; a=0 lets player 1 pick b: b=0 player 1 wins, b=1 player 0 wins."""

    n_actions, n_players, stochastic = 2, 2, False

    def __init__(self) -> None:
        self.moves: list[int] = []

    def legal_actions(self) -> np.ndarray:
        return np.array([0, 1])

    def step(self, action: int, u: float = 0.0) -> tuple[float, int]:
        self.moves.append(int(action))
        if len(self.moves) == 2:  # player 1 moved: +1 to it when it wins, -1 when it hands the win over
            return (1.0 if action == 0 else -1.0), 0
        return 0.0, 0

    def is_terminal(self) -> bool:
        return self.moves == [1] or len(self.moves) == 2

    def to_move(self) -> int:
        return len(self.moves) % 2

    def snapshot(self) -> list[int]:
        return list(self.moves)

    def restore(self, snapshot: list[int]) -> None:
        self.moves = list(snapshot)


def test_uct_matches_a_hand_worked_tree():
    # Rollouts play the first legal move, so from player 1's node the rollout picks b=0: player 1 wins.
    # Sims 1-2 expand both root actions: Q(a=0) = -1 (negamax: player 1's +1 is player 0's -1), Q(a=1) = 0.
    # Sims 3-6: UCT with C=1 takes a=1 while -1 + sqrt(ln N) < sqrt(ln N / n1), true for N = 2, 3, 4, 5.
    for n, n1 in [(2, 1), (3, 2), (4, 3), (5, 4)]:
        assert -1 + math.sqrt(math.log(n)) < math.sqrt(math.log(n) / n1)
    root = reference.search(TinyGame(), 6, c_uct=1.0, seed=0, rollout_policy=lambda sim: 0)
    assert reference.root_visits(root, 2).tolist() == [1, 5]
    assert reference.root_values(root, 2).tolist() == [-1.0, 0.0]
    assert root.visits == 6 and root.edges[0].children[0].player == 1
    # with many simulations player 1's reply is searched too: b=0 (its win) is its most visited move
    root = reference.search(TinyGame(), 400, c_uct=1.0, seed=0)
    reply = root.edges[0].children[0]
    assert reference.best_action(root, [0, 1]) == 1
    assert reply.edges[0].visits > reply.edges[1].visits and reply.edges[0].total / reply.edges[0].visits == 1.0


def _tictactoe(moves: list[int]) -> BoardGameSimulator:
    sim = BoardGameSimulator("tictactoe")
    for move in moves:
        sim.step(move)
    return sim


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_negamax_wins_and_blocks(engine):
    def visits(sim):
        if engine == "reference":
            return reference.root_visits(reference.search(sim, 400, 1.4, seed=1), 9), None
        tree = fast.ArrayTree(401, 9)
        fast.run_search(sim, tree, 400, 1.4, np.array([1], dtype=np.uint64))
        return tree.root_visits(), tree.root_values()

    # X (to move) has 0 and 1: playing 2 wins at once
    counts, values = visits(_tictactoe([0, 4, 1, 5]))
    assert counts.argmax() == 2
    if values is not None:
        assert values[2] == 1.0  # a win is worth +1 to the mover, never -1
    # O (to move) must block X's 0-1-2 at 2
    counts, _ = visits(_tictactoe([0, 4, 1]))
    assert counts.argmax() == 2


def test_solver_proves_a_win_and_a_loss():
    # X to move with 0 and 1 (O has 4, 5): the move 2 wins on the spot, so the root is solved as won
    sim = _tictactoe([0, 4, 1, 5])
    root = reference.search(sim, 50, 1.4, seed=0, solve=True)
    assert root.proven == 1 and reference.root_proven(root, 9)[2] == -1  # O, to move after 2, has lost
    # X: 0, 4, 6 threatens 3 and 2 (a fork); O (1, 8), to move, has no win of its own: lost either way
    sim = _tictactoe([0, 1, 4, 8, 6])
    root = reference.search(sim, 2000, 1.4, seed=0, solve=True)
    assert root.proven == -1
    tree = fast.ArrayTree(2001, 9)
    fast.run_search(sim, tree, 2000, 1.4, np.array([0], dtype=np.uint64), solve=True)
    assert tree.node_proven[0] == -1


@pytest.mark.parametrize("case", ["tictactoe", "connect_four", "FrozenLake-v1", "CartPole-v1"])
def test_fast_search_matches_reference(case):
    if case in ("tictactoe", "connect_four"):
        sim, gamma, horizon, n, c = BoardGameSimulator(case), 1.0, np.inf, 300, 1.4
        sim.step(sim.legal_actions()[1])
    else:
        env = gym.make(case)
        obs, _ = env.reset(seed=3)
        sim, gamma, horizon, n, c = make_simulator(env), 0.95, 30, 300, 1.0
        sim.set_from_observation(obs)
        assert sim.stochastic == (case == "FrozenLake-v1")  # chance nodes on the slippery lake
    before = sim.snapshot()
    solve = sim.n_players == 2
    # with 3000 simulations the solver proves positions; decisive rollouts play wins on the spot
    for n_sim, decisive in ((n, False), (3000, False), (n, True)) if solve else ((n, False),):
        root = reference.search(sim, n_sim, c, seed=11, gamma=gamma, horizon=horizon, solve=solve, decisive=decisive)
        tree = fast.ArrayTree(n_sim + 1, sim.n_actions)
        fast.run_search(sim, tree, n_sim, c, np.array([11], dtype=np.uint64), gamma, horizon, solve=solve,
                        decisive=decisive)
        assert np.array_equal(sim.snapshot()[0], before[0])  # both leave the state as it was
        assert reference.root_visits(root, sim.n_actions).tolist() == tree.root_visits().tolist()
        np.testing.assert_allclose(reference.root_values(root, sim.n_actions), tree.root_values(), rtol=1e-12)
        assert reference.root_proven(root, sim.n_actions).tolist() == tree.root_proven().tolist()


@pytest.mark.parametrize("name", ["tictactoe_v3", "connect_four_v3"])
def test_board_simulator_follows_the_pettingzoo_game_and_restores_snapshots(name):
    env = getattr(pettingzoo_classic, name).env()
    rng = np.random.default_rng(0)
    for game in range(5):
        env.reset(seed=game)
        sim = make_simulator(env)
        obs, *_ = env.last()
        sim.set_from_observation(obs)
        snapshots = []
        while True:
            obs, _, terminated, _, _ = env.last()
            if terminated:
                break
            mine = sim.observation()
            assert np.array_equal(mine["observation"], obs["observation"])
            assert np.array_equal(mine["action_mask"], obs["action_mask"])
            snapshots.append((sim.snapshot(), obs))
            mover = env.agent_selection
            action = int(rng.choice(np.flatnonzero(obs["action_mask"])))
            reward, _ = sim.step(action)
            env.step(action)
            assert reward == max(env.rewards[mover], 0)  # +1 to the mover for a winning move
        assert sim.is_terminal()
        assert sim.returns().tolist() == [env.rewards[a] for a in env.possible_agents]
        # restoring a snapshot gives back that exact position, whatever was played after it
        state, obs = snapshots[len(snapshots) // 2]
        sim.restore(state)
        assert np.array_equal(sim.snapshot()[0], state[0])
        assert np.array_equal(sim.observation()["observation"], obs["observation"])
        # the state rebuilt from the observation alone is the same position
        rebuilt = make_simulator(env)
        rebuilt.set_from_observation(obs)
        assert np.array_equal(rebuilt.observation()["observation"], obs["observation"])
        assert rebuilt.legal_actions().tolist() == sim.legal_actions().tolist()


@pytest.mark.parametrize("env_id,kwargs", [("FrozenLake-v1", {"is_slippery": False}), ("Taxi-v4", {}),
                                           ("CliffWalking-v1", {}), ("DynaMaze-v0", {}), ("CartPole-v1", {})])
def test_mdp_simulators_step_like_the_env(env_id, kwargs):
    if env_id == "DynaMaze-v0":
        pytest.importorskip("zoo.envs")  # registers the zoo's own envs
        import zoo.envs  # noqa: F401
    env = gym.make(env_id, **kwargs)
    sim = make_simulator(env)
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=1)
    for _ in range(60):
        sim.set_from_observation(obs)
        if env_id == "CartPole-v1":
            sim.state[:4] = env.unwrapped.state  # the float64 state, not the float32 observation
        action = int(rng.integers(env.action_space.n))
        assert action in sim.legal_actions()
        reward, _ = sim.step(action)
        obs, env_reward, terminated, truncated, _ = env.step(action)
        assert reward == env_reward and sim.is_terminal() == terminated
        if env_id == "CartPole-v1":
            np.testing.assert_array_equal(sim.state[:4], env.unwrapped.state)
        else:
            assert sim.observation() == obs
        if terminated or truncated:
            obs, _ = env.reset()


def test_an_env_without_simulator_gets_one_line():
    with pytest.raises(ZooError, match="offers no simulator.*transition table"):
        make_simulator(gym.make("MountainCar-v0"))


def test_predict_on_pettingzoo_never_plays_an_illegal_move():
    for name, n_sim in [("tictactoe_v3", 30), ("connect_four_v3", 20)]:
        env = getattr(pettingzoo_classic, name).env()
        model = MCTS("MCTSPolicy", env, n_simulations=n_sim, seed=0)
        result = match(env, model_player(model), random_player(0), n_games=6)  # play_game raises on illegal moves
        assert result["wins"] + result["draws"] + result["losses"] == 6
        result = match(env, model_player(model, deterministic=False), random_player(1), n_games=2)
        assert result["wins"] + result["draws"] + result["losses"] == 2
        # a mask stricter than the board is obeyed too
        env.reset(seed=0)
        obs, *_ = env.last()
        obs = {"observation": obs["observation"], "action_mask": np.eye(len(obs["action_mask"]), dtype=np.int8)[3]}
        assert int(model.predict(obs)[0]) == 3


def test_mcts_plays_tictactoe_well():
    env = pettingzoo_classic.tictactoe_v3.env()
    model = MCTS("MCTSPolicy", env, n_simulations=1000, rollout_policy="decisive", seed=0)
    result = match(env, model_player(model), random_player(3), n_games=10)
    assert result["losses"] == 0 and result["wins"] >= 8
    rewards, _ = play_game(env, [model_player(model), model_player(model)], seed=0)
    assert rewards == [0.0, 0.0]  # perfect play draws


def test_save_load_keeps_settings_and_search(tmp_path):
    env = gym.make("FrozenLake-v1")
    model = MCTS("MCTSPolicy", env, n_simulations=64, c_uct=0.7, gamma=0.95, horizon=40, seed=5)
    obs, _ = env.reset(seed=0)
    first, _ = model.predict(obs)
    model.save(tmp_path / "mcts")
    loaded = MCTS.load(tmp_path / "mcts")
    assert (loaded.n_simulations, loaded.c_uct, loaded.gamma, loaded.horizon, loaded.env_id) == (64, 0.7, 0.95, 40, "FrozenLake-v1")
    assert loaded.predict(obs)[0] == first  # same seed, same search
    board = MCTS("MCTSPolicy", "tictactoe_v3", n_simulations=50, rollout_policy="decisive", seed=1)
    board.save(tmp_path / "ttt")
    loaded = MCTS.load(tmp_path / "ttt")
    assert loaded.board_game == "tictactoe_v3" and loaded.learn(100) is loaded
    assert loaded.rollout_policy == "decisive" and loaded.solving


def test_evaluate_policy_on_frozenlake():
    from stable_baselines3.common.evaluation import evaluate_policy

    env = gym.make("FrozenLake-v1", is_slippery=False)
    model = MCTS("MCTSPolicy", env, n_simulations=200, c_uct=0.5, gamma=0.95, horizon=30, seed=0)
    mean, std = evaluate_policy(model, model.get_env(), n_eval_episodes=3)
    assert (mean, std) == (1.0, 0.0)  # a random walk reaches the goal about 1.5% of the time


def test_evaluation_hook_figures():
    from agents.common.evaluation import EvaluationRequest, evaluate_agent

    model = MCTS("MCTSPolicy", "tictactoe_v3", n_simulations=200, seed=0)
    figures = evaluate_agent(model, EvaluationRequest("tictactoe_v3", None, None, n_eval_episodes=4))
    assert figures["vs_random/wins"] + figures["vs_random/draws"] + figures["vs_random/losses"] == 4
    assert figures["self_play/draws"] + figures["self_play/first_player_wins"] + figures["self_play/second_player_wins"] == 4
    assert figures["simulations_per_second"] > 0

    env = gym.make("FrozenLake-v1", is_slippery=False)
    model = MCTS("MCTSPolicy", env, n_simulations=100, c_uct=0.5, gamma=0.95, horizon=30, seed=0)
    from stable_baselines3.common.env_util import make_vec_env

    request = EvaluationRequest("FrozenLake-v1", lambda: make_vec_env("FrozenLake-v1", env_kwargs={"is_slippery": False}),
                                lambda: gym.make("FrozenLake-v1", is_slippery=False), n_eval_episodes=2)
    figures = evaluate_agent(model, request)
    assert figures["mean_reward"] == 1.0 and figures["success_rate"] == 1.0


def test_bad_settings_get_one_line():
    with pytest.raises(ZooError, match="n_simulations"):
        MCTS("MCTSPolicy", "tictactoe_v3", n_simulations=0)
    with pytest.raises(ZooError, match="engine"):
        MCTS("MCTSPolicy", "tictactoe_v3", engine="gpu")
    model = MCTS("MCTSPolicy", "tictactoe_v3", n_simulations=10)
    full = {"observation": np.zeros((3, 3, 2), dtype=np.int8), "action_mask": np.zeros(9, dtype=np.int8)}
    with pytest.raises(ZooError, match="no legal move"):
        model.predict(full)


def test_registered():
    from agents.registry import get_class

    assert get_class("mcts") is MCTS


class ConstantModel:
    """A stand-in for a zoo agent as rollout policy: always the same action."""

    def __init__(self, action: int) -> None:
        self.action = action

    def predict(self, observation, deterministic: bool = True):
        return np.full(np.shape(observation)[:1] if np.ndim(observation) else (), self.action), None


def test_a_model_as_rollout_policy():
    # Taxi: "south" forever never ends an episode; without a horizon the simulations still stop
    model = MCTS("MCTSPolicy", "Taxi-v4", n_simulations=5, rollout_policy=ConstantModel(0), seed=0)
    assert model._rollout_table.tolist() == [0] * 500
    assert 0 <= int(model.predict(0)[0]) < 6
    # a board game runs the model in Python (the reference search); illegal picks fall back to a legal move
    board = MCTS("MCTSPolicy", "tictactoe_v3", n_simulations=20, rollout_policy=ConstantModel(4), seed=0)
    obs = BoardGameSimulator("tictactoe").observation()
    assert int(board.predict(obs)[0]) in range(9)
    with pytest.raises(ZooError, match="rollout_policy"):
        MCTS("MCTSPolicy", "tictactoe_v3", rollout_policy="greedy")


# --- DP-UCT on transition tables (Bellman backups over (state, depth) nodes) ----------------------------------------


def _exact_finite_horizon_q(sim, state: int, gamma: float, horizon: int) -> np.ndarray:
    """Q(state, a) with ``horizon`` steps left, by backward induction over the whole table."""
    starts, counts, probs, next_states, rewards, dones = sim.params
    value = np.zeros(sim.n_states)
    for _ in range(horizon):
        q = np.zeros((sim.n_states, sim.n_actions))
        for s in range(sim.n_states):
            for a in range(sim.n_actions):
                rows = starts[s, a] + np.arange(counts[s, a])
                q[s, a] = np.sum(probs[rows] * (rewards[rows] + gamma * np.where(dones[rows] != 0, 0.0, value[next_states[rows]])))
        value = q.max(axis=1)
    return q[state]


@pytest.mark.parametrize("env_id,optimistic", [("FrozenLake-v1", True), ("FrozenLake-v1", False),
                                               ("CliffWalking-v1", True)])
def test_fast_dp_uct_matches_the_reference(env_id, optimistic):
    sim = make_simulator(gym.make(env_id))
    sim.state[0] = 0 if env_id == "FrozenLake-v1" else 36
    n, horizon = 300, 12
    graph = reference.bellman_search(sim, n, 1.0, 7, 1.0, horizon, optimistic)
    ref_visits, ref_q = reference.bellman_root(graph, int(sim.state[0]), sim.n_actions)
    table = fast.TableGraph(n + 1, sim.n_states, sim.n_actions, horizon)
    fast.run_bellman_search(sim, table, n, 1.0, np.array([7], dtype=np.uint64), 1.0, horizon, optimistic)
    visits, q = table.root()
    assert visits.tolist() == ref_visits.tolist()
    np.testing.assert_allclose(q, ref_q)
    assert table.n_nodes == len(graph)


def test_dp_uct_reaches_the_exact_finite_horizon_values_on_cliff_walking():
    sim = make_simulator(gym.make("CliffWalking-v1"))
    sim.state[0] = 36
    horizon = 15
    table = fast.TableGraph(20001, sim.n_states, sim.n_actions, horizon)
    fast.run_bellman_search(sim, table, 20000, 1.0, np.array([3], dtype=np.uint64), 1.0, horizon, True)
    _, q = table.root()
    exact = _exact_finite_horizon_q(sim, 36, 1.0, horizon)
    best = int(np.argmax(exact))
    assert q[best] == pytest.approx(exact[best])  # the best action's value is exact and it is chosen
    assert np.nanargmax(q) == best


def test_dp_uct_search_that_cannot_fit_is_refused():
    sim = make_simulator(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match="cannot hold"):
        fast.run_bellman_search(sim, fast.TableGraph(10, sim.n_states, sim.n_actions, 5), 100, 1.0,
                                np.array([1], dtype=np.uint64), 1.0, 5)


# --- DP-UCT through MCTS (backup="bellman") ----------------------------------------------------------------------


def test_mcts_bellman_backup_plays_the_exact_best_action_on_cliff_walking():
    sim = make_simulator(gym.make("CliffWalking-v1"))
    exact = _exact_finite_horizon_q(sim, 36, 1.0, 15)
    model = MCTS("MCTSPolicy", "CliffWalking-v1", n_simulations=20000, c_uct=1.0, horizon=15, backup="bellman", seed=3)
    action, _ = model.predict(36)
    assert int(action) == int(np.argmax(exact))
    actions, visits, values = model.bellman_search(36)
    assert values[int(np.argmax(exact))] == pytest.approx(exact.max())
    assert visits.sum() == 20000


def test_mcts_bellman_reference_engine_and_rollout_model():
    class GoRight:  # a rollout policy "model": always right (action 1 of CliffWalking)
        def predict(self, obs, deterministic=True):
            return np.ones(np.asarray(obs).shape, dtype=np.int64), None

    for kwargs in ({"engine": "reference"}, {"rollout_policy": GoRight()}, {"rollout_policy": GoRight(), "engine": "reference"}):
        model = MCTS("MCTSPolicy", "CliffWalking-v1", n_simulations=3000, c_uct=1.0, horizon=15, backup="bellman",
                     seed=0, **kwargs)
        assert model.optimistic == ("rollout_policy" not in kwargs)
        assert int(model.predict(36)[0]) == 0  # up: away from the cliff
        assert model.simulations_done == 3000


def test_mcts_bellman_save_load_and_evaluation_hook(tmp_path):
    from stable_baselines3.common.env_util import make_vec_env

    from agents.common.evaluation import EvaluationRequest, evaluate_agent

    env_kwargs = {"is_slippery": False}
    # gamma < 1: undiscounted, every path that reaches the goal within the horizon ties, and the agent may wait
    model = MCTS("MCTSPolicy", gym.make("FrozenLake-v1", **env_kwargs), n_simulations=500, c_uct=1.0, horizon=12,
                 gamma=0.95, backup="bellman", seed=5)
    model.save(tmp_path / "dp_uct")
    loaded = MCTS.load(tmp_path / "dp_uct", env=gym.make("FrozenLake-v1", **env_kwargs))
    assert (loaded.backup, loaded.horizon, loaded.n_simulations) == ("bellman", 12, 500)
    assert [int(loaded.predict(s)[0]) for s in range(15)] == [int(model.predict(s)[0]) for s in range(15)]
    request = EvaluationRequest("FrozenLake-v1", lambda: make_vec_env("FrozenLake-v1", env_kwargs=env_kwargs),
                                lambda: gym.make("FrozenLake-v1", **env_kwargs), n_eval_episodes=2)
    figures = evaluate_agent(loaded, request)
    assert figures["success_rate"] == 1.0 and figures["mean_reward"] == 1.0


@pytest.mark.parametrize("kwargs,message", [
    ({"env": "CartPole-v1", "horizon": 10}, "needs a transition table"),
    ({"env": "FrozenLake-v1"}, "set horizon"),
    ({"env": "FrozenLake-v1", "horizon": 10, "backup": "max"}, "backup must be one of mean, bellman"),
    ({"env": "FrozenLake-v1", "horizon": 10, "rollout_policy": "decisive"}, "for board games"),
])
def test_mcts_bellman_bad_settings_get_one_line(kwargs, message):
    kwargs = {"backup": "bellman", **kwargs}
    with pytest.raises(ZooError, match=message) as error:
        MCTS("MCTSPolicy", n_simulations=10, **kwargs)
    assert "\n" not in str(error.value)


def test_mcts_search_refuses_a_bellman_model():
    model = MCTS("MCTSPolicy", "FrozenLake-v1", n_simulations=10, horizon=5, backup="bellman")
    with pytest.raises(ZooError, match="bellman_search"):
        model.search(0)


# --- the AlphaZero-style prior (agents.mcts.alphazero) -------------------------------------------------------------


def _uniform(observation):
    mask = np.asarray(observation["action_mask"], dtype=bool)
    return mask / mask.sum(), 0.0


def _tictactoe_position(mover_cells, opponent_cells):
    planes = np.zeros((3, 3, 2), dtype=np.int8)
    for c in mover_cells:
        planes[c // 3, c % 3, 0] = 1
    for c in opponent_cells:
        planes[c // 3, c % 3, 1] = 1
    sim = BoardGameSimulator("tictactoe")
    sim.set_from_observation({"observation": planes})
    return sim


def test_puct_finds_the_win_and_the_block_with_an_uninformed_prior():
    from agents.mcts import alphazero

    # cell c is row c // 3, column c % 3 of the planes (the rules are the same whatever the orientation)
    win = _tictactoe_position([0, 1], [4, 8])  # the mover completes 0-1-2
    visits = alphazero.puct_search(win, _uniform, 200, 1.5)
    assert int(np.argmax(visits)) == 2
    block = _tictactoe_position([0, 8], [3, 4])  # the opponent threatens 3-4-5: only 5 saves the game
    visits = alphazero.puct_search(block, _uniform, 400, 1.5)
    assert int(np.argmax(visits)) == 5
    assert visits.sum() == 400 and visits[~block.observation()["action_mask"].astype(bool)].sum() == 0


def test_self_play_results_are_seen_by_each_mover():
    from agents.mcts import alphazero

    rng = np.random.default_rng(0)
    for _ in range(5):
        game = alphazero.self_play_game("tictactoe", _uniform, 20, 1.5, rng, 9, 1.0, 0.25)
        assert game.moves == len(game.planes) == len(game.pis) == len(game.outcomes)
        np.testing.assert_allclose(game.pis.sum(axis=1), 1.0)
        if game.outcomes[-1] != 0:  # a won game: the last mover won, and the results alternate
            assert game.outcomes[-1] == 1.0
            assert np.all(game.outcomes[::-1][1::2] == -1.0) and np.all(game.outcomes[::-1][::2] == 1.0)
        else:
            assert np.all(game.outcomes == 0.0)


def test_alphazero_learn_callbacks_save_load_and_legal_moves(tmp_path):
    from stable_baselines3.common.callbacks import BaseCallback

    class Count(BaseCallback):
        def __init__(self, stop_at=None):
            super().__init__()
            self.steps, self.games, self.stop_at = 0, 0, stop_at

        def _on_step(self) -> bool:
            self.steps += 1
            return self.stop_at is None or self.steps < self.stop_at

        def _on_rollout_end(self) -> None:
            self.games += 1

    model = MCTS("AlphaZeroPolicy", "tictactoe_v3", n_simulations=16, seed=0, gradient_steps=2, batch_size=32,
                 policy_kwargs={"hidden": 32})
    before = [p.detach().clone() for p in model.policy.parameters()]
    count = Count()
    model.learn(60, callback=count)
    assert count.steps == model.num_timesteps >= 60 and count.games == model._episode_num > 0
    assert any(not th.equal(a, b) for a, b in zip(before, model.policy.parameters()))  # the prior was trained
    stopper = Count(stop_at=3)
    model.learn(1000, callback=stopper)
    assert stopper.steps == 3 and model.num_timesteps == 3
    model.save(tmp_path / "az")
    loaded = MCTS.load(tmp_path / "az")
    assert type(loaded.policy).__name__ == "AlphaZeroPolicy" and loaded.policy.hidden == 32
    for a, b in zip(model.policy.state_dict().values(), loaded.policy.state_dict().values()):
        assert th.equal(a, b)
    env = pettingzoo_classic.tictactoe_v3.env()
    env.reset(seed=1)
    for agent in env.agent_iter():
        obs, _, term, trunc, _ = env.last()
        if term or trunc:
            env.step(None)
            continue
        action = int(loaded.predict(obs)[0])
        assert obs["action_mask"][action] == 1
        assert action == int(model.predict(obs)[0])
        env.step(action)


def test_alphazero_policy_is_for_board_games():
    with pytest.raises(ZooError, match="AlphaZeroPolicy plays the two-player board games"):
        MCTS("AlphaZeroPolicy", "FrozenLake-v1", n_simulations=10)


def test_pickle_free_load_gives_back_the_game_and_the_prior(tmp_path):
    import json
    import zipfile

    from agents.errors import UnsafeCheckpointError
    from hub.safe_load import load_sb3_zip

    model = MCTS("AlphaZeroPolicy", "connect_four_v3", n_simulations=8, seed=0, policy_kwargs={"hidden": 16})
    model.save(tmp_path / "az")
    loaded = load_sb3_zip(tmp_path / "az.zip", MCTS)
    assert (loaded.board_game, type(loaded.policy).__name__, loaded.policy.hidden) == ("connect_four_v3", "AlphaZeroPolicy", 16)
    for a, b in zip(model.policy.state_dict().values(), loaded.policy.state_dict().values()):
        assert th.equal(a, b)
    planner = MCTS("MCTSPolicy", "FrozenLake-v1", n_simulations=50, horizon=10, gamma=0.95, backup="bellman", seed=0)
    planner.save(tmp_path / "dp")
    again = load_sb3_zip(tmp_path / "dp.zip", MCTS)
    assert (again.env_id, again.backup, again.horizon) == ("FrozenLake-v1", "bellman", 10)
    # a name that is not a plain id is refused before anything uses it
    with zipfile.ZipFile(tmp_path / "az.zip") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    data["board_game"] = "../../etc/passwd"
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    with pytest.raises(UnsafeCheckpointError, match="board_game"):
        load_sb3_zip(tmp_path / "bad.zip", MCTS)


def test_zoo_train_self_play_then_enjoy_and_resume(tmp_path, capsys):
    """`zoo train` on a PettingZoo game: no training or evaluation env, learn() runs self-play with the
    checkpoint callback, the final evaluation is the hook's; the run is enjoyed and resumed like any other."""
    from zoo.cli import main

    logs = tmp_path / "logs"
    assert main(["train", "--algo", "mcts", "--env", "tictactoe_v3", "-f", str(logs), "--seed", "0", "-q",
                 "--eval-episodes", "2", "--hyperparams", "policy='AlphaZeroPolicy'", "n_timesteps=30",
                 "n_simulations=8", "batch_size=16", "policy_kwargs=dict(hidden=16)"]) == 0
    run = logs / "mcts" / "tictactoe_v3_1"
    out = capsys.readouterr().out
    assert f"Saved to {run}" in out and "Final evaluation: mean reward" in out
    trained = MCTS.load(run / "tictactoe_v3.zip")
    assert type(trained.policy).__name__ == "AlphaZeroPolicy" and 30 <= trained.num_timesteps < 40
    assert any((run / "checkpoints").glob("rl_model_*_steps.zip"))
    assert main(["enjoy", "--algo", "mcts", "--env", "tictactoe_v3", "-f", str(logs), "--n-episodes", "2"]) == 0
    assert f"from {run / 'tictactoe_v3.zip'}" in capsys.readouterr().out
    assert main(["train", "--resume", str(run), "-n", "50", "-q"]) == 0
    assert MCTS.load(run / "tictactoe_v3.zip").num_timesteps >= 50
    assert main(["train", "--algo", "ppo", "--env", "tictactoe_v3", "-f", str(logs), "-q"]) == 2  # not for PPO
    assert "tictactoe_v3" in capsys.readouterr().err


def test_self_play_buffer_keeps_the_last_positions_in_a_ring():
    from agents.mcts import alphazero

    model = MCTS("AlphaZeroPolicy", "tictactoe_v3", n_simulations=4, seed=0, buffer_size=10)

    def game(n: int, value: float) -> alphazero.SelfPlayGame:
        return alphazero.SelfPlayGame(np.full((n, 2, 3, 3), value, np.float32), np.zeros((n, 9), bool),
                                      np.full((n, 9), value, np.float32), np.full(n, value, np.float32), n)

    model._remember(game(4, 1.0))
    model._remember(game(8, 2.0))  # the last 10 positions: game 1's last two and all of game 2
    assert model._selfplay_size == 10
    assert sorted(model._selfplay[2].tolist()) == [1.0] * 2 + [2.0] * 8
    model._remember(game(15, 3.0))  # longer than the buffer: its last 10 positions
    assert all((part == 3.0).all() for part in model._selfplay) and model._selfplay_size == 10
