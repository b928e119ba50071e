"""``zoo play``: play a turn-based PettingZoo game against a zoo agent in the terminal."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algo", required=True, help="the agent's algorithm (see `zoo list`)")
    parser.add_argument("--env", required=True, help="a PettingZoo classic game: tictactoe_v3, connect_four_v3")
    parser.add_argument("-f", "--log-folder", default="logs", help="where run folders are (default: logs)")
    parser.add_argument("--folder", help="a run folder (instead of --algo/--env lookup)")
    parser.add_argument("--second", action="store_true", help="let the agent move first")
    parser.add_argument("--seed", type=int, default=0, help="seed of the game and the agent (default 0)")
    parser.add_argument("--device", default="auto", help="torch device")


def run(args: argparse.Namespace) -> int:
    import sys

    from zoo.enjoy import find_agent, load_run
    from zoo.play import make_game, play_against, text_reader

    env = make_game(args.env)
    print(f"Loading {args.algo} for {args.env} ...", flush=True)
    agent = load_run(args.folder, device=args.device) if args.folder else find_agent(args.algo, args.env, args.log_folder, device=args.device)

    def agent_move(obs):
        action, _ = agent.model.predict(obs, deterministic=True)
        return int(action)

    def write(text: str) -> None:
        print(text, flush=True)

    read = input if sys.stdin.isatty() else text_reader(sys.stdin, lambda prompt: print(prompt, end="", flush=True))
    try:
        play_against(env, agent_move, human_first=not args.second, read=read, write=write, seed=args.seed)
    except EOFError:
        print("\nzoo play: input ended, game abandoned", file=sys.stderr)
        return 1
    finally:
        env.close()
    return 0
