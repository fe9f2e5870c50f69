"""Weakly supervised resonance searches (CWoLa hunting, ANODE, CATHODE) on real Pythia dijets."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from colliderlab.anomaly.weak import (  # noqa: E402
    METHODS,
    ClassifierConfig,
    DijetSample,
    FlowTrainConfig,
    Preprocessor,
    SearchConfig,
    kfold_classifier,
    make_split,
    peak_sic,
    run_methods,
    sample_template,
    search_arrays,
    train_flow,
)
from colliderlab.metrics import auc  # noqa: E402
from colliderlab.physics.dijet import DijetConfig, dijet_chunk, dijet_features  # noqa: E402

FAST = ClassifierConfig(max_iter=60, min_samples_leaf=5)


def _two_sample_auc(a: np.ndarray, b: np.ndarray) -> float:
    """Out-of-fold AUC of a k-fold classifier "a vs b" (0.5: indistinguishable)."""
    oof_a, _ = kfold_classifier(a, b, a[:2], FAST, folds=5, seed=2)
    oof_b, _ = kfold_classifier(b, a, a[:2], FAST, folds=5, seed=3)
    return auc(np.r_[oof_a, 1.0 - oof_b], np.r_[np.ones(len(a)), np.zeros(len(b))])


def _sample(kind: str, chunks: range, chunk_events: int) -> DijetSample:
    config = DijetConfig(chunk_events=chunk_events, seed=31)
    outs = [dijet_chunk(kind, config, c) for c in chunks]
    return search_arrays(dijet_features(np.concatenate([o["jet_p4"] for o in outs]),
                                        np.concatenate([o["tau"] for o in outs])))


@pytest.fixture(scope="module")
def qcd() -> DijetSample:
    """About 500 QCD dijet events (leading R=1.0 jet above 1.2 TeV, CMS-like detector, MPI on)."""
    return _sample("qcd", range(3), 250)


@pytest.fixture(scope="module")
def wprime() -> DijetSample:
    """About 100 W' (3.5 TeV) -> X (500) Y (100) events."""
    return _sample("wprime", range(1), 110)


def test_injected_signal_is_ranked_above_the_background(qcd, wprime):
    """Classification without labels: data (half the QCD + the W' events) against a background
    template (the other QCD half). Out of fold, the injected W' events score above the data's QCD."""
    half = len(qcd) // 2
    data = np.concatenate([qcd.x[:half], wprime.x])
    is_signal = np.r_[np.zeros(half), np.ones(len(wprime))]
    oof, test = kfold_classifier(data, qcd.x[half:], wprime.x[:5], FAST, folds=5, seed=0)
    assert oof.shape == (len(data),) and test.shape == (5,)
    assert auc(oof, is_signal) > 0.75
    # No signal, no separation: the two QCD halves against each other stay near 0.5.
    assert abs(_two_sample_auc(qcd.x[:half], qcd.x[half:]) - 0.5) < 0.1


def test_flow_samples_match_their_training_data(qcd):
    """CATHODE's density model: samples at the training events' m_JJ are hard to tell from the
    training events (two-sample classifier AUC near 0.5), while a 60% shift of m_J1 is not."""
    prep = Preprocessor(qcd.x)
    m = ((qcd.mjj - qcd.mjj.mean()) / qcd.mjj.std())[:, None]
    flow, history = train_flow(prep.forward(qcd.x), m, FlowTrainConfig(epochs=60, batch_size=128, patience=60),
                               seed=0)
    assert np.isfinite([h["val_nll"] for h in history]).all()
    assert history[-1]["train_nll"] < history[0]["train_nll"]
    gen = sample_template(flow, prep, qcd.mjj, qcd.mjj, len(qcd), np.random.default_rng(1))
    assert len(gen) == len(qcd) and np.isfinite(gen.x).all()
    assert (gen.mjj >= qcd.mjj.min()).all() and (gen.mjj <= qcd.mjj.max()).all()

    shifted = qcd.x * np.array([1.6, 1.0, 1.0, 1.0])
    a_gen, a_shift = _two_sample_auc(qcd.x, gen.x), _two_sample_auc(qcd.x, shifted)
    assert a_gen < 0.62, a_gen
    assert a_shift > a_gen + 0.08, (a_shift, a_gen)


def test_split_keeps_injected_training_and_test_signal_apart(qcd, wprime):
    config = SearchConfig(min_background=5)
    bkg, ind = qcd.take(np.arange(0, len(qcd), 2)), qcd.take(np.arange(1, len(qcd), 2))
    split = make_split(bkg, wprime, ind, 20, config, np.random.default_rng(0))
    lo, hi = split.sr
    assert split.data_label.sum() == 20 and len(split.data) == len(bkg) + 20
    for s in (split.test, split.sim_bkg, split.sig_train):
        assert ((s.mjj >= lo) & (s.mjj < hi)).all()
    # No event is in two of: injected, supervised training, test (W' feature rows are unique).
    injected = {tuple(r) for r in split.data.x[split.data_label == 1]}
    test_sig = {tuple(r) for r in split.test.x[split.test_label == 1]}
    train_sig = {tuple(r) for r in split.sig_train.x}
    assert not (injected & test_sig) and not (injected & train_sig) and not (test_sig & train_sig)
    assert split.n_signal_sr <= 20 and split.n_background_sr > 0


def test_every_method_runs_and_the_supervised_bound_separates(qcd, wprime):
    config = SearchConfig(min_background=5, classifier=FAST, flow=FlowTrainConfig(epochs=3, batch_size=128))
    bkg, ind = qcd.take(np.arange(0, len(qcd), 2)), qcd.take(np.arange(1, len(qcd), 2))
    split = make_split(bkg, wprime, ind, 30, config, np.random.default_rng(0))
    res = run_methods(split, config, seed=0)
    assert set(res) == set(METHODS)
    for r in res.values():
        assert r["test_score"].shape == split.test_label.shape and np.isfinite(r["test_score"]).all()
    assert res["supervised"]["auc"] > 0.9
    assert res["supervised"]["peak_sic"] > 1.5


def test_peak_sic_keeps_enough_background():
    """A perfect score on 100 background events: the tightest allowed cut keeps 25 of them, so
    the peak SIC is 1 / sqrt(0.25) = 2 (not the unbounded value of a cut that keeps none)."""
    labels = np.r_[np.zeros(100), np.ones(50)]
    score = np.r_[np.linspace(0, 1, 100), np.full(50, 2.0)]
    assert peak_sic(score, labels, 25) == pytest.approx(2.0)
    assert peak_sic(score, labels, 4) == pytest.approx(5.0)


def test_preprocessing_round_trips_and_bad_input_is_named(qcd):
    prep = Preprocessor(qcd.x)
    np.testing.assert_allclose(prep.inverse(prep.forward(qcd.x)), qcd.x, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        DijetSample(np.zeros((3, 5)), np.zeros(3))
    x = np.zeros((4, 4))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="first at row 2"):
        DijetSample(x, np.ones(4))
    with pytest.raises(ValueError, match="valid: supervised"):
        run_methods(None, SearchConfig(), ["cathode", "salad"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_signal"):
        make_split(qcd, qcd, qcd, len(qcd) + 1, SearchConfig(), np.random.default_rng(0))


def test_cli_generates_dijets_and_runs_the_search(tmp_path, capsys):
    """`colliderlab anomaly dijets` writes the samples; `colliderlab anomaly search` reads them and
    writes the peak-SIC table, the JSON and the SIC figure; several independent files are concatenated;
    bad method names are listed."""
    import json

    from colliderlab.cli import main

    files = {}
    for name, kind, n, seed in (("bkg", "qcd", 300, 5), ("sig", "wprime", 90, 6), ("ind", "qcd", 300, 7)):
        files[name] = str(tmp_path / f"{name}.h5")
        assert main(["anomaly", "dijets", "--kind", kind, "--n", str(n), "--out", files[name], "--seed", str(seed),
                     "--quiet"]) == 0
    capsys.readouterr()
    out = tmp_path / "search"
    args = ["anomaly", "search", "--background", files["bkg"], "--signal", files["sig"], "--independent",
            files["ind"], files["bkg"], "--out-dir", str(out), "--runs", "1", "--flow-epochs", "2", "--n-signal", "20",
            "--min-background", "5"]
    assert main([*args, "--methods", "supervised,idealised,cathode", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary[0]["n_signal"] == 20 and set(summary[0]) >= {"supervised", "idealised", "cathode"}
    assert 0.0 <= summary[0]["cathode"]["auc"] <= 1.0
    assert (out / "results.json").exists() and (out / "sic_curves.png").exists()
    assert json.loads((out / "results.json").read_text())["n_independent"] == 600  # two files, concatenated
    assert main([*args, "--methods", "cathode,magic"]) == 2
    assert "valid: supervised" in capsys.readouterr().err
    assert main([*args[:3], files["sig"], *args[4:]]) == 2  # a W' file as the background
    assert "expected 'qcd'" in capsys.readouterr().err
