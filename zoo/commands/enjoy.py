"""``zoo enjoy``: run a trained or pretrained agent and print its mean return."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algo", help="algorithm (see `zoo list`)")
    parser.add_argument("--env", help="env id the agent was trained on")
    parser.add_argument("-f", "--log-folder", default="logs", help="where run folders are (default: logs)")
    parser.add_argument("--folder", help="a run folder (instead of --algo/--env lookup)")
    parser.add_argument("--exp-id", type=int, default=0, help="experiment N of ENV_ID_N (default 0: the latest)")
    parser.add_argument("--load-best", action="store_true", help="load best_model.zip")
    parser.add_argument("--load-checkpoint", type=int, metavar="STEPS", help="load the checkpoint at STEPS")
    parser.add_argument("--repo-id", help="load from the Hub, e.g. sb3/ppo-CartPole-v1")
    parser.add_argument("--revision", help="Hub revision: branch, tag or commit sha")
    parser.add_argument("--endpoint", help="Hub URL (default: $HF_ENDPOINT or huggingface.co)")
    parser.add_argument("-n", "--n-timesteps", type=int, default=1000, help="steps to run (default 1000)")
    parser.add_argument("--n-episodes", type=int, default=20,
                        help="evaluation episodes (games) for the algorithm's own figures, e.g. per-agent returns, "
                             "or W/D/L on tictactoe_v3 (default 20)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--deterministic", dest="deterministic", action="store_true", default=True,
                       help="greedy actions (default)")
    group.add_argument("--stochastic", dest="deterministic", action="store_false", help="sample actions")
    parser.add_argument("--no-render", action="store_true", help="do not open a window")
    parser.add_argument("--record", metavar="DIR", help="write an mp4 of the run into DIR")
    parser.add_argument("--seed", type=int, default=0, help="env seed (default 0)")
    parser.add_argument("--env-kwargs", nargs="+", metavar="KEY=VALUE", help="keyword arguments for gym.make")
    parser.add_argument("--device", default="auto", help="torch device")


def run(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from zoo.config import parse_assignments
    from zoo.enjoy import (can_open_window, evaluate_by_hook, figure_lines, find_agent, has_own_figures, is_gym_env,
                           load_hub_agent, load_run, make_play_env, needs_training, play)
    from zoo.envs.factory import check_env_id
    from zoo.errors import ZooError
    from zoo.train import check_device

    if args.n_timesteps < 1:
        raise ZooError(f"-n/--n-timesteps must be at least 1, got {args.n_timesteps}")
    check_device(args.device)
    if args.repo_id:
        agent = load_hub_agent(args.repo_id, revision=args.revision, endpoint=args.endpoint, device=args.device)
    elif args.folder:
        agent = load_run(args.folder, args.load_best, args.load_checkpoint, args.device)
    else:
        if not args.algo or not args.env:
            raise ZooError("pass --algo and --env, --folder RUN_FOLDER or --repo-id ORG/NAME")
        if is_gym_env(args.env) or needs_training(args.algo):  # a planner knows its own env ids
            check_env_id(args.env)
        agent = find_agent(args.algo, args.env, args.log_folder, args.exp_id, args.load_best,
                           args.load_checkpoint, args.device)
    if not is_gym_env(agent.env_id):  # e.g. a PettingZoo game: the algorithm's evaluation hook plays it
        print(f"Evaluating {agent.algo} on {agent.env_id} from {agent.origin} over {args.n_episodes} episodes")
        for line in figure_lines(evaluate_by_hook(agent, args.n_episodes, args.deterministic, args.seed)):
            print(line)
        return 0
    render = not args.no_render and not args.record
    if render and not can_open_window():
        print("No display found: running without a window (use --record DIR for a video).", file=sys.stderr)
        render = False
    env = make_play_env(agent, render=render, record_dir=args.record, seed=args.seed,
                        env_kwargs=parse_assignments(args.env_kwargs, "--env-kwargs"), video_length=args.n_timesteps)
    print(f"Running {agent.algo} on {agent.env_id} from {agent.origin} for {args.n_timesteps} steps")
    try:
        returns = play(agent.model, env, args.n_timesteps, args.deterministic)
    finally:
        env.close()
    if returns:
        print(f"{len(returns)} episodes, mean return {np.mean(returns):.2f} +/- {np.std(returns):.2f}")
    else:
        print(f"0 episodes finished in {args.n_timesteps} steps (run longer with -n)")
    if args.record:
        print(f"Video written to {args.record}")
    if has_own_figures(agent):  # the family's own figures (per-agent returns, success rate, exact return ...)
        print(f"Its algorithm's figures over {args.n_episodes} evaluation episodes:")
        for line in figure_lines(evaluate_by_hook(agent, args.n_episodes, args.deterministic, args.seed)):
            print(f"  {line}")
    return 0
