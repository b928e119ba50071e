"""``zoo benchmark``: train a matrix of (algorithm, env) pairs for several seeds and report them.

Each run is :func:`zoo.train.train` (what ``zoo train`` calls), in a folder of its own::

    FOLDER/runs/seed_S/ALGO/ENV_ID_1/      the run folder (as zoo train writes it)
    FOLDER/records/ALGO/ENV_ID/seed_S.json  its figures, once finished (a finished run is never redone)
    FOLDER/results.json, FOLDER/results.md  every record and the table, rewritten at the end
    FOLDER/plots/ALGO_ENV_ID.png            mean and 95% CI over seeds vs env steps and vs wall-clock
    FOLDER/plots/family_NAME.png            IQM and 95% CI of every (algorithm, env) of a family

A run folder without a record is resumed from its last checkpoint (:func:`zoo.train.resume`) or, with no
checkpoint yet, started again. Runs go to a local pool of processes sized to the cores, or to Ray tasks
(``ray_address``); the records travel back as return values, so Ray workers need no shared filesystem.
The final evaluation goes through the evaluation hook (:func:`agents.common.evaluation.evaluate_agent`),
so each family's own figures reach the table without this module knowing them.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from zoo import runs
from zoo.errors import ZooError

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class BenchmarkOptions:
    """What ``zoo benchmark`` was asked to do.

    :param algos: algorithms to run (``None``: every algorithm with a shipped config)
    :param envs: env ids (``None``: every env the algorithms' configs name)
    :param seeds: seeds per (algorithm, env): 0 .. seeds-1
    :param folder: benchmark folder (runs, records, results, plots)
    :param n_timesteps: override of every config's ``n_timesteps`` (``None``: keep them)
    :param workers: processes of the local pool (0: one per core); with Ray, tasks in flight (0: no limit)
    :param ray_address: run as Ray tasks on this cluster (``"local"``: start a local Ray; ``"auto"``: the running one)
    :param eval_episodes: episodes of each run's final evaluation
    :param eval_points: periodic evaluations per run (the learning curve's points)
    :param org: Hub organisation of the best seed's repository name
    :param progress: show a progress bar
    """

    algos: list[str] | None = None
    envs: list[str] | None = None
    seeds: int = 3
    folder: str = "benchmark"
    n_timesteps: int | None = None
    workers: int = 0
    ray_address: str | None = None
    eval_episodes: int = 10
    eval_points: int = 20
    org: str = "agent-zoo"
    progress: bool = True


@dataclass(frozen=True)
class RunSpec:
    """One run of the matrix."""

    algo: str
    env_id: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.algo} {self.env_id} seed {self.seed}"


@dataclass
class Skipped:
    """A pair of the matrix that is not run, and why."""

    algo: str
    env_id: str
    reason: str


# ---------------------------------------------------------------- the matrix


def configured_pairs(algos: list[str] | None, envs: list[str] | None) -> tuple[list[tuple[str, str]], list[Skipped]]:
    """(algorithm, env) pairs to run: those with a config entry (or ``default``) and matching spaces."""
    from agents.registry import ALGOS, get_spec
    from zoo.config import config_path, configured_envs, read_yaml
    from zoo.envs.factory import check_env_id, check_spaces

    names = [get_spec(a).name for a in algos] if algos else [n for n in ALGOS if config_path(n).is_file()]
    planners = [name for name in names if is_planner(name)]
    for env_id in envs or []:
        if not (planners and not is_gym_env(env_id)):  # a planner knows ids beyond gymnasium's (PettingZoo games)
            check_env_id(env_id)
    pairs, skipped = [], []
    for name in names:
        path = config_path(name)
        if not path.is_file():
            skipped.append(Skipped(name, "*", f"no config file {path.name}"))
            continue
        data = read_yaml(path) or {}
        for env_id in envs or configured_envs(path):
            if env_id not in data and "default" not in data:
                if envs and algos:
                    skipped.append(Skipped(name, env_id, f"{path.name} has no entry for it"))
                continue
            if not is_gym_env(env_id):
                if name in planners:  # the planner checks the id when it is built
                    pairs.append((name, env_id))
                else:
                    skipped.append(Skipped(name, env_id, "not a gymnasium env (only a planner plays it)"))
                continue
            try:
                check_spaces(name, env_id)
            except ZooError as error:
                skipped.append(Skipped(name, env_id, str(error)))
                continue
            pairs.append((name, env_id))
    if not pairs:
        raise ZooError("nothing to benchmark: no configured (algorithm, env) pair matches"
                       + "".join(f"; {s.algo} {s.env_id}: {s.reason}" for s in skipped[:3]))
    return pairs, skipped


def is_planner(algo: str) -> bool:
    """Whether the algorithm plays without training (MCTS): its runs are evaluations of the config's settings."""
    from zoo.enjoy import needs_training

    return not needs_training(algo)


def is_gym_env(env_id: str) -> bool:
    import gymnasium as gym

    return env_id in gym.registry


def matrix(pairs: list[tuple[str, str]], seeds: int) -> list[RunSpec]:
    if seeds < 1:
        raise ZooError(f"--seeds must be at least 1, not {seeds}")
    return [RunSpec(algo, env_id, seed) for algo, env_id in pairs for seed in range(seeds)]


# ---------------------------------------------------------------- where things go


def run_log_folder(folder: str | Path, spec: RunSpec) -> Path:
    return Path(folder) / "runs" / f"seed_{spec.seed}"


def record_path(folder: str | Path, spec: RunSpec) -> Path:
    return Path(folder) / "records" / spec.algo / runs.safe_env_name(spec.env_id) / f"seed_{spec.seed}.json"


def read_record(folder: str | Path, spec: RunSpec) -> dict[str, Any] | None:
    path = record_path(folder, spec)
    return json.loads(path.read_text()) if path.is_file() else None


def write_record(folder: str | Path, record: dict[str, Any]) -> None:
    spec = RunSpec(record["algo"], record["env_id"], record["seed"])
    text = json.dumps(record, indent=1)
    runs.atomic_write(record_path(folder, spec), lambda f: f.write(text.encode()))


# ---------------------------------------------------------------- one run (in a worker)


def family_of(algo: str) -> str:
    """The family of an algorithm: its package under ``agents`` (``tabular``, ``a3c``...), else its source."""
    from agents.registry import get_spec

    spec = get_spec(algo)
    module = spec.target.split(":")[0].split(".")
    return module[1] if module[0] == "agents" and len(module) > 1 else spec.source


def hardware() -> str:
    """The machine a run ran on: CPU model and core count (and the GPU torch sees)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{model}, {os.cpu_count()} cores"
    import torch

    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def zoo_version() -> dict[str, str]:
    """The zoo's version and the git commit of its source (``-dirty`` with uncommitted changes)."""
    import zoo

    commit = "unknown"
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        commit += "-dirty" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        pass
    return {"version": zoo.__version__, "commit": commit}


def find_unfinished(log_folder: Path, spec: RunSpec) -> Path | None:
    """An earlier attempt's run folder, or ``None``; one that never reached a checkpoint is removed."""
    folder = runs.find_run(log_folder, spec.algo, spec.env_id)
    if folder is None:
        return None
    final = folder / f"{runs.safe_env_name(spec.env_id)}.zip"
    if final.is_file() or runs.checkpoints(folder):
        return folder
    shutil.rmtree(folder)
    return None


def train_or_resume(spec: RunSpec, options: BenchmarkOptions) -> tuple[Path, Any, bool]:
    """Train the run through :func:`zoo.train.train`, or finish an interrupted one; returns (folder, model, resumed)."""
    from zoo.config import load_hyperparams
    from zoo.enjoy import load_run
    from zoo.train import TrainOptions, resume, train

    log_folder = run_log_folder(options.folder, spec)
    earlier = find_unfinished(log_folder, spec)
    if earlier is not None:
        trained = (earlier / f"{runs.safe_env_name(spec.env_id)}.zip").is_file()
        steps = max(runs.checkpoints(earlier), default=0)
        goal = int(float((runs.read_run_yaml(earlier, "config.yml") or {}).get("n_timesteps", 0)))
        if trained or steps >= goal:  # killed after training, before its record was written
            return earlier, load_run(earlier, checkpoint=None if trained else steps, device="cpu").model, True
        return earlier, resume(earlier, device="cpu", verbose=0).model, True
    total = options.n_timesteps or load_hyperparams(spec.algo, spec.env_id).n_timesteps
    result = train(TrainOptions(
        algo=spec.algo, env_id=spec.env_id, log_folder=str(log_folder), n_timesteps=options.n_timesteps,
        seed=spec.seed, eval_freq=max(int(total) // max(options.eval_points, 1), 1),
        eval_episodes=min(5, options.eval_episodes),
        device="cpu", verbose=0,
    ))
    return result.run_folder, result.model, False


def final_figures(model: Any, run_folder: Path, spec: RunSpec, episodes: int) -> dict[str, Any]:
    """The run's final evaluation through the family's evaluation hook, on an env seeded apart from training."""
    from agents.common.evaluation import EvaluationRequest, evaluate_agent
    from zoo.envs.factory import create_env, load_normalize, make_env

    config = runs.read_run_yaml(run_folder, "config.yml") or {}
    stats = run_folder / "vecnormalize.pkl"
    wrap = load_normalize(str(stats)) if stats.is_file() else None
    seed = 100_000 + spec.seed
    request = EvaluationRequest(
        env_id=spec.env_id, n_eval_episodes=episodes, deterministic=True, seed=seed,
        make_vec_env=lambda: create_env(spec.env_id, 1, hyperparams=config, seed=seed, wrap_normalize=wrap, training=False),
        make_env=lambda: make_env(spec.env_id, config),
    )
    return evaluate_agent(model, request)


def plan_one(spec: RunSpec, options: BenchmarkOptions) -> dict[str, Any]:
    """A planner's run: its config's settings with the run's seed, evaluated through the evaluation hook
    (``zoo enjoy``'s code, which plays ids beyond gymnasium's); no training, so no env steps and no curve."""
    from zoo.enjoy import evaluate_by_hook, planner_agent

    start = time.perf_counter()
    agent = planner_agent(spec.algo, spec.env_id, device="cpu", seed=spec.seed)
    figures = evaluate_by_hook(agent, options.eval_episodes, seed=100_000 + spec.seed)
    return {
        "algo": spec.algo, "env_id": spec.env_id, "seed": spec.seed, "family": family_of(spec.algo),
        "run_folder": None, "figures": _plain(figures), "env_steps": 0, "n_timesteps_option": options.n_timesteps,
        "wall_clock_s": round(time.perf_counter() - start, 3), "evaluation_only": True, "resumed": False,
        "hardware": hardware(), "host": platform.node(), "zoo": zoo_version(), "eval_curve": None,
    }


def run_one(spec: RunSpec, options: BenchmarkOptions) -> dict[str, Any]:
    """Train (or resume) one run and return its record: figures, curve, steps, wall-clock, hardware."""
    from zoo.plot import read_evaluations, read_monitor, write_curve_json

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if is_planner(spec.algo):
        return plan_one(spec, options)
    start = time.perf_counter()
    run_folder, model, resumed = train_or_resume(spec, options)
    trained = time.perf_counter() - start
    figures = final_figures(model, run_folder, spec, options.eval_episodes)
    monitor = read_monitor(run_folder)
    if resumed and len(monitor.seconds):  # the legs' training time together, from the Monitor files' clock
        trained = max(float(monitor.seconds[-1]), trained)
    return {
        "algo": spec.algo, "env_id": spec.env_id, "seed": spec.seed, "family": family_of(spec.algo),
        "run_folder": str(run_folder), "figures": _plain(figures), "env_steps": int(model.num_timesteps),
        "n_timesteps_option": options.n_timesteps,
        "wall_clock_s": round(trained, 3), "resumed": resumed, "hardware": hardware(), "host": platform.node(),
        "zoo": zoo_version(), "eval_curve": write_curve_json(read_evaluations(run_folder, monitor)),
    }


def _plain(figures: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready figures (NumPy scalars to Python numbers)."""
    return {key: (value.item() if isinstance(value, np.generic) else value) for key, value in figures.items()}


# ---------------------------------------------------------------- running the matrix


_IN_A_RUN = False


def _interrupt_a_run(signum: int, frame: Any) -> None:
    """Ctrl-C in a pool worker: a run saves a checkpoint and stops (``TrainingInterrupted``); an idle worker
    waits for the pool to shut down instead of dying (which would break the pool)."""
    if _IN_A_RUN:
        raise KeyboardInterrupt


def _pool_initializer() -> None:
    """One thread per worker; Ctrl-C as above; the worker ends with the benchmark's process (Linux)."""
    import signal

    os.environ["OMP_NUM_THREADS"] = "1"
    signal.signal(signal.SIGINT, _interrupt_a_run)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_in_pool(spec: RunSpec, options: BenchmarkOptions) -> dict[str, Any]:
    global _IN_A_RUN
    _IN_A_RUN = True
    try:
        return run_one(spec, options)
    finally:
        _IN_A_RUN = False


def run_local(todo: list[RunSpec], options: BenchmarkOptions) -> Iterator[dict[str, Any]]:
    """Records of the runs as they finish, from a pool of processes (one per core unless told)."""
    workers = min(options.workers or os.cpu_count() or 1, len(todo))
    if workers <= 1:
        for spec in todo:
            yield run_one(spec, options)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork: the workers start with this process's imports (torch, SB3) instead of importing them again,
    # which on a busy 2-core machine takes as long as a short run; spawn where fork is missing.
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_pool_initializer)
    try:
        futures = [pool.submit(_run_in_pool, spec, options) for spec in todo]
        for future in as_completed(futures):
            yield future.result()
    finally:  # on Ctrl-C the runs in progress save a checkpoint; runs not started are dropped
        pool.shutdown(wait=True, cancel_futures=True)


def start_ray(address: str, num_cpus: int | None = None) -> None:
    """Connect to a Ray cluster (``"auto"``, ``ray://host:port``, ``host:port``) or start one here (``"local"``)."""
    try:
        import ray
    except ImportError:
        raise ZooError("--ray-address needs Ray: pip install 'ray[tune]'") from None
    if ray.is_initialized():
        return
    env = {"env_vars": {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}}
    try:
        if address == "local":
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     runtime_env=env, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ZooError(f"cannot reach Ray at {address!r}: {str(error).splitlines()[0]}") from None


def run_ray(todo: list[RunSpec], options: BenchmarkOptions) -> Iterator[dict[str, Any]]:
    """Records of the runs as they finish, each run a Ray task of one CPU."""
    import ray

    start_ray(options.ray_address or "local", options.workers or None)
    task = ray.remote(num_cpus=1, max_retries=1)(run_one)
    pending = [task.remote(spec, options) for spec in todo]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    except BaseException:
        for ref in pending:
            ray.cancel(ref)
        raise


def run_matrix(todo: list[RunSpec], options: BenchmarkOptions,
               on_record: Callable[[dict[str, Any]], None]) -> None:
    """Run ``todo`` locally or on Ray, handing each record to ``on_record`` as it arrives."""
    records = run_ray(todo, options) if options.ray_address else run_local(todo, options)
    for record in records:
        on_record(record)


def benchmark(options: BenchmarkOptions, command: str = "") -> dict[str, Any]:
    """Run the whole matrix (skipping finished runs), then write ``results.json``, ``results.md`` and the plots."""
    from tqdm import tqdm

    if options.ray_address:  # Ray workers may start elsewhere than this directory
        options = replace(options, folder=str(Path(options.folder).resolve()))
    pairs, skipped = configured_pairs(options.algos, options.envs)
    specs = matrix(pairs, options.seeds)
    Path(options.folder).mkdir(parents=True, exist_ok=True)
    done = {spec: record for spec in specs if (record := read_record(options.folder, spec)) is not None}
    for record in done.values():
        if record.get("n_timesteps_option", options.n_timesteps) != options.n_timesteps:
            raise ZooError(f"{options.folder} holds runs made with -n {record['n_timesteps_option']}, not "
                           f"{options.n_timesteps}; pass the same -n or another -f")
    todo = [spec for spec in specs if spec not in done]
    bar = tqdm(total=len(specs), initial=len(done), unit="run", disable=not options.progress, desc="benchmark")
    start = time.perf_counter()

    def keep(record: dict[str, Any]) -> None:
        write_record(options.folder, record)
        done[RunSpec(record["algo"], record["env_id"], record["seed"])] = record
        bar.set_postfix_str(f"{record['algo']} {record['env_id']} seed {record['seed']}: "
                            f"{record['figures']['mean_reward']:.2f}")
        bar.update()

    try:
        if todo:
            run_matrix(todo, options, keep)
    finally:
        bar.close()
    from zoo.benchmark_report import write_report

    results = {
        "command": command, "options": asdict(options), "zoo": zoo_version(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "wall_clock_s": round(time.perf_counter() - start, 3), "ran": len(todo), "skipped_finished": len(specs) - len(todo),
        "not_run": [asdict(s) for s in skipped],
        "records": [done[spec] for spec in specs],
    }
    write_report(results, options.folder, options.org)
    return results

