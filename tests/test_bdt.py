"""The xgboost baseline on real jets: it learns, and it round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from colliderlab import metrics
from colliderlab.models.bdt import BDTClassifier, BDTConfig


@pytest.fixture(scope="module")
def features(toptag_jets):
    from colliderlab.demo import BDT_FEATURES
    from colliderlab.features.observables import compute_observables

    obs = compute_observables(toptag_jets, names=BDT_FEATURES)
    x = np.stack([obs[k] for k in BDT_FEATURES], axis=1)
    y = (toptag_jets.label == toptag_jets.label_names.index("top")).astype(int)
    return x, y, BDT_FEATURES


def test_bdt_separates_top_from_qcd_on_held_out_jets(features):
    x, y, names = features
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))
    tr, te = idx[:200], idx[200:]
    bdt = BDTClassifier(BDTConfig(n_estimators=100, seed=1), names).fit(x[tr], y[tr])
    assert metrics.auc(bdt.score(x[te]), y[te]) > 0.85


def test_bdt_save_load_parity(features, tmp_path):
    x, y, names = features
    bdt = BDTClassifier(BDTConfig(n_estimators=20), names).fit(x, y)
    path = bdt.save(tmp_path / "m.ubj")
    back = BDTClassifier.load(path)
    np.testing.assert_array_equal(bdt.score(x), back.score(x))
    assert back.feature_names == names and back.config == bdt.config


def test_bdt_names_nan_inputs(features):
    x, y, names = features
    bad = x.copy()
    bad[7, 3] = np.nan
    with pytest.raises(ValueError, match=f"row 7, feature '{names[3]}'"):
        BDTClassifier(feature_names=names).fit(bad, y)
    with pytest.raises(ValueError, match=r"shape \(N, F\)"):
        BDTClassifier().fit(x[:, 0], y)
