"""``zoo push``: evaluate a trained agent and publish it to a Hub repository (one commit).

    zoo push --algo ppo --env CartPole-v1 --repo-id my-org/ppo-CartPole-v1      # the latest run in logs/
    zoo push --algo ppo --env CartPole-v1 --org agent-zoo --local-dir pretrained # into the pretrained store
    zoo push --all --org my-org                                                  # publish the pretrained store
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--algo", help="algorithm of the run to push")
    parser.add_argument("--env", help="env id of the run to push")
    parser.add_argument("-f", "--log-folder", default="logs", help="where run folders are (default: logs)")
    parser.add_argument("--exp-id", type=int, default=0, help="experiment N of ENV_ID_N (default 0: the latest)")
    parser.add_argument("--folder", help="a run folder (instead of --algo/--env lookup)")
    parser.add_argument("--load-best", action="store_true", help="push best_model.zip instead of the final model")
    parser.add_argument("--repo-id", help="target repository ORG/NAME (default: ORG/ALGO-ENV_ID with --org)")
    parser.add_argument("--org", help="organisation (or user) for the default repository id, and for --all")
    parser.add_argument("--all", action="store_true", help="publish every agent of the pretrained store to --org")
    parser.add_argument("--local-dir", help="write the repository's files into LOCAL_DIR/ORG/NAME instead of uploading")
    parser.add_argument("--n-eval-episodes", type=int, default=10, help="evaluation episodes (default 10)")
    parser.add_argument("--stochastic", action="store_true", help="evaluate the stochastic policy")
    parser.add_argument("--seed", type=int, default=0, help="seed of the evaluation env (default 0)")
    parser.add_argument("--no-video", action="store_true", help="do not record replay.mp4")
    parser.add_argument("-m", "--message", help="commit message")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--endpoint", help="Hub URL (default: $HF_ENDPOINT or huggingface.co)")
    parser.add_argument("--token", help="access token (default: $HF_TOKEN or the stored login)")
    parser.add_argument("--device", default="auto", help="torch device")


def run(args: argparse.Namespace) -> int:
    from zoo.errors import ZooError

    if args.all:
        from hub.store import publish_all

        if not args.org:
            raise ZooError("--all needs --org ORG (the organisation to publish the pretrained store to)")
        for repo_id, sha in publish_all(args.org, endpoint=args.endpoint, token=args.token):
            print(f"{repo_id} {sha}")
        return 0

    from agents.registry import get_spec
    from zoo.publish import push_run
    from zoo import runs

    if args.folder:
        run_folder = args.folder
        algo_env = runs.read_run_yaml(run_folder, "args.yml")
        algo, env_id = algo_env.get("algo"), algo_env.get("env_id")
    else:
        if not args.algo or not args.env:
            raise ZooError("pass --algo and --env (or --folder RUN_FOLDER, or --all --org ORG)")
        algo, env_id = get_spec(args.algo).name, args.env
        run_folder = runs.find_run(args.log_folder, algo, env_id, args.exp_id)
        if run_folder is None:
            raise ZooError(f"no run of {algo} on {env_id} in {args.log_folder}; train one with "
                           f"`zoo train --algo {algo} --env {env_id} -f {args.log_folder}`")
    repo_id = args.repo_id
    if repo_id is None:
        if not args.org:
            raise ZooError("pass --repo-id ORG/NAME (or --org ORG for ORG/ALGO-ENV_ID)")
        from hub.loading import repo_name

        repo_id = f"{args.org}/{repo_name(algo, env_id)}"
    result = push_run(
        run_folder, repo_id, load_best=args.load_best, device=args.device, n_eval_episodes=args.n_eval_episodes,
        deterministic=not args.stochastic, seed=args.seed, video=not args.no_video, endpoint=args.endpoint,
        token=args.token, commit_message=args.message, private=args.private, local_dir=args.local_dir,
    )
    mode = "stochastic" if args.stochastic else "deterministic"
    print(f"Evaluation: mean return {result.results['mean_reward']:.2f} +/- {result.results['std_reward']:.2f} "
          f"over {args.n_eval_episodes} {mode} episodes")
    if result.commit is None:
        print(f"Wrote {result.folder}")
    else:
        print(f"Pushed {repo_id} at commit {result.commit}")
        print(result.commit)
    return 0
