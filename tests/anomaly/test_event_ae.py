"""Event-level autoencoder and VAE anomaly scores (arXiv:1811.10276) on real Pythia jets.

The session's QCD jets stand in for the Standard Model and its top jets for an anomaly: 16 jet
observables per jet (the hls4ml test's set), the scorers trained on its ~150 QCD jets only for a
fixed number of steps; p-values come from an independent QCD sample (tests/anomaly/conftest.py).
Checked: the scores rank top above held-out QCD, the held-out QCD p-values are uniform
while the top ones are not, training stays finite, checkpoints rebuild the scorer, ONNX parity,
the hls4ml fixed-point emulation of the autoencoder, and the whole workflow's outputs.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scipy import stats  # noqa: E402

from colliderlab.anomaly import event_ae as ea  # noqa: E402
from colliderlab.anomaly import event_ae_train as eat  # noqa: E402
from colliderlab.anomaly.pvalues import pvalues  # noqa: E402
from colliderlab.metrics import auc  # noqa: E402
from colliderlab.models.registry import create_model, model_from_config  # noqa: E402
from colliderlab.train.trainer import TrainerConfig  # noqa: E402

# the observables of the fixtures in tests/anomaly/conftest.py
FEATURES = (
    "mass", "pt", "n_constituents", "n_charged", "n_neutral", "tau1", "tau2", "tau3", "tau4",
    "tau21", "tau32", "mass_sd", "girth", "ptd", "jet_charge", "zlogz",
)

STEPS = 200


def _trainer(steps: int = STEPS) -> TrainerConfig:
    return TrainerConfig(epochs=10_000, max_steps=steps, batch_size=32, lr=3e-3, schedule="none", patience=0,
                         progress=False, seed=0, amp=False)


@pytest.fixture(scope="module")
def jets(toptag_observables, qcd_jets_600):
    """(qcd_train ~150, qcd_reference 500, qcd_heldout 100, top ~150) raw observables, (N, 16) each:
    trained on the toptag sample's QCD jets, p-values from an independent QCD sample."""
    x, y = toptag_observables
    return x[y == 0], qcd_jets_600[:500], qcd_jets_600[500:], x[y == 1]


@pytest.fixture(scope="module")
def trained(jets):
    """The lite AE and VAE after STEPS steps on the QCD training jets."""
    models = {}
    for name in ("anomaly_ae", "anomaly_vae"):
        torch.manual_seed(0)
        model = create_model(name, "lite", n_features=len(FEATURES))
        res = eat.train_scorer(model, jets[0], jets[1], _trainer())
        assert res.steps == STEPS
        models[name] = model
    return models


@pytest.mark.parametrize("name", ["anomaly_ae", "anomaly_vae"])
def test_scores_rank_top_above_qcd_and_pvalues(name, jets, trained):
    _, ref, held, top = jets
    model = trained[name]
    s_ref, s_held, s_top = (eat.score_events(model, x) for x in (ref, held, top))
    for s in (s_ref, s_held, s_top):
        assert set(s) == set(ea.SCORE_TERMS) and all(np.isfinite(v).all() for v in s.values())
    a = auc(np.r_[s_held["total"], s_top["total"]], np.r_[np.zeros(len(held)), np.ones(len(top))])
    assert a > 0.7, f"{name}: AUC {a:.3f} of top vs held-out QCD after {STEPS} steps"
    # p-values from the (5x larger) QCD reference: uniform for held-out QCD, not for top
    p_held, p_top = pvalues(s_ref["total"], s_held["total"]), pvalues(s_ref["total"], s_top["total"])
    assert stats.kstest(p_held, "uniform").pvalue > 0.01
    assert stats.kstest(p_top, "uniform").pvalue < 1e-3
    assert np.median(p_top) < np.median(p_held)


def test_vae_terms_and_training_stay_finite(jets):
    x = jets[0]
    for decoder in ("gaussian", "mse"):
        torch.manual_seed(1)
        model = create_model("anomaly_vae", "lite", n_features=len(FEATURES), decoder=decoder, beta=0.5)
        res = eat.train_scorer(model, x, jets[1], _trainer(30))
        assert all(np.isfinite(r["train_loss"]) and np.isfinite(r["val_loss"]) for r in res.history)
        assert all(torch.isfinite(p.detach()).all() for p in model.parameters())
        s = eat.score_events(model, x)
        assert (s["kl"] >= 0).all()
        np.testing.assert_allclose(s["total"], s["reco"] + 0.5 * s["kl"], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(eat.score_events(model, x)["total"], s["total"])  # eval: z = mu
        np.testing.assert_allclose(model.mean.numpy(), x.mean(0), rtol=1e-4, atol=1e-4)  # fitted on train
    ae = create_model("anomaly_ae", "lite", n_features=len(FEATURES))
    ae.set_standardisation(x)
    assert (eat.score_events(ae, x)["kl"] == 0).all()


def test_configs_and_inputs_are_checked(jets):
    with pytest.raises(ValueError, match="'gaussian' or 'mse'"):
        ea.AnomalyVAEConfig(n_features=4, decoder="bernoulli")
    with pytest.raises(ValueError, match="at least one hidden layer"):
        ea.AnomalyAEConfig(n_features=4, hidden=())
    model = create_model("anomaly_ae", "lite", n_features=len(FEATURES))
    with pytest.raises(ValueError, match=r"shape \(N, 16\)"):
        eat.score_events(model, jets[0][:, :8])
    bad = jets[0].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite values, first at row 3, feature 2"):
        eat.train_scorer(model, bad)
    with pytest.raises(TypeError, match="dense autoencoder"):
        eat.hls_network(create_model("anomaly_vae", "lite", n_features=len(FEATURES)))


def test_checkpoint_rebuilds_the_scorer(trained, jets, tmp_path):
    for name, model in trained.items():
        path = eat.save_scorer(model, tmp_path / f"{name}")
        clone = eat.load_scorer(path)
        assert type(clone) is type(model) and clone.config == model.config
        np.testing.assert_array_equal(eat.score_events(clone, jets[3])["total"], eat.score_events(model, jets[3])["total"])
        again = model_from_config(name, json.loads(json.dumps(dataclasses.asdict(model.config))))
        assert again.config == model.config  # JSON round trip (tuples become lists)


def test_onnx_parity(trained, jets, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    x = np.concatenate([jets[2], jets[3]])
    for name, model in trained.items():
        rep = eat.export_onnx_scorer(model, x, tmp_path / f"{name}.onnx")
        assert rep["parity"]["max_rel_diff"] < 1e-5, rep
        assert {c["batch"] for c in rep["parity"]["cases"]} == {1, 7, 64}
        assert rep["output_name"] == "anomaly_score" and rep["dynamic_axes"] == {"x": {"0": "batch"}}
        np.testing.assert_allclose(eat.onnx_scores(rep["file"], x), eat.score_events(model, x)["total"],
                                   rtol=1e-5, atol=1e-6)


def test_hls4ml_emulated_score_follows_the_float_one(trained, jets, tmp_path):
    from colliderlab.export import hls

    ok, why = hls.hls4ml_available()
    if not ok:
        pytest.skip(why)
    model = trained["anomaly_ae"]
    qcd, top = jets[2], jets[3]
    cfg = hls.HLSConfig(output_dir=str(tmp_path / "prj"), project_name="anomaly_ae")
    em_q = eat.hls_scores(model, qcd, cfg)
    em_t = eat.hls_scores(model, top, handle=em_q["handle"])
    # the float score on the (unclipped here) inputs is the model's own score
    assert em_q["clipped_fraction"] == 0.0
    np.testing.assert_allclose(em_q["float"], eat.score_events(model, qcd)["total"], rtol=1e-4, atol=1e-6)
    cmp = eat.compare_scores(np.r_[em_q["float"], em_t["float"]], np.r_[em_q["emulated"], em_t["emulated"]])
    assert cmp["pearson"] > 0.99 and cmp["spearman"] > 0.98, cmp
    assert 0 < cmp["max_abs_diff"] < 0.2  # fixed point, not float
    lab = np.r_[np.zeros(len(qcd)), np.ones(len(top))]
    a_f = auc(np.r_[em_q["float"], em_t["float"]], lab)
    a_e = auc(np.r_[em_q["emulated"], em_t["emulated"]], lab)
    assert abs(a_f - a_e) < 0.02, (a_f, a_e)
    assert (em_q["handle"].output_dir / "firmware" / "anomaly_ae.cpp").exists()


def test_run_event_anomaly_writes_tables_and_plots(jets, tmp_path):
    from colliderlab.anomaly.event_search import (
        EventAnomalyConfig,
        efficiency_table_markdown,
        run_event_anomaly,
    )
    from colliderlab.models.bdt import BDTConfig

    train, ref, held, top = jets
    cfg = EventAnomalyConfig(trainer=_trainer(100), acceptances=(0.1, 0.02, 0.01), trigger=False,
                             bdt=BDTConfig(n_estimators=40, n_threads=1), val_fraction=0.3,
                             log_features=("mass", "pt"))
    sm_test = ref  # 500 events: 10 / N = 0.02
    m = run_event_anomaly(train, sm_test, {"top": top}, cfg, tmp_path, feature_names=FEATURES,
                          test_sm_process=np.zeros(len(sm_test), np.int64), process_names=("qcd",))
    assert m["acceptances"] == [0.1, 0.02] and m["dropped_acceptances"] == [0.01]  # 0.01 < 10 / 500
    assert m["methods"] == ["ae", "vae_total", "vae_kl", "vae_reco", "bdt"]
    assert m["auc"]["top"]["bdt"] > 0.85 and m["auc"]["top"]["ae"] > 0.7, m["auc"]
    rows = [r for r in m["efficiencies"] if r["signal"] == "top"]
    assert {r["method"] for r in rows} == set(m["methods"]) and all(r["n_sm_passing"] >= 10 for r in rows)
    assert set(m["pvalue_uniformity"]) == {"ae", "vae_total", "vae_kl", "vae_reco"}
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["auc"] == m["auc"]
    for f in ("scores_ae.png", "pvalues_vae_kl.png", "roc_top.png"):
        assert (tmp_path / "plots" / f).stat().st_size > 1000, f
    assert "| top |" in efficiency_table_markdown(m) and (tmp_path / "efficiencies.md").exists()
    assert eat.load_scorer(tmp_path / "ae.safetensors").config.n_features == len(FEATURES)
    with pytest.raises(ValueError, match="features"):
        run_event_anomaly(train, sm_test[:, :5], {"top": top}, cfg)
    with pytest.raises(ValueError, match=r"log_features \['nope'\] are not among the features: mass, pt"):
        run_event_anomaly(train, sm_test, {"top": top}, dataclasses.replace(cfg, log_features=("nope",)),
                          feature_names=FEATURES)
