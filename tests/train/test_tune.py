"""Hyper-parameter searches (colliderlab.train.tune): the space, pruning, resuming a killed study,
parallel trials on a local Dask cluster with a journal file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

optuna = pytest.importorskip("optuna")

from colliderlab.train.config import experiment_from_dict, load_experiment  # noqa: E402
from colliderlab.train.tune_space import SearchSpace, apply_params  # noqa: E402


def _experiment(path: str, **trainer) -> dict:
    return {
        "name": "dnn-tune",
        "data": {"path": path},
        "representation": {"kind": "observables",
                           "names": ["mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd"]},
        "model": {"name": "dnn", "preset": "lite"},
        "trainer": {"epochs": 3, "batch_size": 32, "lr": 3e-3, "progress": False, "num_threads": 1, **trainer},
    }


def test_space_key_not_in_experiment_is_refused_with_valid_keys(tmp_path, capsys):
    cfg = experiment_from_dict(_experiment("unused.h5"))
    space = SearchSpace.from_dict({"trainer.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2}})
    with pytest.raises(KeyError) as e:
        space.check(cfg)
    msg = str(e.value)
    assert "trainer.learning_rate" in msg
    for valid in ("trainer.lr", "model.options.hidden", "model.options.dropout", "representation.names"):
        assert valid in msg
    # the CLI refuses it before any trial runs
    from colliderlab.cli import main

    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(_experiment("unused.h5")))
    (tmp_path / "space.yaml").write_text("model.options.widths: [[8], [16]]\n")
    assert main(["tune", str(tmp_path / "exp.yaml"), "--space", str(tmp_path / "space.yaml"), "--trials", "2",
                 "--out", str(tmp_path / "study")]) == 2
    err = capsys.readouterr().err
    assert "model.options.widths" in err and "model.options.hidden" in err
    assert not (tmp_path / "study" / "trials").exists()


@pytest.mark.parametrize("spec, match", [
    ({"type": "gaussian", "low": 0, "high": 1}, "not one of float, int, categorical"),
    ({"type": "float", "low": 1.0, "high": 0.1}, "above high"),
    ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "low > 0"),
    ({"type": "int", "low": 1, "high": 4, "choices": [1]}, "unknown field"),
    ({"type": "categorical", "choices": []}, "non-empty"),
    ({"type": "int", "low": 0.5, "high": 4}, "integer bounds"),
])
def test_bad_distributions_are_refused(spec, match):
    with pytest.raises(ValueError, match=match):
        SearchSpace.from_dict({"trainer.lr": spec})


def test_params_apply_as_experiment_values():
    cfg = experiment_from_dict(_experiment("x.h5"))
    space = SearchSpace.from_dict({"model.options.hidden": [[16, 16], [32]], "trainer.batch_size": [64, 128]})
    study = optuna.create_study()
    trial = study.ask()
    params = space.suggest(trial)
    assert params["model.options.hidden"] in ([16, 16], [32])
    new = apply_params(cfg, params)
    assert list(new.model.options["hidden"]) == params["model.options.hidden"]
    assert new.trainer.batch_size == params["trainer.batch_size"]
    assert new.trainer.lr == cfg.trainer.lr  # untouched keys stay
    # Optuna stores list choices as text; decode gives them back as lists
    assert space.decode(trial.params)["model.options.hidden"] == params["model.options.hidden"]


def test_pruning_stops_a_trial_through_the_trainer_callback(toptag_file, tmp_path):
    from colliderlab.train.experiment import run_experiment
    from colliderlab.train.tune import PruningCallback

    cfg = experiment_from_dict(_experiment(toptag_file, epochs=5))
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=1.01))

    def objective(trial):
        return run_experiment(cfg, tmp_path / "run", progress=False, plots=False,
                              callbacks=[PruningCallback(trial)])["val_auc"]

    study.optimize(objective, n_trials=1)
    t = study.trials[0]
    assert t.state == optuna.trial.TrialState.PRUNED
    assert list(t.intermediate_values) == [1]  # reported after epoch 1, stopped there
    assert 0.5 < t.intermediate_values[1] <= 1.0


def _db_trials(url: str) -> list:
    try:
        return optuna.load_study(study_name="colliderlab", storage=url).trials
    except Exception:  # the study or its tables are not there yet
        return []


def test_three_trial_study_resumes_after_a_kill(toptag_file, tmp_path):
    """Kill ``colliderlab tune`` during its second trial; run it again: the dead trial is marked
    FAIL by its missing heartbeat and retried in its own run directory (resumed from the last
    checkpoint); the study ends with 3 complete trials and the best experiment as YAML."""
    exp, study_dir = tmp_path / "exp.yaml", tmp_path / "study"
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(_experiment(toptag_file, epochs=40, patience=0)))
    (tmp_path / "space.yaml").write_text("trainer.lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n")
    args = [sys.executable, "-m", "colliderlab.cli", "tune", str(exp), "--space", str(tmp_path / "space.yaml"),
            "--trials", "3", "--out", str(study_dir), "--final-seeds", "0", "--pruner", "none",
            "--heartbeat", "1", "--grace", "2"]
    url = f"sqlite:///{study_dir / 'study.db'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    killed = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            trials = _db_trials(url)
            done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
            running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
            if done and running:
                rd = running[0].user_attrs.get("run_dir")
                last = Path(rd) / "checkpoint_last.json" if rd else None
                # at least one epoch in, and far from its end: the kill must land while it runs
                if last is not None and last.exists() and json.loads(last.read_text())["epoch"] < 20:
                    killed = running[0].number
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert killed is not None, f"the search never reached its second trial: {proc.stderr.read().decode()[-2000:]}"
    trials = _db_trials(url)
    assert trials[killed].state == optuna.trial.TrialState.RUNNING  # what a kill leaves behind
    time.sleep(2.5)  # past the grace period: the dead trial's heartbeat is stale

    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    trials = _db_trials(url)
    states = [t.state.name for t in trials]
    errors = [t.user_attrs.get("error") for t in trials]
    assert states.count("COMPLETE") == 3 and trials[killed].state.name == "FAIL", (states, errors)
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE"
    assert retry[0].params == trials[killed].params
    assert retry[0].user_attrs["run_dir"] == trials[killed].user_attrs["run_dir"]  # resumed where it died
    import pandas as pd

    epochs = pd.read_csv(Path(retry[0].user_attrs["run_dir"]) / "metrics.csv")["epoch"]
    assert list(epochs) == list(range(1, 41))  # each epoch once: continued, not restarted from scratch
    best = load_experiment(study_dir / "best.yaml")
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    top = max(complete, key=lambda t: t.value)
    assert best.trainer.lr == pytest.approx(top.params["trainer.lr"])
    assert best.trainer.epochs == 40
    assert {"history.png", "parallel.png"} <= {p.name for p in (study_dir / "plots").iterdir()}


def test_parallel_trials_on_a_local_dask_cluster_with_a_journal(toptag_file, tmp_path):
    """Two worker processes share a journal-file study; a trial left RUNNING in the journal (no
    heartbeat there) is failed and retried when the search starts; the best setting is retrained
    with 2 seeds and their test AUCs reported."""
    from colliderlab.cluster import ClusterConfig
    from colliderlab.train.tune import TuneConfig, open_storage, run_study, storage_url

    space = {"trainer.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}}
    cfg = TuneConfig(experiment=experiment_from_dict(_experiment(toptag_file)).to_dict(), space=space,
                     n_trials=3, out_dir=str(tmp_path / "study"), final_seeds=2, pruner="none", parallel=True)
    url = storage_url(cfg)
    assert url.startswith("journal:") and url.endswith("journal.log")
    (tmp_path / "study").mkdir()
    orphan = optuna.create_study(study_name="colliderlab", storage=open_storage(url, cfg), direction="maximize")
    t = orphan.ask()
    t.suggest_float("trainer.lr", 1e-3, 1e-2, log=True)  # a trial a killed search left RUNNING
    summary = run_study(cfg, ClusterConfig(workers=2, dashboard=False))
    assert summary["states"]["FAIL"] == 1 and summary["states"]["COMPLETE"] >= 3
    study = optuna.load_study(study_name="colliderlab", storage=open_storage(url, cfg))
    retried = [x for x in study.trials if x.system_attrs.get("failed_trial") == 0]
    assert len(retried) == 1 and retried[0].params == study.trials[0].params
    assert len(summary["final"]) == 2 and all(0.5 < f["auc"] <= 1.0 for f in summary["final"])
    assert summary["test_auc_mean"] == pytest.approx(sum(f["auc"] for f in summary["final"]) / 2)
    assert summary["final"][0]["auc"] != summary["final"][1]["auc"]  # different seeds, different nets
    assert load_experiment(tmp_path / "study" / "best.yaml").model.name == "dnn"
