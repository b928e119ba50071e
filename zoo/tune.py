"""``zoo tune``: hyperparameter search with Optuna, on one machine or many.

A trial samples config values from the algorithm's search space (:mod:`zoo.search_spaces`) and trains one
run per seed through :func:`zoo.train.train` (what ``zoo train`` calls) with those values as overrides. Its
periodic evaluations are reported to Optuna, whose median pruner stops a trial that trails the others at the
same step; its value is the median over seeds of each run's final evaluation. The sampler is TPE.

A study lives in ``LOG/tune/STUDY/``::

    study.journal            the default storage (or sqlite:///FILE, or a PostgreSQL URL)
    trials/trial_N/seed_S/   the trials' run folders
    best.yml                 the best trial's values as a config entry: zoo train --conf-file best.yml
    best.json                its trial and its re-evaluation on fresh seeds
    plots/                   Optuna's optimisation history and parameter importances (PNG)

Workers (processes here, ``workers``; Ray tasks, ``ray_address``; or ``zoo tune`` commands on other
machines) share one storage. The study is created before they start; each asks for its next trial under a
lock (a file lock, or a PostgreSQL advisory lock), so ``max_total_trials`` is met exactly across workers:
trials that ran to the end or were pruned, plus those running or queued, never exceed it. With an RDB storage
(sqlite, PostgreSQL) each running trial sends heartbeats; a trial whose worker was killed goes stale, is marked
failed and queued again with the same values.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from zoo import runs
from zoo.errors import ZooError

#: trials that failed one after the other before a worker gives up (a broken config, not a bad sample)
MAX_FAILURES_IN_A_ROW = 3


@dataclass
class TuneOptions:
    """What ``zoo tune`` was asked to do.

    :param algo: algorithm (it needs a search space in :mod:`zoo.search_spaces`)
    :param env_id: gymnasium env id
    :param n_trials: trials this command runs, shared by its workers
    :param max_total_trials: trials the study holds at most, over every worker and command (``None``: no cap)
    :param n_seeds: runs per trial; the trial's value is their median
    :param timeout: seconds after which a worker starts no new trial (``None``: no limit)
    :param storage: ``sqlite:///FILE``, ``postgresql://...``, a ``.journal`` file, or ``None`` (the study
        folder's ``study.journal``)
    :param study_name: study to create or resume (default ``ALGO-ENV_ID``)
    :param log_folder: where ``tune/STUDY/`` goes
    :param n_timesteps: steps per run (``None``: the config's ``n_timesteps``)
    :param n_evaluations: periodic evaluations per run, reported to the pruner
    :param eval_episodes: episodes per evaluation
    :param n_startup_trials: trials sampled at random, and not pruned, before TPE and the pruner start
    :param workers: worker processes (or Ray tasks) of this command
    :param ray_address: run the workers as Ray tasks (``"local"`` starts Ray here)
    :param eval_seeds: fresh seeds the best trial is re-evaluated on (0: none)
    :param conf_file: config file instead of ``configs/ALGO.yml`` (the values not searched come from it)
    :param sampler_seed: seed of the TPE sampler (each worker adds its index)
    :param heartbeat_interval: seconds between heartbeats of a running trial (RDB storages)
    :param pool_size: connections each worker keeps to a PostgreSQL server
    :param verbose: print a line per trial
    """

    algo: str
    env_id: str
    n_trials: int = 20
    max_total_trials: int | None = None
    n_seeds: int = 1
    timeout: float | None = None
    storage: str | None = None
    study_name: str | None = None
    log_folder: str = "logs"
    n_timesteps: int | None = None
    n_evaluations: int = 5
    eval_episodes: int = 5
    n_startup_trials: int = 5
    workers: int = 1
    ray_address: str | None = None
    eval_seeds: int = 3
    conf_file: str | None = None
    sampler_seed: int | None = None
    heartbeat_interval: int = 30
    pool_size: int = 2
    verbose: int = 1

    @property
    def name(self) -> str:
        return self.study_name or f"{self.algo}-{runs.safe_env_name(self.env_id)}"


# ---------------------------------------------------------------- where the study lives


def study_folder(options: TuneOptions) -> Path:
    return Path(options.log_folder) / "tune" / options.name


def storage_url(options: TuneOptions) -> str:
    """The storage as given, or the study folder's journal file."""
    if options.storage is None:
        return str(study_folder(options) / "study.journal")
    return options.storage


def is_rdb(url: str) -> bool:
    return "://" in url and not url.startswith("file://")


def quiet_optuna() -> None:
    """Optuna's notes on its experimental features (heartbeats, stale trials) and on ask-and-tell with
    heartbeats (this module sends them itself) are not the user's business."""
    import warnings

    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def open_storage(url: str, options: TuneOptions) -> Any:
    """An Optuna storage: a journal file, or an RDB (sqlite, PostgreSQL) with heartbeats and retries."""
    import optuna

    quiet_optuna()

    if not is_rdb(url):
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(url, lock_obj=optuna.storages.journal.JournalFileOpenLock(url))
        return optuna.storages.JournalStorage(backend)
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    url = rdb_url(url)
    if url.startswith("postgresql"):
        engine_kwargs.update(pool_size=options.pool_size, max_overflow=1)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": 60}}
    try:
        storage = optuna.storages.RDBStorage(
            url, engine_kwargs=engine_kwargs, heartbeat_interval=options.heartbeat_interval,
            grace_period=options.heartbeat_interval * 3,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
        )
    except Exception as error:  # sqlalchemy's connection and URL errors have no common public base here
        raise ZooError(f"cannot open the storage {redact(url)}: {str(error).splitlines()[0]}") from None
    if url.startswith("sqlite"):
        write_ahead_log(storage.engine)
    return storage


def write_ahead_log(engine: Any) -> None:
    """sqlite in WAL mode with NORMAL sync: a commit costs no fsync of the whole file (one machine only)."""
    from sqlalchemy import event

    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened before the listener are dropped


def rdb_url(url: str) -> str:
    """A PostgreSQL URL without a driver gets psycopg2's (SQLAlchemy 2.1 would pick psycopg 3, not installed)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme):]
    return url


def redact(url: str) -> str:
    """A storage URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}" if ":" in credentials else url
    return url


@contextlib.contextmanager
def trial_lock(storage: Any, url: str, study_name: str) -> Iterator[None]:
    """Held while a worker counts the trials and asks for the next one: a PostgreSQL advisory lock, or a
    file lock beside the journal or sqlite file."""
    if url.startswith("postgresql"):
        from sqlalchemy import text

        key = zlib.crc32(f"zoo-tune:{study_name}".encode())
        with storage.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else (None if is_rdb(url) else url)
    if path is None:  # another RDB: no cross-worker lock (max_total_trials may be passed by a trial per worker)
        yield
        return
    with open(f"{path}.zoo-trial-lock", "a") as handle:  # not PATH.lock: Optuna's journal lock file
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- the study


def make_sampler(options: TuneOptions, worker: int = 0) -> Any:
    import optuna

    seed = None if options.sampler_seed is None else options.sampler_seed + worker
    return optuna.samplers.TPESampler(n_startup_trials=options.n_startup_trials, seed=seed)


def make_pruner(options: TuneOptions) -> Any:
    """Median pruner on the periodic evaluations, from the second evaluation on (see :func:`report_step`)."""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=options.n_startup_trials, n_warmup_steps=1)


def report_step(seed_index: int, evaluation: int) -> int:
    """The step an evaluation is reported at: the same for the same seed and evaluation in every trial."""
    return 1000 * seed_index + evaluation


def budget_of(options: TuneOptions) -> int:
    """Env steps per run: ``n_timesteps``, else the config's."""
    from zoo.config import load_hyperparams

    return int(options.n_timesteps or load_hyperparams(options.algo, options.env_id, options.conf_file).n_timesteps)


def check_options(options: TuneOptions) -> None:
    from agents.registry import get_spec
    from zoo.envs.factory import check_env_id, check_spaces
    from zoo.search_spaces import SEARCH_SPACES

    name = get_spec(options.algo).name
    if name not in SEARCH_SPACES:
        raise ZooError(f"no search space for {name} in zoo/search_spaces.py; tunable: {', '.join(sorted(SEARCH_SPACES))}")
    check_env_id(options.env_id)
    check_spaces(name, options.env_id)
    for field_name in ("n_trials", "n_seeds", "n_evaluations", "eval_episodes", "workers"):
        if getattr(options, field_name) < 1:
            raise ZooError(f"--{field_name.replace('_', '-')} must be at least 1")
    if options.max_total_trials is not None and options.max_total_trials < 1:
        raise ZooError("--max-total-trials must be at least 1")
    if options.n_timesteps is not None and options.n_timesteps < 1:
        raise ZooError("-n must be at least 1")
    if options.heartbeat_interval < 1:
        raise ZooError("--heartbeat-interval must be at least 1 second")


def create_study(options: TuneOptions) -> Any:
    """Create the study (or load it, to resume); its algorithm and env must match an existing one's."""
    import optuna

    url = storage_url(options)
    storage = open_storage(url, options)
    study = optuna.create_study(storage=storage, study_name=options.name, direction="maximize", load_if_exists=True,
                                sampler=make_sampler(options), pruner=make_pruner(options))
    recorded = study.user_attrs
    if recorded and (recorded.get("algo"), recorded.get("env_id")) != (options.algo, options.env_id):
        raise ZooError(f"study {options.name!r} in {redact(url)} tunes {recorded.get('algo')} on "
                       f"{recorded.get('env_id')}, not {options.algo} on {options.env_id}; pick another --study-name")
    if not recorded:
        study.set_user_attr("algo", options.algo)
        study.set_user_attr("env_id", options.env_id)
    return study


def load_study(options: TuneOptions, worker: int = 0) -> tuple[Any, Any, str]:
    import optuna

    url = storage_url(options)
    storage = open_storage(url, options)
    study = optuna.load_study(study_name=options.name, storage=storage, sampler=make_sampler(options, worker),
                              pruner=make_pruner(options))
    return study, storage, url


def counts_against_cap(study: Any) -> int:
    """Trials that count against ``max_total_trials``: all but the failed ones (a failure is retried)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING,
                                                        TrialState.WAITING)))


def next_trial(study: Any, storage: Any, url: str, options: TuneOptions) -> Any | None:
    """The next trial (a queued retry first), or ``None`` once the study holds ``max_total_trials``."""
    import optuna
    from optuna.trial import TrialState

    with trial_lock(storage, url, options.name):
        if is_rdb(url):
            optuna.storages.fail_stale_trials(study)
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if not waiting and options.max_total_trials is not None and counts_against_cap(study) >= options.max_total_trials:
            return None
        trial = study.ask()
        if beats(storage):
            storage.record_heartbeat(trial._trial_id)  # at once: a worker killed now still leaves a stale trial
        return trial


# ---------------------------------------------------------------- one trial


def make_trial_callback(trial: Any, hp: Any, options: TuneOptions, seed: int, seed_index: int, eval_freq: int,
                        timings: dict[str, float]) -> Any:
    """An EvalCallback reporting each evaluation to the trial, raising ``TrialPruned`` when the pruner says so;
    the seconds spent in Optuna's calls are added to ``timings["optuna_s"]``."""
    import optuna
    from stable_baselines3.common.callbacks import EvalCallback

    from zoo.envs.factory import create_env

    class TrialEvalCallback(EvalCallback):
        def _on_step(self) -> bool:
            going_on = super()._on_step()
            if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
                start = time.perf_counter()
                trial.report(float(self.last_mean_reward), report_step(seed_index, self.n_calls // self.eval_freq))
                prune = trial.should_prune()
                timings["optuna_s"] = timings.get("optuna_s", 0.0) + time.perf_counter() - start
                if prune:
                    raise optuna.TrialPruned(f"pruned at {self.num_timesteps} steps of seed {seed}")
            return going_on

    eval_env = create_env(hp.env_id, 1, hyperparams=hp.raw, seed=seed + 10_000, training=False)
    return TrialEvalCallback(eval_env, n_eval_episodes=options.eval_episodes, eval_freq=max(eval_freq // hp.n_envs, 1),
                             deterministic=True, verbose=0)


def beats(storage: Any) -> bool:
    """Whether ``storage`` keeps heartbeats (an RDB storage opened with a heartbeat interval)."""
    return getattr(storage, "get_heartbeat_interval", lambda: None)() is not None


class Heartbeat:
    """Records a running trial's heartbeat every ``interval`` seconds (RDB storages), in a thread."""

    def __init__(self, storage: Any, trial_id: int, interval: float):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True)

    def beat(self) -> None:
        while not self.stopped.is_set():
            self.storage.record_heartbeat(self.trial_id)
            self.stopped.wait(self.interval)

    def __enter__(self) -> Heartbeat:
        if beats(self.storage):
            self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()


def train_seed(params: dict[str, Any], seed: int, index: int, trial: Any, options: TuneOptions, budget: int,
               folder: Path, timings: dict[str, float]) -> float:
    """One run of a trial (through :func:`zoo.train.train`); returns its final evaluation's mean return."""
    from zoo.config import load_hyperparams
    from zoo.train import TrainOptions, train

    overrides = {**params, "n_timesteps": budget}
    hp = load_hyperparams(options.algo, options.env_id, options.conf_file, overrides)
    eval_freq = max(budget // options.n_evaluations, 1)
    callback = make_trial_callback(trial, hp, options, seed, index, eval_freq, timings)
    result = train(TrainOptions(
        algo=options.algo, env_id=options.env_id, log_folder=str(folder / f"seed_{seed}"), n_timesteps=budget,
        seed=seed, eval_freq=-1, eval_episodes=options.eval_episodes, save_freq=-1, hyperparams=params,
        conf_file=options.conf_file, device="cpu", verbose=0, callbacks=[callback],
    ))
    return result.mean_reward


def objective(trial: Any, options: TuneOptions, budget: int) -> tuple[float, dict[str, Any]]:
    """Sample the trial's values and train one run per seed; the value is the median of their final returns."""
    from zoo.search_spaces import SEARCH_SPACES

    params = SEARCH_SPACES[options.algo](trial)
    trial.set_user_attr("hyperparams", params)
    folder = study_folder(options) / "trials" / f"trial_{trial.number}"
    scores, train_s, timings = [], 0.0, {"optuna_s": 0.0}
    for index in range(options.n_seeds):
        start = time.perf_counter()
        try:
            scores.append(train_seed(params, index, index, trial, options, budget, folder, timings))
        finally:
            train_s += time.perf_counter() - start
            trial.set_user_attr("train_s", train_s)  # includes the pruner's calls, also given apart:
            trial.set_user_attr("optuna_in_train_s", timings["optuna_s"])
    trial.set_user_attr("seed_scores", scores)
    return float(np.median(scores)), params


def run_trials(options: TuneOptions, n_trials: int, worker: int = 0) -> dict[str, Any]:
    """A worker: ask for trials until ``n_trials`` ran, the study is full, or ``timeout`` passed."""
    import optuna
    from optuna.trial import TrialState

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    study, storage, url = load_study(options, worker)
    budget = budget_of(options)
    start, made, failures = time.monotonic(), [], 0
    while len(made) < n_trials and (options.timeout is None or time.monotonic() - start < options.timeout):
        began = time.perf_counter()
        trial = next_trial(study, storage, url, options)
        if trial is None:
            break
        state, value, error = TrialState.COMPLETE, None, None
        with Heartbeat(storage, trial._trial_id, options.heartbeat_interval):
            try:
                value, _ = objective(trial, options, budget)
            except optuna.TrialPruned:
                state = TrialState.PRUNED
            except (ZooError, ValueError, TypeError, AssertionError, RuntimeError) as failure:
                state, error = TrialState.FAIL, f"{type(failure).__name__}: {failure}"
                trial.set_user_attr("error", error)
            except BaseException:  # Ctrl-C or a bug: the trial is failed (not counted), then the error goes on
                study.tell(trial, state=TrialState.FAIL)
                raise
        trial.set_user_attr("trial_s", time.perf_counter() - began)
        study.tell(trial, value, state=state)
        made.append(trial.number)
        failures = failures + 1 if state == TrialState.FAIL else 0
        if options.verbose:
            shown = f"{value:.2f}" if value is not None else state.name.lower()
            print(f"trial {trial.number}: {shown}" + (f" ({error})" if error else ""), flush=True)
        if failures >= MAX_FAILURES_IN_A_ROW:
            raise ZooError(f"{failures} trials in a row failed; the last one: {error}")
    return {"worker": worker, "trials": made}


# ---------------------------------------------------------------- many workers


def split(n_trials: int, workers: int) -> list[int]:
    """``n_trials`` over ``workers``, as evenly as they go."""
    return [n_trials // workers + (i < n_trials % workers) for i in range(workers) if n_trials // workers + (i < n_trials % workers)]


def run_workers(options: TuneOptions) -> list[dict[str, Any]]:
    """Run this command's trials: in this process, in worker processes, or as Ray tasks."""
    shares = split(options.n_trials, options.workers)
    if options.ray_address:
        import ray

        from zoo.benchmark import start_ray

        start_ray(options.ray_address, options.workers)
        task = ray.remote(num_cpus=1)(run_trials)
        return ray.get([task.remote(options, share, i) for i, share in enumerate(shares)])
    if len(shares) == 1:
        return [run_trials(options, shares[0])]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(len(shares), mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(run_trials, [options] * len(shares), shares, range(len(shares))))


# ---------------------------------------------------------------- the best trial


def reevaluate(params: dict[str, Any], options: TuneOptions, budget: int) -> list[float]:
    """The best values trained again on fresh seeds (1000, 1001, ...), as ``zoo train`` would."""
    from zoo.train import TrainOptions, train

    folder = study_folder(options) / "best"
    scores = []
    for seed in range(1000, 1000 + options.eval_seeds):
        result = train(TrainOptions(
            algo=options.algo, env_id=options.env_id, log_folder=str(folder / f"seed_{seed}"), n_timesteps=budget,
            seed=seed, eval_freq=-1, eval_episodes=max(options.eval_episodes, 10), save_freq=-1, hyperparams=params,
            conf_file=options.conf_file, device="cpu", verbose=0,
        ))
        scores.append(result.mean_reward)
    return scores


def write_best(study: Any, options: TuneOptions, budget: int) -> dict[str, Any] | None:
    """``best.yml`` (a config entry for ``zoo train --conf-file``) and ``best.json``; ``None`` with no complete trial."""
    import json

    import yaml

    from zoo.config import config_path, read_yaml, select_entry

    try:
        best = study.best_trial
    except ValueError:
        return None
    params = best.user_attrs.get("hyperparams") or {}
    source = options.conf_file or config_path(options.algo)
    entry = {**select_entry(read_yaml(source), options.env_id, source), **params, "n_timesteps": budget}
    scores = reevaluate(params, options, budget) if options.eval_seeds else []
    folder = study_folder(options)
    header = (f"# zoo tune: study {options.name}, best of {len(study.trials)} trials: trial {best.number}, "
              f"value {best.value:.4g} (median over {options.n_seeds} seeds, {budget} steps each)\n")
    if scores:
        header += f"# re-evaluated on fresh seeds 1000..{999 + len(scores)}: {np.mean(scores):.4g} ± {np.std(scores):.4g}\n"
    text = header + yaml.safe_dump({options.env_id: entry}, sort_keys=False)
    runs.atomic_write(folder / "best.yml", lambda f: f.write(text.encode()))
    summary = {
        "study": options.name, "algo": options.algo, "env_id": options.env_id, "trial": best.number,
        "value": best.value, "params": params, "n_trials": len(study.trials), "budget": budget,
        "fresh_seeds": list(range(1000, 1000 + len(scores))), "fresh_scores": scores,
        "fresh_mean": float(np.mean(scores)) if scores else None, "fresh_std": float(np.std(scores)) if scores else None,
        "config": str(folder / "best.yml"),
    }
    text = json.dumps(summary, indent=1)
    runs.atomic_write(folder / "best.json", lambda f: f.write(text.encode()))
    return summary


def write_plots(study: Any, folder: Path) -> dict[str, str]:
    """Optuna's optimisation history and parameter importances as PNGs (importances need 2 complete trials)."""
    import warnings

    from optuna.visualization import matplotlib as optuna_plots

    from zoo.plot import pyplot

    plt = pyplot()
    written, problems = {}, {}
    for name, draw in (("history", optuna_plots.plot_optimization_history),
                       ("importances", optuna_plots.plot_param_importances)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = draw(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as error:
            problems[name] = str(error)
            continue
        path = folder / "plots" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        ax.figure.tight_layout()
        ax.figure.savefig(path, dpi=90)
        plt.close(ax.figure)
        written[name] = str(path)
    return {**written, **{f"{k} (not drawn)": v for k, v in problems.items()}}


def create_only(options: TuneOptions) -> str:
    """Create the study (once, before workers start elsewhere); returns a line saying where it is."""
    check_options(options)
    from agents.registry import get_spec

    study = create_study(replace(options, algo=get_spec(options.algo).name))
    return f"Study {study.study_name} in {redact(storage_url(options))}: {len(study.trials)} trials"


def tune(options: TuneOptions) -> dict[str, Any]:
    """Create or resume the study, run this command's trials, write the best config and the plots."""
    check_options(options)
    from agents.registry import get_spec

    options = replace(options, algo=get_spec(options.algo).name)
    if options.ray_address:  # Ray workers may start elsewhere than this directory
        options = replace(options, log_folder=str(Path(options.log_folder).resolve()), storage=(
            options.storage if options.storage is None or is_rdb(options.storage) else str(Path(options.storage).resolve())))
    study = create_study(options)
    start = time.perf_counter()
    workers = run_workers(options)
    study, _, _ = load_study(options)
    budget = budget_of(options)
    best = write_best(study, options, budget)
    plots = write_plots(study, study_folder(options))
    from optuna.trial import TrialState

    states = {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,))) for state in TrialState}
    return {"study": options.name, "storage": redact(storage_url(options)), "folder": str(study_folder(options)),
            "trials_here": sum(len(w["trials"]) for w in workers), "states": states, "best": best, "plots": plots,
            "wall_clock_s": time.perf_counter() - start}
