"""Tasks on simulated showers through the normal experiment path: particle identification with a
layer-wise CNN on cells and a BDT on shower shapes, and energy regression."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab.data.calo_sim import simulate_to_file  # noqa: E402
from colliderlab.train.experiment import experiment_from_dict, load_run, run_experiment  # noqa: E402


@pytest.fixture(scope="module")
def e_pi_file(tmp_path_factory):
    """400 electrons and 400 charged pions, 5-50 GeV, three-layer geometry (CaloChallenge file)."""
    path = tmp_path_factory.mktemp("calo") / "e_pi.h5"
    return str(simulate_to_file(path, "calogan", ["e-", "pi+"], 400, energy=(5.0, 50.0), seed=3, progress=False))


def _exp(path, model, rep, **trainer):
    return experiment_from_dict({
        "name": model, "data": {"path": path, "cache_dir": None}, "representation": rep,
        "model": {"name": model, "preset": "lite"},
        "trainer": {"epochs": 6, "batch_size": 64, "lr": 2e-3, "progress": False, "patience": 0, **trainer},
    })


def test_particle_id_cnn_and_bdt(e_pi_file, tmp_path):
    cnn = run_experiment(_exp(e_pi_file, "calo_cnn", {"kind": "calo", "normalize": "deposited"}), tmp_path / "cnn",
                         progress=False, plots=False)
    bdt = run_experiment(_exp(e_pi_file, "bdt", {"kind": "calo_features"}), tmp_path / "bdt", progress=False, plots=False)
    assert cnn["class_names"] == ["e-", "pi+"] and cnn["auc"] > 0.9, cnn["auc"]
    assert bdt["auc"] > 0.9, bdt["auc"]  # electrons and pions differ in depth and width
    # the run directory alone rebuilds the CNN (layer shapes from the geometry) and scores the file
    probs, labels = load_run(tmp_path / "cnn").predict_proba(e_pi_file)
    assert probs.shape == (800, 2) and set(np.unique(labels)) == {0, 1}


def test_energy_regression_from_cells(tmp_path):
    """Electrons: the CNN learns E_inc from the visible energy and the shower shape."""
    path = str(simulate_to_file(tmp_path / "e.h5", "calogan", ["e-"], 600, energy=(5.0, 50.0), seed=4, progress=False))
    d = _exp(path, "calo_cnn", {"kind": "calo", "normalize": "deposited"}, epochs=40, lr=3e-3).to_dict()
    d["data"]["target"] = "incident_energy"
    d["model"]["options"] = {"max_flat": 16}
    exp = experiment_from_dict(d)
    res = run_experiment(exp, tmp_path / "reg", progress=False, plots=False)
    assert res["target"] == "incident_energy" and res["r2"] > 0.8, res
    assert 0.85 < res["response_median"] < 1.15
    # the classical references: least squares and a BDT on the shower shapes (visible energy included)
    for name, r2_min in (("linear_regression", 0.5), ("bdt_regression", 0.9)):
        d = _exp(path, name, {"kind": "calo_features"}).to_dict()
        d["data"]["target"] = "incident_energy"
        base = run_experiment(experiment_from_dict(d), tmp_path / name, progress=False, plots=False)
        assert base["r2"] > r2_min and 0.85 < base["response_median"] < 1.15, (name, base)
        out, true = load_run(tmp_path / name).predict_proba(path)
        assert out.shape == (600, 1) and 5.0 < np.median(out) < 50.0  # GeV
    with pytest.raises(ValueError, match="regression baseline: set data.target"):
        run_experiment(_exp(path, "bdt_regression", {"kind": "calo_features"}), tmp_path / "x")


def test_heteroscedastic_regression_learns_calibrated_uncertainties(tmp_path):
    """Gaussian NLL: the CNN predicts E_inc and its own resolution; pulls come out near unit width."""
    path = str(simulate_to_file(tmp_path / "e.h5", "calogan", ["e-"], 1500, energy=(5.0, 50.0), seed=5, progress=False))
    d = _exp(path, "calo_cnn", {"kind": "calo", "normalize": "deposited"}, epochs=100, lr=3e-3, loss="gaussian_nll").to_dict()
    d["data"]["target"] = "incident_energy"
    # dropout noise in training would inflate the learnt variance; small pooled maps keep it quick
    d["model"]["options"] = {"dropout": 0.0, "max_flat": 16}
    res = run_experiment(experiment_from_dict(d), tmp_path / "nll", progress=False, plots=False)
    assert res["r2"] > 0.8, res
    # measured: pull width 0.975, coverage 0.68 (with dropout in training: 0.47, the variance absorbed it)
    assert 0.8 < res["pull_width"] < 1.25 and abs(res["pull_mean"]) < 0.35, res
    assert 0.55 < res["coverage_1sigma"] < 0.8, res
    with pytest.raises(ValueError, match="regression loss"):
        run_experiment(experiment_from_dict({**d, "data": {**d["data"], "target": None}}), tmp_path / "x")
