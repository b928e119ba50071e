"""MCTS: speed against OpenSpiel's MCTS bots, playing strength, and planning on MDPs, all in one run.

Needs the benchmark extra: ``pip install -e ".[bench]"`` (open_spiel 2.0.2). Figures:

1. **Speed**: simulations per second from the empty board, 1000 simulations per move, c = 2, random
   rollouts, on tic-tac-toe and connect four: ours (``MCTS.predict``, the compiled search; and the plain
   reference search) against OpenSpiel's C++ ``pyspiel.MCTSBot`` and Python ``mcts.MCTSBot``, timed in this
   process one after the other (rounds interleaved, the median of the rounds kept), as ratios.
2. **Strength**: tic-tac-toe against a perfect minimax player (a random one of its best moves) at 1000
   simulations, colours alternated (goal: 0 losses in 100 games); connect four against a random player at
   200 simulations (goal: >= 95% wins) and against OpenSpiel's C++ bot at 200 simulations each (goal: an even
   score or better, draws counting half, 50 games).
3. **Planning**: FrozenLake-v1 (slippery 4x4) success rate (goal 0.70; the optimum within 100 steps is 0.744),
   Taxi-v4 mean return (goal 7.5), CartPole-v1 return (goal 500), with the settings of ``configs/mcts.yml``:
   DP-UCT (``backup: bellman``) on FrozenLake and Taxi, against plain UCT (mean backups) in the same run;
   and with the zoo's pretrained Q-learning agent as rollout policy (its own figure, measured in the same run,
   is the reference). Every figure comes from the evaluation hook (``agents.common.evaluation``).

    nice -n 10 python benchmarks/mcts.py [--games-scale 1.0] [--out benchmarks/results/mcts.txt]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

from agents.mcts import MCTS
from agents.mcts import reference
from agents.mcts.evaluation import match, model_player, random_player
from agents.mcts.simulators import BoardGameSimulator, make_simulator

ROOT = Path(__file__).resolve().parent.parent
LINES: list[str] = []


def say(text: str = "") -> None:
    print(text, flush=True)
    LINES.append(text)


# --- 1. speed ---------------------------------------------------------------------------------------------------

def time_ours(game: str, n_moves: int, engine: str = "fast") -> float:
    model = MCTS("MCTSPolicy", f"{game}_v3", n_simulations=1000, c_uct=2.0, seed=0, engine=engine)
    obs = BoardGameSimulator(game).observation()
    start = time.perf_counter()
    for _ in range(n_moves):
        model.predict(obs)
    return 1000 * n_moves / (time.perf_counter() - start)


def time_openspiel(game: str, n_moves: int, cpp: bool) -> float:
    import pyspiel
    from open_spiel.python.algorithms import mcts

    spiel_game = pyspiel.load_game({"tictactoe": "tic_tac_toe", "connect_four": "connect_four"}[game])
    if cpp:
        bot = pyspiel.MCTSBot(spiel_game, pyspiel.RandomRolloutEvaluator(1, 0), 2.0, 1000, 1000, False, 0, False)
    else:
        bot = mcts.MCTSBot(spiel_game, 2.0, 1000, mcts.RandomRolloutEvaluator(1, np.random.RandomState(0)), solve=False,
                           random_state=np.random.RandomState(0))
    state = spiel_game.new_initial_state()
    start = time.perf_counter()
    for _ in range(n_moves):
        bot.step(state)
    return 1000 * n_moves / (time.perf_counter() - start)


def speed(rounds: int) -> None:
    say("== Speed: simulations per second, 1000 simulations from the empty board, c = 2, random rollouts ==")
    for game in ("tictactoe", "connect_four"):
        time_ours(game, 1)  # compile outside the timing
        runs = {"ours (fast)": [], "ours (reference)": [], "OpenSpiel C++": [], "OpenSpiel Python": []}
        for _ in range(rounds):
            runs["ours (fast)"].append(time_ours(game, 100))
            runs["OpenSpiel C++"].append(time_openspiel(game, 50, cpp=True))
            runs["OpenSpiel Python"].append(time_openspiel(game, 2, cpp=False))
            runs["ours (reference)"].append(time_ours(game, 2, engine="reference"))
        median = {name: statistics.median(values) for name, values in runs.items()}
        ours = median["ours (fast)"]
        say(f"{game}: " + ", ".join(f"{name} {value:,.0f}/s" for name, value in median.items()))
        say(f"{game}: ours / OpenSpiel C++ = {ours / median['OpenSpiel C++']:.2f}x (goal >= 1), "
            f"ours / OpenSpiel Python = {ours / median['OpenSpiel Python']:.1f}x (goal >= 2)")


# --- 2. strength ------------------------------------------------------------------------------------------------

def minimax_player(seed: int):
    """A perfect tic-tac-toe player: one of the moves of best minimax value, drawn at random."""
    cache: dict[bytes, float] = {}
    rng = np.random.default_rng(seed)

    def value(sim: BoardGameSimulator) -> float:  # for the player to move
        key = sim.state.tobytes()
        if key not in cache:
            best = -2.0
            for action in sim.legal_actions():
                saved = sim.snapshot()
                reward, _ = sim.step(int(action))
                best = max(best, reward if sim.is_terminal() else -value(sim))
                sim.restore(saved)
            cache[key] = best
        return cache[key]

    def play(obs) -> int:
        sim = BoardGameSimulator("tictactoe")
        sim.set_from_observation(obs)
        scores = {}
        for action in sim.legal_actions():
            saved = sim.snapshot()
            reward, _ = sim.step(int(action))
            scores[int(action)] = reward if sim.is_terminal() else -value(sim)
            sim.restore(saved)
        best = max(scores.values())
        return int(rng.choice([a for a, s in scores.items() if s == best]))

    return play


def against_openspiel(n_games: int, n_sims: int, rollout_policy: str) -> dict[str, int]:
    """Connect four against OpenSpiel's C++ MCTSBot (c = 2, random rollouts), both at ``n_sims``, colours alternated."""
    import pyspiel

    game = pyspiel.load_game("connect_four")
    model = MCTS("MCTSPolicy", "connect_four_v3", n_simulations=n_sims, c_uct=1.4, rollout_policy=rollout_policy, seed=1)
    result = {"wins": 0, "draws": 0, "losses": 0}
    for g in range(n_games):
        bot = pyspiel.MCTSBot(game, pyspiel.RandomRolloutEvaluator(1, g), 2.0, n_sims, 1000, False, g, False)
        ours_seat = g % 2
        state, sim = game.new_initial_state(), BoardGameSimulator("connect_four")
        while not state.is_terminal():
            if state.current_player() == ours_seat:
                action = int(model.predict(sim.observation())[0])
            else:
                action = int(bot.step(state))
            assert action in state.legal_actions()
            state.apply_action(action)
            sim.step(action)
        mine = state.returns()[ours_seat]
        result["wins" if mine > 0 else "draws" if mine == 0 else "losses"] += 1
    return result


def strength(scale: float) -> None:
    from pettingzoo.classic import connect_four_v3, tictactoe_v3

    say("== Strength (c = 1.4, solver on; rollouts as said) ==")
    n = max(2, int(100 * scale))
    for rollouts in ("decisive", "random"):
        model = MCTS("MCTSPolicy", "tictactoe_v3", n_simulations=1000, c_uct=1.4, rollout_policy=rollouts, seed=0)
        result = match(tictactoe_v3.env(), model_player(model), minimax_player(0), n)
        say(f"tic-tac-toe vs perfect minimax, 1000 simulations, {rollouts} rollouts, {n} games: W/D/L "
            f"{result['wins']}/{result['draws']}/{result['losses']} (goal: 0 losses)")
    for rollouts in ("decisive", "random"):
        model = MCTS("MCTSPolicy", "connect_four_v3", n_simulations=200, c_uct=1.4, rollout_policy=rollouts, seed=0)
        result = match(connect_four_v3.env(), model_player(model), random_player(0), n)
        say(f"connect four vs random, 200 simulations, {rollouts} rollouts, {n} games: W/D/L {result['wins']}/"
            f"{result['draws']}/{result['losses']}, win rate {result['wins'] / n:.2f} (goal >= 0.95)")
    n = max(2, int(50 * scale))
    for rollouts in ("decisive", "random"):
        result = against_openspiel(n, 200, rollouts)
        score = (result["wins"] + 0.5 * result["draws"]) / n
        say(f"connect four vs OpenSpiel C++ MCTSBot (c = 2, random rollouts), 200 simulations each, ours with "
            f"{rollouts} rollouts, {n} games: W/D/L {result['wins']}/{result['draws']}/{result['losses']}, "
            f"score {score:.2f} (goal >= 0.50)")


# --- 3. planning ------------------------------------------------------------------------------------------------

#: settings when a trained agent plays the rollouts: plain UCT (mean backups), less exploration (its values are
#: accurate). DP-UCT valuing new nodes by that agent's rollouts did worse on Taxi (-32.5 over 2 episodes).
GUIDED = {"FrozenLake-v1": {"backup": "mean", "n_simulations": 1000, "c_uct": 3.0, "gamma": 1.0, "horizon": 100},
          "Taxi-v4": {"backup": "mean", "n_simulations": 1000, "c_uct": 1.0, "gamma": 0.99, "horizon": 40}}
#: plain UCT (mean backups, random rollouts) as the earlier configs had it: the reference DP-UCT is measured against
PLAIN_UCT = {"FrozenLake-v1": {"backup": "mean", "n_simulations": 2000, "c_uct": 2.0, "gamma": 1.0, "horizon": 100},
             "Taxi-v4": {"backup": "mean", "n_simulations": 2000, "c_uct": 20.0, "gamma": 0.99, "horizon": 40}}


def evaluate(model, env_id: str, n: int, seed: int = 0) -> dict:
    """The evaluation hook's figures (``MCTS.predict`` on each step) over ``n`` episodes."""
    from stable_baselines3.common.env_util import make_vec_env

    from agents.common.evaluation import EvaluationRequest, evaluate_agent

    request = EvaluationRequest(env_id, lambda: make_vec_env(env_id, n_envs=1, seed=seed), lambda: gym.make(env_id),
                                n_eval_episodes=n, seed=seed)
    return evaluate_agent(model, request)


def describe(figures: dict) -> str:
    text = f"mean {figures['mean_reward']:.2f} +/- {figures['std_reward']:.2f}"
    if "success_rate" in figures:
        text += f", success {figures['success_rate']:.2f}"
    if "simulations_per_second" in figures:
        text += f", {figures['simulations_per_second']:,.0f} simulations/s"
    return text


def planning(scale: float) -> None:
    from hub.loading import load_agent
    from hub.store import find_pretrained
    from zoo.config import load_hyperparams

    say("== Planning (settings of configs/mcts.yml; the evaluation hook, MCTS.predict at each step) ==")
    for env_id, n, goal in (("FrozenLake-v1", 300, "success >= 0.70"), ("Taxi-v4", 30, "mean >= 7.5"),
                            ("CartPole-v1", 10, "mean 500")):
        n = max(2, int(n * scale))
        settings = load_hyperparams("mcts", env_id).algo_kwargs
        model = MCTS("MCTSPolicy", env_id, seed=0, **settings)
        say(f"{env_id}, {n} episodes, {settings}: {describe(evaluate(model, env_id, n))} ({goal})")
        if env_id in PLAIN_UCT:
            plain = MCTS("MCTSPolicy", env_id, seed=0, **PLAIN_UCT[env_id])
            say(f"{env_id}, plain UCT {PLAIN_UCT[env_id]}, same episodes: {describe(evaluate(plain, env_id, n))}")
        folder = find_pretrained("qlearning", env_id)
        if folder is None:
            continue
        prior = load_agent(str(folder)).model
        own = evaluate(prior, env_id, n)
        guided = MCTS("MCTSPolicy", env_id, seed=0, rollout_policy=prior, **GUIDED[env_id])
        say(f"{env_id}, rollouts by the pretrained qlearning agent, {GUIDED[env_id]}: "
            f"{describe(evaluate(guided, env_id, n))}; the agent alone: {describe(own)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games-scale", type=float, default=1.0, help="scale the number of games and episodes")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (median kept)")
    parser.add_argument("--parts", default="speed,strength,planning", help="which parts to run")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "mcts.txt"))
    args = parser.parse_args()
    started = time.time()
    say(f"benchmarks/mcts.py --games-scale {args.games_scale} --rounds {args.rounds} --parts {args.parts}")
    parts = args.parts.split(",")
    if "speed" in parts:
        speed(args.rounds)
    if "strength" in parts:
        strength(args.games_scale)
    if "planning" in parts:
        planning(args.games_scale)
    say(f"({time.time() - started:.0f} s)")
    Path(args.out).write_text("\n".join(LINES) + "\n")


if __name__ == "__main__":
    main()
