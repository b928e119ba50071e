"""MCTS with the AlphaZero-style prior: self-play training, then 100 simulations with the prior against 1000 without.

The issue's goal (connect four): 100 simulations with the prior at least as strong as 1000 without. Measured in
one run, 50 games each, colours alternated, score = (wins + draws / 2) / games:

- the prior at 100 simulations (``MCTS("AlphaZeroPolicy")``, PUCT) against plain MCTS at 1000 (the settings of
  ``configs/mcts.yml``: decisive rollouts, c = 1.4, solver on);
- as the reference, plain MCTS at 100 simulations against the same 1000-simulation player;
- the prior at 100 simulations against a random player.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/mcts_alphazero.py train --minutes 40 --save /tmp/az_connect_four
    OMP_NUM_THREADS=1 python benchmarks/mcts_alphazero.py evaluate --model /tmp/az_connect_four --games 50
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch as th  # noqa: E402

from agents.mcts import MCTS  # noqa: E402
from agents.mcts.algorithm import make_board_game_env  # noqa: E402
from agents.mcts.evaluation import match, model_player, random_player  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "mcts_alphazero.txt"


def say(text: str, lines: list[str]) -> None:
    print(text, flush=True)
    lines.append(text)


def train(game: str, minutes: float, sims: int, save: str, chunk: int) -> None:
    th.set_num_threads(1)
    lines: list[str] = []
    model = MCTS("AlphaZeroPolicy", game, n_simulations=sims, c_uct=1.5, seed=0, gradient_steps=10, batch_size=256,
                 temperature_moves=10, dirichlet_alpha=1.0, root_noise=0.25, policy_kwargs={"hidden": 128})
    start = time.time()
    while time.time() - start < 60 * minutes:
        model.learn(chunk, reset_num_timesteps=False, log_interval=None)
        model.save(save)  # a crash or Ctrl-C leaves the last chunk's checkpoint
        values = model.logger.name_to_value
        say(f"{model.num_timesteps} moves, {model._episode_num} games, value loss {values.get('train/value_loss', float('nan')):.3f}, "
            f"policy loss {values.get('train/policy_loss', float('nan')):.3f}, {time.time() - start:.0f} s", lines)
    say(f"trained {game} by self-play at {sims} simulations per move: {model.num_timesteps} moves, "
        f"{model._episode_num} games in {(time.time() - start) / 60:.1f} min; saved to {save}", lines)


def score(result: dict) -> float:
    return (result["wins"] + 0.5 * result["draws"]) / (result["wins"] + result["draws"] + result["losses"])


def evaluate(game: str, path: str, games: int) -> None:
    th.set_num_threads(1)
    lines: list[str] = []
    env = make_board_game_env(game)
    prior = MCTS.load(path)
    prior.n_simulations = 100
    plain = {n: MCTS("MCTSPolicy", game, n_simulations=n, c_uct=1.4, rollout_policy="decisive", seed=n) for n in (100, 1000)}
    say(f"{game}, prior from {path} (self-play moves: {prior.num_timesteps}), {games} games each, colours alternated", lines)
    for name, player in (("prior@100", model_player(prior)), ("plain@100", model_player(plain[100]))):
        result = match(env, player, model_player(plain[1000]), games, seed=0)
        say(f"{name} vs plain@1000: W/D/L {result['wins']}/{result['draws']}/{result['losses']}, score {score(result):.2f}"
            + (" (goal >= 0.50)" if name == "prior@100" else " (reference)"), lines)
    result = match(env, model_player(prior), random_player(0), games, seed=100)
    say(f"prior@100 vs random: W/D/L {result['wins']}/{result['draws']}/{result['losses']}, score {score(result):.2f}", lines)
    RESULTS.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="part", required=True)
    t = sub.add_parser("train")
    t.add_argument("--game", default="connect_four_v3")
    t.add_argument("--minutes", type=float, default=40.0)
    t.add_argument("--sims", type=int, default=50, help="simulations per self-play move")
    t.add_argument("--chunk", type=int, default=3000, help="moves between checkpoints")
    t.add_argument("--save", default="/tmp/az_connect_four")
    e = sub.add_parser("evaluate")
    e.add_argument("--game", default="connect_four_v3")
    e.add_argument("--model", default="/tmp/az_connect_four")
    e.add_argument("--games", type=int, default=50)
    args = parser.parse_args()
    if args.part == "train":
        train(args.game, args.minutes, args.sims, args.save, args.chunk)
    else:
        evaluate(args.game, args.model, args.games)


if __name__ == "__main__":
    main()
