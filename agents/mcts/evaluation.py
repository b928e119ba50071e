"""The figures ``MCTS.evaluation_figures`` reports (the zoo's evaluation hook, see agents.common.evaluation).

- Board games: games against a uniformly random player (colours alternated) and against itself, on the
  PettingZoo env itself (so an illegal move would be caught by the env, not by our own rules), as wins,
  draws and losses, and the search's simulations per second. The standard ``mean_reward`` is the mean
  score against the random player (win 1, draw 0, loss -1).
- MDPs: the standard figures (mean +- std of the return over episodes), the success rate (episodes that
  end in a terminal state paying a positive reward, for transition tables), simulations per second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agents.common.evaluation import EvaluationRequest, run_episodes, summarise
from agents.errors import ZooError
from agents.mcts.simulators import TransitionTableSimulator

Player = Callable[[dict[str, np.ndarray]], int]


def random_player(seed: int) -> Player:
    """A player picking a uniformly random legal move."""
    rng = np.random.default_rng(seed)
    return lambda obs: int(rng.choice(np.flatnonzero(obs["action_mask"])))


def model_player(model: Any, deterministic: bool = True) -> Player:
    """A player asking ``model.predict`` for its move."""
    return lambda obs: int(np.asarray(model.predict(obs, deterministic=deterministic)[0]).reshape(-1)[0])


def play_game(env: Any, players: list[Player], seed: int | None = None) -> tuple[list[float], int]:
    """One game of a PettingZoo turn-based env, ``players[i]`` in seat ``i``; returns each seat's reward and the moves.

    :raises ZooError: when a player makes an illegal move
    """
    env.reset(seed=seed)
    rewards = [0.0] * len(players)
    moves = 0
    for agent in env.agent_iter():
        obs, reward, terminated, truncated, _ = env.last()
        seat = env.possible_agents.index(agent)
        if terminated or truncated:
            rewards[seat] = float(reward)
            env.step(None)
            continue
        action = players[seat](obs)
        if not obs["action_mask"][action]:
            raise ZooError(f"player {seat} chose the illegal move {action}; legal: {np.flatnonzero(obs['action_mask']).tolist()}")
        env.step(action)
        moves += 1
    return rewards, moves


def match(env: Any, player: Player, opponent: Player, n_games: int, seed: int = 0) -> dict[str, Any]:
    """``n_games`` games of ``player`` against ``opponent``, ``player`` moving first in the even-numbered ones."""
    wins = draws = losses = 0
    scores, lengths = [], []
    for game in range(n_games):
        seats = [player, opponent] if game % 2 == 0 else [opponent, player]
        rewards, moves = play_game(env, seats, seed=seed + game)
        mine = rewards[0] if game % 2 == 0 else rewards[1]
        wins, draws, losses = wins + (mine > 0), draws + (mine == 0), losses + (mine < 0)
        scores.append(float(np.sign(mine)))
        lengths.append(moves)
    return {"wins": wins, "draws": draws, "losses": losses, "scores": scores, "lengths": lengths}


def board_game_figures(model: Any, request: EvaluationRequest) -> dict[str, Any]:
    """W/D/L against a random player and against itself, and simulations per second."""
    from agents.mcts.algorithm import make_board_game_env

    env = make_board_game_env(model.board_game)
    n_games = request.n_eval_episodes
    if n_games < 1:
        raise ZooError(f"the number of evaluation games must be at least 1, not {n_games}")
    done, seconds = model.simulations_done, model.search_seconds
    me = model_player(model, request.deterministic)
    against_random = match(env, me, random_player(request.seed), n_games, request.seed)
    first = second = draws = 0
    for game in range(n_games):
        rewards, _ = play_game(env, [me, me], seed=request.seed + game)
        first, second, draws = first + (rewards[0] > 0), second + (rewards[1] > 0), draws + (rewards[0] == 0)
    env.close()
    searched = model.simulations_done - done
    return {
        "mean_reward": float(np.mean(against_random["scores"])),
        "std_reward": float(np.std(against_random["scores"])),
        "n_eval_episodes": n_games,
        "is_deterministic": bool(request.deterministic),
        "mean_ep_length": float(np.mean(against_random["lengths"])),
        "vs_random/wins": against_random["wins"],
        "vs_random/draws": against_random["draws"],
        "vs_random/losses": against_random["losses"],
        "self_play/first_player_wins": first,
        "self_play/draws": draws,
        "self_play/second_player_wins": second,
        "n_simulations": model.n_simulations,
        "simulations_per_second": round(searched / max(model.search_seconds - seconds, 1e-9)),
    }


def mdp_figures(model: Any, request: EvaluationRequest) -> dict[str, Any]:
    """Mean +- std of the return, the success rate (transition tables) and simulations per second."""
    done, seconds = model.simulations_done, model.search_seconds
    episodes = run_episodes(model, request)
    figures = summarise(episodes, request)
    if "success_rate" not in figures and isinstance(model.simulator, TransitionTableSimulator):
        goal = model.simulator.pays_on_entry()
        successes = []
        for infos in episodes.infos:
            last = infos[-1] if infos else {}
            ended = "terminal_observation" in last and not last.get("TimeLimit.truncated", False)
            successes.append(bool(ended and goal[int(np.asarray(last["terminal_observation"]).reshape(-1)[0])]))
        figures["success_rate"] = float(np.mean(successes))
    figures["n_simulations"] = model.n_simulations
    figures["simulations_per_second"] = round((model.simulations_done - done) / max(model.search_seconds - seconds, 1e-9))
    return figures
