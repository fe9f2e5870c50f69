"""Hyper-parameter searches with Optuna (arXiv:1907.10902) over any experiment key, trials on Dask.

    colliderlab tune EXP.yaml --space SPACE.yaml --trials N [--out DIR] [--workers W | --scheduler ADDR]

Every trial is an ordinary run (:func:`colliderlab.train.experiment.run_experiment`) of the
experiment with the trial's values (:mod:`colliderlab.train.tune_space`), scored on its
**validation** AUC (``results.json``'s ``val_auc``; the test split is never looked at while
searching). The trainer reports each epoch's ``val_auc`` to the trial through a
:class:`~colliderlab.train.hooks.Callback`, and the pruner (median by default) stops trials that
fall behind. When the search is done the best setting is written as a ready experiment
(``best.yaml``) and retrained with ``final_seeds`` seeds, whose **test** AUCs (mean and spread)
are what the search reports.

Storage (``storage``): a study run by one process lives in SQLite (``DIR/study.db``); trials in
parallel use Optuna's journal file (``DIR/journal.log``), or any Optuna storage URL (e.g.
``postgresql://...`` for a database every node of a cluster reaches). Storages that support it
(SQLite and the other databases) keep a heartbeat per running trial: a trial whose process was
killed is marked FAIL once it has been silent for ``grace`` seconds and retried with the same
values, resuming its run directory from its last checkpoint. Optuna's journal has no heartbeat:
the ``tune`` command that opens a journal study fails and retries the trials it finds RUNNING
(run one ``tune`` per journal). A killed ``tune`` resumes when it is run again with the same
arguments: finished trials are kept and only the missing ones run.

Parallel trials run on the Dask cluster of :mod:`colliderlab.cluster` (an embedded
``LocalCluster`` of ``workers`` processes, or ``scheduler``): one task per worker, each running
trials from the shared study until it holds ``n_trials`` finished ones.

Study directory::

    DIR/
      tune.yaml          experiment, space and settings; a resumed study must match them
      study.db | journal.log
      trials/trial_0007/ each trial's run directory (see colliderlab.train.experiment)
      best.yaml          the best experiment, ready for ``colliderlab train``
      final/seed{k}/     the best setting retrained with seed k
      summary.json       best trial, validation AUC, test AUC over the final seeds, trials per
                         state, CPU minutes of the trials and of the final runs
      plots/             history.png, importances.png, parallel.png
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colliderlab.atomic import write_json, write_text
from colliderlab.progress import write_line
from colliderlab.train.config import ExperimentConfig, experiment_from_dict
from colliderlab.train.hooks import Callback
from colliderlab.train.tune_space import SearchSpace, apply_params

__all__ = ["TuneConfig", "PruningCallback", "run_study", "storage_url", "open_storage", "FINISHED"]

PRUNERS = ("median", "none")
FINISHED = ("COMPLETE", "PRUNED")
"""Trial states counted towards ``n_trials``."""


@dataclass(frozen=True)
class TuneConfig:
    """One search.

    Attributes:
        experiment: the experiment (its ``to_dict``) every trial starts from.
        space: the search space (its ``to_dict``, :class:`~colliderlab.train.tune_space.SearchSpace`).
        n_trials: finished (complete or pruned) trials the study ends with.
        out_dir: the study directory.
        storage: an Optuna storage URL or a file (``.db``: SQLite, ``.log``: journal); None picks
            ``out_dir/study.db`` for one process, ``out_dir/journal.log`` for parallel trials.
        study_name: the study's name in the storage.
        seed: the TPE sampler's seed (worker ``w`` uses ``seed + w``).
        pruner: ``median`` (Optuna's median rule on the per-epoch validation AUC) or ``none``.
        final_seeds: retrainings of the best setting (trainer seeds 0..K-1) for the test AUC.
        heartbeat: seconds between a running trial's heartbeats (database storages).
        grace: seconds without a heartbeat after which a running trial counts as dead.
        max_retry: retries of a trial that died.
    """

    experiment: Mapping[str, Any]
    space: Mapping[str, Any]
    n_trials: int
    out_dir: str
    storage: str | None = None
    study_name: str = "colliderlab"
    seed: int = 0
    pruner: str = "median"
    final_seeds: int = 3
    heartbeat: int = 30
    grace: int = 120
    max_retry: int = 2
    parallel: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.n_trials < 1:
            raise ValueError(f"n_trials must be >= 1, got {self.n_trials}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner {self.pruner!r}: choose one of {', '.join(PRUNERS)}")
        if self.final_seeds < 0 or self.heartbeat < 1 or self.grace <= self.heartbeat:
            raise ValueError("final_seeds >= 0, heartbeat >= 1 and grace > heartbeat are required")

    def base(self) -> ExperimentConfig:
        return experiment_from_dict(self.experiment)

    def search_space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space)

    def record(self) -> dict[str, Any]:
        """What ``tune.yaml`` holds and a resumed study must match."""
        return {"experiment": dict(self.experiment), "space": dict(self.space), "study_name": self.study_name,
                "seed": self.seed, "pruner": self.pruner}


def storage_url(cfg: TuneConfig) -> str:
    """The storage of ``cfg`` as a URL (``journal:PATH`` for a journal file)."""
    s = cfg.storage
    if s is None:
        s = str(Path(cfg.out_dir) / ("journal.log" if cfg.parallel else "study.db"))
    if "://" in s or s.startswith("journal:"):
        return s
    if s.endswith(".log"):
        return f"journal:{os.path.abspath(s)}"
    return f"sqlite:///{os.path.abspath(s)}"


def open_storage(url: str, cfg: TuneConfig) -> Any:
    """An Optuna storage for ``url``: a journal file, or a database with heartbeats and retries."""
    import optuna

    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:"):]))
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=cfg.heartbeat, grace_period=cfg.grace,
            heartbeat_stale_trial_callback=_retry(cfg))


def _retry(cfg: TuneConfig) -> Any:
    """Optuna's retry of a dead trial: a WAITING copy with its values, user attributes (its run
    directory) and reported epochs."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(cfg.max_retry, inherit_intermediate_values=True)


class PruningCallback(Callback):
    """Reports each epoch's validation AUC to an Optuna trial; raises ``optuna.TrialPruned``
    when the pruner says so (the trial's run stops there)."""

    def __init__(self, trial: Any, metric: str = "val_auc") -> None:
        self.trial, self.metric = trial, metric

    def on_epoch_end(self, trainer: Any, epoch: int, row: dict[str, float]) -> None:
        import optuna

        value = row.get(self.metric)
        if value is None or value != value:  # not a classifier, or an undefined AUC
            return
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"{self.metric} = {value:.4f} after epoch {epoch}")


def _objective(cfg: TuneConfig, base: ExperimentConfig, space: SearchSpace) -> Any:
    from colliderlab.train.experiment import run_experiment

    def objective(trial: Any) -> float:
        import optuna

        try:
            return run(trial)
        except optuna.TrialPruned:
            raise
        except Exception as e:  # kept with the trial: a search where none completes says why
            trial.set_user_attr("error", f"{type(e).__name__}: {e}"[:1000])
            raise

    def run(trial: Any) -> float:
        params = space.suggest(trial)
        exp = apply_params(base, params)  # a combination the experiment refuses fails the trial
        exp = dataclasses.replace(exp, trainer=dataclasses.replace(exp.trainer, progress=False))
        # a retried trial carries its original's run directory: it resumes from the last checkpoint
        run_dir = trial.user_attrs.get("run_dir") or str(Path(cfg.out_dir) / "trials" / f"trial_{trial.number:04d}")
        trial.set_user_attr("run_dir", run_dir)
        t0 = time.process_time()
        try:
            results = run_experiment(exp, run_dir, resume=True, progress=False, plots=False,
                                     callbacks=[PruningCallback(trial)])
        finally:
            trial.set_user_attr("cpu_seconds", time.process_time() - t0 + trial.user_attrs.get("cpu_seconds", 0.0))
        if "val_auc" not in results:
            raise ValueError(f"{exp.model.name}: a search needs a classifier (results.json has no val_auc)")
        write_line(f"tune: trial {trial.number} val_auc {results['val_auc']:.4f} {params}")
        return float(results["val_auc"])

    return objective


def _finished(study: Any) -> int:
    import optuna

    states = tuple(getattr(optuna.trial.TrialState, s) for s in FINISHED)
    return len(study.get_trials(deepcopy=False, states=states))


def run_trials(cfg: TuneConfig, url: str, worker: int) -> int:
    """Run trials of the stored study until it holds ``n_trials`` finished ones (one Dask task
    per worker; also the single-process search). Returns the trials this call ran."""
    import optuna
    from optuna.study import MaxTrialsCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    base, space = cfg.base(), cfg.search_space()
    startup = min(10, max(2, cfg.n_trials // 3))
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=1) if cfg.pruner == "median"
              else optuna.pruners.NopPruner())
    study = optuna.load_study(study_name=cfg.study_name, storage=open_storage(url, cfg),
                              sampler=optuna.samplers.TPESampler(seed=cfg.seed + worker, n_startup_trials=startup),
                              pruner=pruner)
    left = cfg.n_trials - _finished(study)
    if left <= 0:
        return 0
    before = len(study.trials)
    states = tuple(getattr(optuna.trial.TrialState, s) for s in FINISHED)
    study.optimize(_objective(cfg, base, space), n_trials=left, catch=(ValueError, RuntimeError),
                   callbacks=[MaxTrialsCallback(cfg.n_trials, states=states)], gc_after_trial=True)
    return len(study.trials) - before


def _fail_orphans(study: Any, cfg: TuneConfig) -> None:
    """Journal studies (no heartbeat): fail and retry the trials a killed ``tune`` left RUNNING."""
    import optuna

    retry = _retry(cfg)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        retry(study, study.trials[t.number])
        write_line(f"tune: trial {t.number} was left running by a killed search: failed, retried")


def _prepare(cfg: TuneConfig, url: str) -> Any:
    """Create or reopen the study; check ``tune.yaml`` against a resumed one."""
    import optuna
    import yaml

    cfg.search_space().check(cfg.base())  # keys the experiment does not have are refused here
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = cfg.record()
    path = out / "tune.yaml"
    if path.exists():
        old = yaml.safe_load(path.read_text()) or {}
        if old != json.loads(json.dumps(record)):
            raise FileExistsError(f"{out} holds a search with another experiment, space or settings (tune.yaml); "
                                  "choose a new --out (or delete it to start over)")
    else:
        write_text(path, yaml.safe_dump(record, sort_keys=False))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=cfg.study_name, storage=open_storage(url, cfg), direction="maximize",
                                load_if_exists=True)
    if url.startswith("journal:"):
        _fail_orphans(study, cfg)
    return study


def run_study(cfg: TuneConfig, cluster: Any = None) -> dict[str, Any]:
    """Run (or resume) the search of ``cfg`` on ``cluster`` (a
    :class:`~colliderlab.cluster.ClusterConfig`; None: in this process), then write
    ``best.yaml``, the final seeds' runs, the plots and ``summary.json``; returns the summary."""
    from colliderlab.cluster import task_runner

    parallel = cluster is not None and not cluster.inline()
    cfg = dataclasses.replace(cfg, parallel=parallel)
    url = storage_url(cfg)
    study = _prepare(cfg, url)
    n_workers = cluster.n_workers() if parallel else 1
    write_line(f"tune: study {cfg.study_name!r} in {url}: {_finished(study)}/{cfg.n_trials} trials finished, "
               f"{n_workers} worker(s)")
    with task_runner(cluster if parallel else None) as runner:
        for w in range(n_workers):
            runner.submit(f"tune-worker-{w}", run_trials, cfg, url, w)
        while runner.pending:
            runner.next_done()
        best = _best(study, cfg)
        finals = _final_runs(cfg, best, runner)
    return _summarise(study, cfg, best, finals)


def _best(study: Any, cfg: TuneConfig) -> ExperimentConfig:
    import optuna
    import yaml

    study = optuna.load_study(study_name=cfg.study_name, storage=open_storage(storage_url(cfg), cfg))
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        errors = [t.user_attrs.get("error", "") for t in study.trials]
        raise RuntimeError(f"no trial of {cfg.out_dir} completed; {len(study.trials)} trials, "
                           f"first failure: {next((e for e in errors if e), 'unknown')}")
    params = cfg.search_space().decode(study.best_trial.params)
    best = apply_params(cfg.base(), params)
    best = dataclasses.replace(best, name=f"{best.name}-tuned")
    header = (f"# colliderlab tune: best of {len(complete)} complete trials (trial {study.best_trial.number}, "
              f"val_auc {study.best_value:.4f})\n# searched: {', '.join(f'{k}={v}' for k, v in params.items())}\n")
    write_text(Path(cfg.out_dir) / "best.yaml", header + yaml.safe_dump(best.to_dict(), sort_keys=False))
    return best


def train_final(exp_dict: Mapping[str, Any], run_dir: str, seed: int) -> dict[str, Any]:
    """One retraining of the best setting with trainer seed ``seed`` (a Dask task)."""
    from colliderlab.train.experiment import run_experiment

    exp = experiment_from_dict(exp_dict)
    exp = dataclasses.replace(exp, trainer=dataclasses.replace(exp.trainer, seed=seed, progress=False))
    t0 = time.process_time()
    results = run_experiment(exp, run_dir, resume=True, progress=False, plots=False)
    return {"seed": seed, "run_dir": run_dir, "auc": results.get("auc"), "val_auc": results.get("val_auc"),
            "cpu_seconds": time.process_time() - t0, "train_seconds": results.get("train_seconds")}


def _final_runs(cfg: TuneConfig, best: ExperimentConfig, runner: Any) -> list[dict[str, Any]]:
    out = []
    for k in range(cfg.final_seeds):
        final = Path(cfg.out_dir) / "final" / f"seed{k}"
        if (final / "results.json").exists():  # a resumed search keeps finished retrainings
            r = json.loads((final / "results.json").read_text())
            out.append({"seed": k, "run_dir": str(final), "auc": r.get("auc"), "val_auc": r.get("val_auc"),
                        "cpu_seconds": None, "train_seconds": r.get("train_seconds")})
            continue
        runner.submit(f"tune-final-{k}", train_final, best.to_dict(), str(final), k)
    while runner.pending:
        out.append(runner.next_done()[1])
    return sorted(out, key=lambda r: r["seed"])


def _summarise(study: Any, cfg: TuneConfig, best: ExperimentConfig, finals: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np
    import optuna

    study = optuna.load_study(study_name=cfg.study_name, storage=open_storage(storage_url(cfg), cfg))
    trials = study.trials
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    cpu = sum(float(t.user_attrs.get("cpu_seconds", 0.0)) for t in trials)
    aucs = [f["auc"] for f in finals if f.get("auc") is not None]
    summary = {
        "study": cfg.study_name, "storage": storage_url(cfg), "n_trials": len(trials), "states": states,
        "best_trial": study.best_trial.number, "best_val_auc": study.best_value,
        "best_params": cfg.search_space().decode(study.best_trial.params),
        "best_run_dir": study.best_trial.user_attrs.get("run_dir"),
        "search_cpu_minutes": cpu / 60.0,
        "final": finals,
        "final_cpu_minutes": sum(float(f.get("cpu_seconds") or 0.0) for f in finals) / 60.0,
        "test_auc_mean": float(np.mean(aucs)) if aucs else None,
        "test_auc_std": float(np.std(aucs, ddof=1)) if len(aucs) > 1 else None,
    }
    write_json(Path(cfg.out_dir) / "summary.json", summary)
    _plots(study, Path(cfg.out_dir) / "plots")
    msg = f"tune: best trial {summary['best_trial']} val_auc {summary['best_val_auc']:.4f}"
    if aucs:
        msg += f"; test AUC over {len(aucs)} seeds {summary['test_auc_mean']:.4f}"
    write_line(msg + f"; {summary['search_cpu_minutes']:.1f} CPU min in trials -> {cfg.out_dir}/best.yaml")
    return summary


def _plots(study: Any, out: Path) -> None:
    """Optuna's optimisation history, parameter importances and parallel coordinates (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    out.mkdir(parents=True, exist_ok=True)
    n_complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    makers = {"history": ovm.plot_optimization_history, "parallel": ovm.plot_parallel_coordinate}
    if n_complete >= 2 and len(study.best_trial.params) >= 1:
        makers["importances"] = ovm.plot_param_importances
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make in makers.items():
            try:
                ax = make(study)
            except (ValueError, RuntimeError) as e:  # e.g. importances of a parameter that never varied
                write_line(f"tune: no {name} plot ({e})")
                continue
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            fig.savefig(out / f"{name}.png", dpi=110, bbox_inches="tight")
            plt.close(fig)
