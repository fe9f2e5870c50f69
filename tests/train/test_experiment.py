"""Experiment files, run directories, and the train / evaluate / predict commands."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

from colliderlab.cli import main  # noqa: E402
from colliderlab.train.experiment import (  # noqa: E402
    apply_overrides,
    evaluate_run,
    experiment_from_dict,
    load_experiment,
    load_run,
    predict_run,
    run_experiment,
)

FAST_TRAINER = {"epochs": 3, "batch_size": 32, "lr": 2e-3, "progress": False, "patience": 0}
# Observables without the O(n^3) energy correlators keep these tests quick.
LIGHT_OBSERVABLES = {"kind": "observables", "names": ["mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd"]}


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    global CACHE
    CACHE = str(tmp_path_factory.mktemp("repcache"))


def _exp(path, model="pfn", rep=None, **trainer):
    if rep is None and model in ("dnn", "bdt"):
        rep = LIGHT_OBSERVABLES
    d = {
        "name": f"test-{model}",
        "data": {"path": str(path), "cache_dir": CACHE},
        "model": {"name": model, "preset": "lite"},
        "trainer": {**FAST_TRAINER, **trainer},
    }
    if rep is not None:
        d["representation"] = rep
    return d


def test_unknown_keys_name_themselves_and_the_valid_ones(tmp_path):
    with pytest.raises(KeyError, match="trainer.learning_rate.*valid keys of 'trainer':.*lr"):
        experiment_from_dict({"trainer": {"learning_rate": 1e-3}})
    with pytest.raises(KeyError, match="'modle'.*valid keys: name, data, representation, model, trainer"):
        experiment_from_dict({"modle": {}})
    with pytest.raises(KeyError, match="data.file"):
        experiment_from_dict({"data": {"file": "x.h5"}})
    with pytest.raises(ValueError, match="choose one of"):
        experiment_from_dict({"trainer": {"schedule": "exponential"}})
    d = apply_overrides({"trainer": {"lr": 1e-3}}, ["trainer.lr=3e-4", "model.name=part", "trainer.epochs=2"])
    cfg = experiment_from_dict(d)
    assert cfg.trainer.lr == 3e-4 and cfg.model.name == "part" and cfg.trainer.epochs == 2
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides({}, ["trainer.lr"])
    f = tmp_path / "e.yaml"
    f.write_text(yaml.safe_dump({"name": "x", "model": {"name": "dnn"}}))
    assert load_experiment(f, ["trainer.batch_size=8"]).trainer.batch_size == 8


def test_representation_that_does_not_fit_the_model(toptag_file, tmp_path):
    cfg = experiment_from_dict(_exp(toptag_file, "cnn", {"kind": "particles"}))
    with pytest.raises(ValueError, match="model 'cnn' takes representation\\(s\\) \\['image'\\], not 'particles'"):
        run_experiment(cfg, tmp_path / "run")


def test_pfn_run_directory_round_trip(toptag_file, tmp_path):
    run = tmp_path / "pfn"
    cfg = experiment_from_dict(_exp(toptag_file, "pfn", {"kind": "particles", "n_particles": 48}))
    res = run_experiment(cfg, run, progress=False)
    for f in ("config.yaml", "checkpoint_best.safetensors", "checkpoint_best.json", "checkpoint_last.safetensors",
              "checkpoint_last.json", "resume_state.pt", "metrics.csv", "results.json",
              "test_scores.h5", "plots/roc.png", "plots/scores.png", "plots/training.png"):
        assert (run / f).exists(), f
    assert res["params"] > 1000 and 0.5 < res["auc"] <= 1.0
    assert res["detector"] == "ideal" and res["mpi"] is False
    # the resolved representation is concrete (no "auto" left)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["representation"]["features"] in ("kinematic", "full")
    # a loaded run reproduces the test scores from the run directory alone
    loaded = load_run(run)
    with h5py.File(run / "test_scores.h5") as f:
        test_scores = f["scores"][:]
    probs, labels = loaded.predict_proba(toptag_file)
    assert probs.shape == (len(labels), 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert any(np.allclose(test_scores[0], p, atol=1e-5) for p in probs)
    out = predict_run(run, toptag_file, tmp_path / "scores.h5", progress=False)
    with h5py.File(out) as f:
        assert f["scores"].shape == probs.shape and f["labels"].shape == (len(labels),)
    ev = evaluate_run(run, toptag_file, progress=False, bootstrap=20)
    assert 0.5 < ev["auc"] <= 1.0 and "bootstrap" in ev
    # the same experiment again resumes (nothing left to train); a different one is refused
    again = run_experiment(cfg, run, progress=False)
    assert again["auc"] == pytest.approx(res["auc"], abs=1e-6)
    other = experiment_from_dict(_exp(toptag_file, "pfn", {"kind": "particles"}, lr=1e-2))
    with pytest.raises(FileExistsError, match="different experiment"):
        run_experiment(other, run, progress=False)


def test_image_run_writes_average_images(toptag_file, tmp_path):
    run = tmp_path / "cnn"
    res = run_experiment(experiment_from_dict(_exp(toptag_file, "cnn", {"kind": "image", "size": 24}, epochs=2)),
                         run, progress=False)
    assert (run / "plots" / "images.png").stat().st_size > 1000
    assert res["representation"] == "image"


def test_incompatible_checkpoint_is_refused(toptag_file, tmp_path):
    run = tmp_path / "dnn"
    run_experiment(experiment_from_dict(_exp(toptag_file, "dnn", epochs=1)), run, progress=False, plots=False)
    meta = json.loads((run / "checkpoint_best.json").read_text())
    meta["format"] = "colliderlab-checkpoint-0"
    (run / "checkpoint_best.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="incompatible|retrain"):
        load_run(run)


def test_baseline_through_the_same_run_directory(toptag_file, tmp_path):
    run = tmp_path / "bdt"
    res = run_experiment(experiment_from_dict(_exp(toptag_file, "bdt")), run, progress=False, plots=False)
    assert res["auc"] > 0.85
    probs, labels = load_run(run).predict_proba(toptag_file)
    assert probs.shape == (len(labels), 2)


def test_cli_train_evaluate_predict(toptag_file, tmp_path, capsys):
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump(_exp(toptag_file, "dnn")))
    run = tmp_path / "cli-run"
    assert main(["train", str(exp), "--run-dir", str(run), "--set", "trainer.epochs=2", "--quiet"]) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["epochs"] == 2
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", toptag_file, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert 0.5 < res["auc"] <= 1.0
    assert main(["predict", str(run), "--data", toptag_file, "--out", str(tmp_path / "s.h5")]) == 0
    with h5py.File(tmp_path / "s.h5") as f:
        assert f["scores"].shape[1] == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"model": {"name": "pfn"}, "trainer": {"epochz": 3}}))
    assert main(["train", str(bad), "--run-dir", str(tmp_path / "x")]) == 2
    assert "trainer.epochz" in capsys.readouterr().err


def test_benchmark_json_table(toptag_file, tmp_path, capsys, monkeypatch):
    import colliderlab.train.benchmark as bench

    monkeypatch.setattr(bench, "ensure_toptag_sample", lambda cfg: toptag_file)
    monkeypatch.setitem(bench.MODEL_SETUPS, "dnn", {"representation": LIGHT_OBSERVABLES, "trainer": {"batch_size": 32}})
    monkeypatch.setitem(bench.MODEL_SETUPS, "cut_based", {"representation": LIGHT_OBSERVABLES})
    argv = ["benchmark", "toptag", "--models", "cut_based,dnn", "--ensemble", "2", "--epochs", "4",
            "--out-dir", str(tmp_path / "b"), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["model"]: r for r in out["models"]}
    assert set(rows) == {"cut_based", "dnn"}
    for r in rows.values():
        assert set(r) >= {"auc", "accuracy", "rejection_at_0.3", "rejection_at_0.5", "params", "train_seconds",
                          "inference_jets_per_second"}
        assert 0.5 < r["auc"] <= 1.0
    assert out["sample"]["ensemble"] == 2
    # the two dnn trainings differ only in their seed, and both are on disk
    aucs = [json.loads((tmp_path / "b" / "dnn" / f"seed{k}" / "results.json").read_text())["auc"] for k in range(2)]
    assert aucs[0] != aucs[1]
    assert main(["benchmark", "toptag", "--models", "nope"]) == 2
    assert "valid:" in capsys.readouterr().err


def test_regression_head_learns_the_jet_mass(toptag_file, tmp_path):
    """``data.target`` turns any torch model into a regressor: here the jet mass from observables
    that do not contain it (groomed mass, girth, ...); R^2 must beat predicting the mean."""
    rep = {"kind": "observables", "names": ["mass_sd", "girth", "n_constituents", "tau21", "tau32"]}
    d = _exp(toptag_file, "dnn", rep, epochs=30, lr=3e-3)
    d["data"]["target"] = "jet_mass"
    run = tmp_path / "reg"
    res = run_experiment(experiment_from_dict(d), run, progress=False)
    assert res["target"] == "jet_mass" and "auc" not in res
    assert res["r2"] > 0.8 and 0.8 < res["response_median"] < 1.2, res
    assert (run / "plots" / "regression.png").exists()
    with h5py.File(run / "test_scores.h5") as f:
        pred, true = f["predictions"][:, 0], f["targets"][:, 0]
    assert 50 < np.median(true) < 250 and 50 < np.median(pred) < 250  # GeV, not standardised units
    # the run directory alone predicts in GeV, and evaluate reports the same metrics
    out, targets = load_run(run).predict_proba(toptag_file)
    assert out.shape == (len(targets), 1)
    ev = evaluate_run(run, toptag_file, progress=False)
    assert ev["r2"] > 0.5 and ev["target"] == "jet_mass"
    # a baseline or a classifier metric cannot regress; an unknown target lists the valid ones
    with pytest.raises(ValueError, match="classifier"):
        run_experiment(experiment_from_dict({**_exp(toptag_file, "bdt"), "data": d["data"]}), tmp_path / "b")
    with pytest.raises(KeyError, match="valid targets: jet_pt, jet_mass"):
        run_experiment(experiment_from_dict({**d, "data": {**d["data"], "target": "mass"}}), tmp_path / "c")
    with pytest.raises(ValueError, match="needs data.target"):
        run_experiment(experiment_from_dict(_exp(toptag_file, "dnn", rep, task="regression")), tmp_path / "d")


def test_table_writes_a_bound_where_no_background_is_left():
    from colliderlab.metrics import ensemble_summary
    from colliderlab.train.benchmark import format_table

    runs = [{"auc": 0.99, "accuracy": 0.95, "rejection_at_0.3": np.inf, "rejection_at_0.5": 400.0}] * 3
    row = {"model": "part", "k": 3, **runs[0], "ensemble": ensemble_summary(runs), "params": 10,
           "train_seconds": 1.0, "inference_jets_per_second": 1.0, "inference_jets_per_second_batch1": 1.0,
           "n_background_test": 2999}
    sample = {"detector": "atlas-like", "mpi": False, "n_jets": 40000, "n_train": 28000, "n_test": 6000,
              "ensemble": 3, "preset": "lite"}
    table = format_table({"models": [row], "sample": sample})
    assert "| > 2,999 |" in table and "nan" not in table and "400.0 (0.0)" in table


def test_anomaly_scorers_are_refused_by_experiments(tmp_path):
    # the spec declares the task: a scorer is trained by colliderlab.anomaly, and no data is read first
    cfg = experiment_from_dict({"data": {"path": str(tmp_path / "none.h5")}, "model": {"name": "anomaly_ae"}})
    with pytest.raises(ValueError, match="anomaly scorer, trained by colliderlab.anomaly"):
        run_experiment(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_numeric_strings_and_empty_sections_parse():
    cfg = experiment_from_dict({"trainer": {"lr": "3e-4", "epochs": "2", "class_weights": [1, 2]}, "data": None,
                                "model": {"name": "pfn", "options": {"phi": [8, 8]}}})
    assert cfg.trainer.lr == 3e-4 and cfg.trainer.epochs == 2 and cfg.trainer.class_weights == (1, 2)
    assert cfg.data.path == "" and dict(cfg.model.options) == {"phi": [8, 8]}
    with pytest.raises(TypeError, match="'data': expected a mapping"):
        experiment_from_dict({"data": [1]})
    with pytest.raises(KeyError, match=r"'quantization\.bits': unknown key; valid keys of 'quantization': weights"):
        experiment_from_dict({"quantization": {"bits": 8}})


def test_decorrelated_and_calibrated_runs_reload_what_they_stored(toptag_file, tmp_path):
    """An experiment's decorrelation section (DisCo, the adversary) and calibration: temperature run
    through run directories: the temperature is fitted on validation, stored, and applied when the run
    is loaded; the adversary's checkpoint reloads into its wrapper; results carry the test split's
    rejection and 1/JSD and the ECE before and after."""
    from colliderlab.calibration import load_calibration
    from colliderlab.metrics import softmax

    rep = {"kind": "particles", "n_particles": 48}
    d = _exp(toptag_file, "pfn", rep)
    d.update(decorrelation={"method": "disco", "variable": "mass", "lambda": 1.0}, calibration="temperature")
    run = tmp_path / "disco"
    res = run_experiment(experiment_from_dict(d), run, progress=False, plots=False)
    t = load_calibration(run)
    assert t is not None and t > 0 and res["calibration"]["temperature"] == pytest.approx(t)
    cal = res["calibration"]
    assert cal["val_nll_after"] <= cal["val_nll_before"] + 1e-9  # the fit never does worse where it was fitted
    assert {"ece", "ece_std"} <= set(cal["test_ece_after"])
    assert res["decorrelation"]["variable"] == "mass" and res["decorrelation"]["rejection"] >= 1.0
    assert "train_disco" in (run / "metrics.csv").read_text()
    loaded = load_run(run)
    assert loaded.temperature == pytest.approx(t)
    probs, _ = loaded.predict_proba(toptag_file)
    loaded.temperature = 1.0
    raw, _ = loaded.predict_proba(toptag_file)
    logits = np.log(np.clip(raw, 1e-30, None))
    np.testing.assert_allclose(probs, softmax(logits / t), atol=1e-5)

    d.update(decorrelation={"method": "adversary", "lambda": 2.0, "adversary": {"mode": "bins", "n_bins": 4}},
             calibration="none")
    run = tmp_path / "adversary"
    res = run_experiment(experiment_from_dict(d), run, progress=False, plots=False)
    assert "calibration" not in res and load_calibration(run) is None
    loaded = load_run(run)
    assert type(loaded.model).__name__ == "AdversarialTagger"
    with h5py.File(run / "test_scores.h5") as f:
        test_scores = f["scores"][:]
    probs, _ = loaded.predict_proba(toptag_file)
    assert any(np.allclose(test_scores[0], p, atol=1e-5) for p in probs)


def test_decorrelation_sections_are_checked():
    with pytest.raises(ValueError, match="'mjj' is not a per-jet variable.*valid variables: mass, pt"):
        experiment_from_dict({"decorrelation": {"variable": "mjj"}})
    with pytest.raises(ValueError, match="choose one of disco, adversary"):
        experiment_from_dict({"decorrelation": {"method": "planing"}})
    with pytest.raises(KeyError, match="decorrelation.adversary.bins.*valid keys"):
        experiment_from_dict({"decorrelation": {"method": "adversary", "adversary": {"bins": 3}}})
    with pytest.raises(ValueError, match="need method: adversary"):
        experiment_from_dict({"decorrelation": {"adversary": {"n_bins": 3}}})
    with pytest.raises(ValueError, match="choose one of none, temperature"):
        experiment_from_dict({"calibration": "platt"})
    cfg = experiment_from_dict({"model": {"name": "bdt"}, "decorrelation": {"lambda": 1}})
    with pytest.raises(ValueError, match="apply to torch classifiers"):
        run_experiment(cfg, "/nonexistent/run")


def test_deep_ensemble_and_mc_dropout_uncertainties(toptag_file, tmp_path):
    from colliderlab.train.uncertainty import ensemble_proba, mc_dropout_proba

    runs = []
    for seed in (1, 2):
        d = _exp(toptag_file, "pfn", {"kind": "particles", "n_particles": 32}, epochs=1, seed=seed)
        d["model"]["options"] = {"dropout": 0.3}
        runs.append(tmp_path / f"pfn{seed}")
        run_experiment(experiment_from_dict(d), runs[-1], progress=False, plots=False)
    mean, std, labels = ensemble_proba(runs, toptag_file)
    members = [load_run(r).predict_proba(toptag_file)[0] for r in runs]
    np.testing.assert_allclose(mean, (members[0] + members[1]) / 2, atol=1e-6)
    np.testing.assert_allclose(std, np.abs(members[0] - members[1]) / np.sqrt(2), atol=1e-6)
    assert labels.shape == (len(mean),) and std.max() > 0
    mc_mean, mc_std, _ = mc_dropout_proba(runs[0], toptag_file, n_samples=8)
    assert mc_mean.shape == mean.shape and np.allclose(mc_mean.sum(1), 1, atol=1e-5)
    assert (mc_std[:, 1] > 0).mean() > 0.9  # dropout was active: every jet's score moves
    np.testing.assert_allclose(mc_mean, members[0], atol=0.2)  # and averages near the deterministic score
    d = _exp(toptag_file, "pfn", {"kind": "particles", "n_particles": 32}, epochs=1)
    run_experiment(experiment_from_dict(d), tmp_path / "nodrop", progress=False, plots=False)
    with pytest.raises(ValueError, match="no dropout layer"):
        mc_dropout_proba(tmp_path / "nodrop", toptag_file)
    with pytest.raises(ValueError, match="at least 2 runs"):
        ensemble_proba(runs[:1], toptag_file)


def test_cli_calibrate_and_uncertainty(toptag_file, tmp_path, capsys):
    from colliderlab.calibration import load_calibration

    d = _exp(toptag_file, "pfn", {"kind": "particles", "n_particles": 32}, epochs=1)
    d["model"]["options"] = {"dropout": 0.2}
    run = tmp_path / "run"
    run_experiment(experiment_from_dict(d), run, progress=False, plots=False)
    assert load_calibration(run) is None
    assert main(["calibrate", str(run), "--data", toptag_file, "--plot", str(tmp_path / "rel.png"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert load_calibration(run) == pytest.approx(res["temperature"]) and (tmp_path / "rel.png").exists()
    assert res["nll_after"] <= res["nll_before"] + 1e-9 and res["ece_after"]["ece"] <= res["ece_before"]["ece"] + 0.02
    assert main(["uncertainty", str(run), "--data", toptag_file, "--out", str(tmp_path / "u.h5"), "--mc-dropout", "4"]) == 0
    with h5py.File(tmp_path / "u.h5") as f:
        assert f["mean"].shape == f["std"].shape == (len(f["labels"]), 2) and f["std"][:].max() > 0
    assert main(["uncertainty", str(run), "--data", toptag_file, "--out", str(tmp_path / "e.h5")]) == 2
    assert "at least 2 runs" in capsys.readouterr().err
