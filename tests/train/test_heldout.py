"""The benchmark's ranking gaps and held-out check, and the public top-tagging writer behind it."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pandas")

from colliderlab import kinematics as kin  # noqa: E402
from colliderlab.cli import main  # noqa: E402
from colliderlab.data.formats.toptag_writer import write_toptag  # noqa: E402
from colliderlab.data.readers import detect_format, read_jets  # noqa: E402
from colliderlab.metrics import paired_auc_difference  # noqa: E402

LIGHT_OBSERVABLES = {"kind": "observables", "names": ["mass", "mass_sd", "tau32", "tau21"]}


def test_public_writer_round_trip(toptag_jets, tmp_path):
    path = write_toptag(tmp_path / "public.h5", toptag_jets)
    assert detect_format(path) == "toptag"
    back = read_jets(path, n_particles=toptag_jets.n_particles)
    np.testing.assert_array_equal(back.label, toptag_jets.label)
    assert back.label_names == ("qcd", "top")
    # the same constituents, pT-ordered, as float32 four-vectors; nothing but four-vectors survives
    np.testing.assert_array_equal(back.mask.sum(1), toptag_jets.mask.sum(1))
    np.testing.assert_allclose(kin.mass(back.jet_p4), kin.mass(toptag_jets.jet_p4), rtol=1e-4, atol=1e-2)
    assert not back.charge.any() and not back.pid.any()
    with pytest.raises(ValueError, match="qcd / top"):
        write_toptag(tmp_path / "x.h5", toptag_jets.__class__.zeros(2, 4, ("a", "b")))


def test_paired_auc_difference():
    rng = np.random.default_rng(0)
    y = rng.random(4000) < 0.5
    good = y + rng.normal(0, 0.8, y.size)
    worse = y + rng.normal(0, 1.2, y.size)
    same = paired_auc_difference(good, good, y, n=50)
    assert same["diff"] == 0 and same["std"] == 0
    d = paired_auc_difference(good, worse, y, n=100)
    assert d["diff"] > 2 * d["std"] > 0  # a real gap stands out of its paired spread
    noisy = paired_auc_difference(good, good + rng.normal(0, 0.05, y.size), y, n=100)
    assert abs(noisy["diff"]) < 2 * noisy["std"] + 1e-4
    with pytest.raises(ValueError, match="shape"):
        paired_auc_difference(good, worse[:10], y, n=5)


def test_benchmark_gaps_and_heldout(toptag_file, toptag_jets, tmp_path, capsys, monkeypatch):
    import colliderlab.train.benchmark as bench
    import colliderlab.train.heldout as ho

    public = write_toptag(tmp_path / "public.h5", toptag_jets)
    monkeypatch.setattr(bench, "ensure_toptag_sample", lambda cfg: toptag_file)
    monkeypatch.setattr(ho, "ensure_public_toptag_sample", lambda *a, **k: public)
    monkeypatch.setitem(bench.MODEL_SETUPS, "cut_based", {"representation": LIGHT_OBSERVABLES})
    monkeypatch.setitem(bench.MODEL_SETUPS, "dnn", {"representation": LIGHT_OBSERVABLES, "trainer": {"batch_size": 32}})
    monkeypatch.setitem(bench.MODEL_SETUPS, "pfn", {"representation": {"kind": "particles", "n_particles": 32,
                                                                          "features": "kinematic"},
                                                     "trainer": {"batch_size": 32}})
    argv = ["benchmark", "toptag", "--models", "cut_based,dnn,pfn", "--ensemble", "1", "--epochs", "2",
            "--out-dir", str(tmp_path / "b"), "--heldout", "300"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["gaps"]) == {"pfn"} and out["gaps"]["pfn"]["reference"] in ("cut_based", "dnn")
    assert out["gaps"]["pfn"]["std"] > 0
    held = out["heldout"]["models"]
    assert set(held) == {"cut_based", "dnn", "pfn"}
    for h in held.values():
        assert 0.5 < h["auc_heldout"] <= 1 and h["n_heldout"] == len(toptag_jets) and h["delta_std"] > 0
    assert main([*argv, "--no-train"]) == 0  # the table, from what is on disk, with its checks under it
    table = capsys.readouterr().out
    assert "Held-out" in table and "| pfn |" in table and "paired bootstrap" in table
