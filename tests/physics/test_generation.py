"""Physics of the generated samples: mass peaks, windows, four-momentum, displaced tracks, reproducibility."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from colliderlab import kinematics as kin
from colliderlab.data.generate import generate_dataset
from colliderlab.data.h5 import read_h5
from colliderlab.physics.processes import PRESETS, PROCESSES, GenConfig, get_preset, parse_processes


def _by_label(batch, name):
    return batch[batch.label == batch.label_names.index(name)]


def test_top_jet_mass_peaks_near_top_mass(toptag_jets):
    top = _by_label(toptag_jets, "top")
    assert len(top) == 150
    assert 160.0 <= np.median(kin.mass(top.jet_p4)) <= 185.0
    assert np.all(np.abs(top.truth_pdg) == 6)


def test_qcd_jet_mass_is_lighter(toptag_jets):
    qcd = _by_label(toptag_jets, "qcd")
    assert np.median(kin.mass(qcd.jet_p4)) < 120.0


def test_w_z_higgs_mass_peaks(boson_jets):
    med = {n: np.median(kin.mass(_by_label(boson_jets, n).jet_p4)) for n in ("w", "z", "higgs")}
    assert 72.0 <= med["w"] <= 88.0
    assert 83.0 <= med["z"] <= 99.0
    assert 110.0 <= med["higgs"] <= 135.0


def test_matched_jets_contain_their_decay_products(boson_jets):
    for name, pdg in (("w", 24), ("z", 23), ("higgs", 25)):
        b = _by_label(boson_jets, name)
        assert np.all(np.abs(b.truth_pdg) == pdg)
        dr = kin.delta_r(kin.rapidity(b.jet_p4), kin.phi(b.jet_p4), kin.rapidity(b.truth_p4), kin.phi(b.truth_p4))
        assert np.all(dr < 0.8)


def test_truth_decay_partons_of_tops_and_bosons(toptag_jets, boson_jets):
    """Schema 3's truth_partons: a top's b and W quarks sum to the top (momentum conservation in
    the decay), the two W quarks to the W mass, all inside the jet; bosons carry their two quarks;
    QCD jets none."""
    top = _by_label(toptag_jets, "top")
    assert "truth_partons" in top.fields
    par = top.truth_partons  # (N, 3, 4)
    assert np.all(par[..., 0] > 0)  # three partons for every matched top
    m_sum = kin.mass(par.sum(axis=1))
    assert np.median(np.abs(m_sum - kin.mass(top.truth_p4))) < 1.0
    m_w = kin.mass(par[:, 1] + par[:, 2])
    assert np.median(np.abs(m_w - 80.4)) < 1.5  # a Breit-Wigner of width 2.1 GeV: half within 1.05
    dr = kin.delta_r(kin.rapidity(top.jet_p4)[:, None], kin.phi(top.jet_p4)[:, None],
                     kin.rapidity(par), kin.phi(par))
    assert np.all(dr < 0.8)
    assert not _by_label(toptag_jets, "qcd").truth_partons.any()
    for name, mass in (("w", 80.4), ("z", 91.2)):
        b = _by_label(boson_jets, name)
        assert np.all(b.truth_partons[:, :2, 0] > 0) and not b.truth_partons[:, 2].any()
        assert np.median(np.abs(kin.mass(b.truth_partons[:, 0] + b.truth_partons[:, 1]) - mass)) < 3.0


def test_tau32_lower_for_top_than_qcd(toptag_jets):
    from colliderlab.features.observables import compute_observables

    tau32 = compute_observables(toptag_jets, names=("tau32",))["tau32"]
    top = toptag_jets.label == toptag_jets.label_names.index("top")
    assert tau32[top].mean() < tau32[~top].mean() - 0.05


def test_ideal_detector_constituents_sum_to_jet(toptag_jets):
    summed = kin.sum_p4(toptag_jets.p4.astype(np.float64), toptag_jets.mask)
    scale = toptag_jets.jet_p4[:, :1]  # jet energy
    # float32 storage of the constituents: agreement to ~1e-6 of the jet energy
    assert np.max(np.abs(summed - toptag_jets.jet_p4) / scale) < 1e-5
    # and no jet has more than 200 constituents to lose
    assert toptag_jets.multiplicity.max() < 200


def test_jets_respect_pt_and_eta_windows(toptag_jets, boson_jets):
    for b in (toptag_jets, boson_jets):
        pt = kin.pt(b.jet_p4)
        assert pt.min() >= 550.0 and pt.max() <= 650.0
        assert np.abs(kin.eta(b.jet_p4)).max() < 2.0


def test_constituents_are_pt_ordered_and_padded(toptag_jets):
    pt = kin.pt(toptag_jets.p4)
    pt_masked = np.where(toptag_jets.mask, pt, -1.0)
    assert np.all(np.diff(pt_masked, axis=1) <= 1e-4)
    # mask is a prefix: no real constituent after a padded slot
    assert np.all(np.diff(toptag_jets.mask.astype(int), axis=1) <= 0)
    assert np.all(toptag_jets.p4[~toptag_jets.mask] == 0)


def test_file_is_shuffled_and_labelled(toptag_jets):
    assert toptag_jets.label_names == ("qcd", "top")
    assert np.bincount(toptag_jets.label).tolist() == [150, 150]
    # shuffled: not all of one class first
    first_half = toptag_jets.label[:150]
    assert 30 < first_half.sum() < 120


def test_bjets_tracks_more_displaced_than_light_jets(boson_jets):
    def mean_abs_d0(name):
        b = _by_label(boson_jets, name)
        tracks = b.mask & (b.charge != 0)
        return np.abs(b.d0[tracks]).mean()

    assert mean_abs_d0("higgs") > 2.0 * mean_abs_d0("qcd")


def test_detector_smears_jets(boson_jets):
    # the ATLAS-like card has tracks and calorimeter cells: both kinds of candidates appear
    b = boson_jets
    charged = (b.mask & (b.charge != 0)).sum()
    neutral = (b.mask & (b.charge == 0)).sum()
    assert charged > 0 and neutral > 0
    assert set(np.unique(b.pid[b.mask])) <= {1, 2, 3, 4, 5}


def test_gluon_jets_have_more_constituents_than_quark_jets(tmp_path):
    preset = get_preset("quark-gluon")
    config = GenConfig(**{**preset.overrides, "mpi": False, "seed": 7, "chunk_events": 100, "n_particles": 100})
    path = tmp_path / "qg.h5"
    generate_dataset(preset.processes, config, 60, path, progress=False)
    b = read_h5(path)
    g, q = _by_label(b, "gluon"), _by_label(b, "quark")
    assert np.all(g.truth_pdg == 21) and np.all(np.abs(q.truth_pdg) <= 5)
    assert g.multiplicity.mean() > q.multiplicity.mean() + 3
    assert np.abs(kin.rapidity(b.jet_p4)).max() < 1.7
    pt = kin.pt(b.jet_p4)
    assert pt.min() >= 500 and pt.max() <= 550


def test_same_seed_same_arrays_whatever_the_workers(tmp_path):
    config = GenConfig(mpi=False, seed=5, chunk_events=40, n_particles=64)
    one = generate_dataset(("qcd",), config, 40, tmp_path / "w1.h5", workers=1, progress=False)
    two = generate_dataset(("qcd",), config, 40, tmp_path / "w2.h5", workers=2, progress=False)
    a, b = read_h5(one.path), read_h5(two.path)
    for k, v in a.arrays().items():
        np.testing.assert_array_equal(v, b.arrays()[k], err_msg=k)
    other = read_h5(generate_dataset(("qcd",), replace(config, seed=6), 40, tmp_path / "s6.h5", progress=False).path)
    assert not np.array_equal(a.jet_p4, other.jet_p4)


def test_killed_run_resumes_and_matches_a_fresh_run(tmp_path, monkeypatch):
    import colliderlab.data.generate as gen

    config = GenConfig(mpi=False, seed=9, chunk_events=30, n_particles=64)
    out = tmp_path / "resume.h5"
    real = gen._run_chunk
    calls = {"n": 0}

    def dying(*args):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt("killed")
        return real(*args)

    monkeypatch.setattr(gen, "_run_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(("qcd",), config, 60, out, progress=False)
    assert not out.exists()  # nothing half-written under the final name
    assert len(list((tmp_path / "resume.h5.shards" / "parts").glob("*.npz"))) == 2
    monkeypatch.setattr(gen, "_run_chunk", real)
    report = generate_dataset(("qcd",), config, 60, out, progress=False)
    assert report.resumed_chunks == 2
    assert not (tmp_path / "resume.h5.shards" / "parts").exists()
    fresh = generate_dataset(("qcd",), config, 60, tmp_path / "fresh.h5", progress=False)
    np.testing.assert_array_equal(read_h5(out).p4, read_h5(fresh.path).p4)


def test_existing_output_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "x.h5"
    out.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_dataset(("qcd",), GenConfig(), 10, out, progress=False)
    assert out.read_bytes() == b"keep me"


def test_unknown_names_list_the_valid_choices():
    with pytest.raises(ValueError, match="valid processes: .*top.*qcd"):
        parse_processes("top,bogus")
    with pytest.raises(ValueError, match="valid presets: .*toptag"):
        get_preset("nope")
    with pytest.raises(ValueError, match="atlas-like"):
        generate_dataset(("qcd",), GenConfig(detector="no-such-card"), 10, "/tmp/never.h5", progress=False)


def test_presets_mimic_the_public_datasets():
    assert get_preset("toptag").processes == ("qcd", "top")
    assert get_preset("toptag").overrides["mpi"] is False
    qg = get_preset("quark-gluon").overrides
    assert qg["jet_r"] == 0.4 and qg["use_rapidity"] and qg["abs_eta_max"] == 1.7
    assert get_preset("hls4ml").processes == ("gluon", "quark", "w", "z", "top")
    assert set(PRESETS) == {"toptag", "quark-gluon", "hls4ml"}
    assert {"top", "qcd", "w", "z", "higgs", "quark", "gluon"} == set(PROCESSES)


@pytest.mark.slow
def test_pileup_adds_soft_particles_from_displaced_vertices(tmp_path):
    from colliderlab.physics.generator import generate_chunk

    base = GenConfig(mpi=False, seed=3, chunk_events=50, n_particles=200, detector="ideal")
    clean = generate_chunk("qcd", base, 0).batch
    pu = generate_chunk("qcd", replace(base, pileup_mu=40.0), 0).batch
    assert pu.multiplicity.mean() > clean.multiplicity.mean() + 5
    tracks = pu.mask & (pu.charge != 0)
    clean_tracks = clean.mask & (clean.charge != 0)
    assert np.abs(pu.dz[tracks]).mean() > 5 * np.abs(clean.dz[clean_tracks]).mean()
