"""Jet observables: agreement with fastjet-contrib on real Pythia jets, and physics invariants.

Reference values come only from fastjet-contrib through the ``fastjet`` package's awkward
interface (Nsubjettiness, EnergyCorrelator, SoftDrop), computed once per session on the
``toptag_jets`` fixture (150 top + 150 QCD jets, P = 200).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from colliderlab import kinematics as kin
from colliderlab.features import observables as obs
from colliderlab.jets import JetBatch

fastjet = pytest.importorskip("fastjet")
ak = pytest.importorskip("awkward")
vector = pytest.importorskip("vector")
vector.register_awkward()

RTOL = 1e-5  # required agreement with contrib


# ------------------------------------------------------------------------------------------
# Helpers and session fixtures
# ------------------------------------------------------------------------------------------
def _momenta(p4: np.ndarray, mask: np.ndarray):
    """Padded (N, P, 4) float32 constituents -> awkward Momentum4D lists, one per jet."""
    flat = p4[mask].astype(np.float64)
    rec = ak.zip(
        {"px": flat[:, 1], "py": flat[:, 2], "pz": flat[:, 3], "E": flat[:, 0]},
        with_name="Momentum4D",
    )
    return ak.unflatten(rec, mask.sum(axis=1))


def _one_jet_each(momenta):
    """Cluster every jet's constituents into a single C/A jet (R = 1000) for contrib tools."""
    return fastjet.ClusterSequence(
        momenta, fastjet.JetDefinition(fastjet.cambridge_algorithm, 1000.0)
    )


def _ecf(cs, **kwargs) -> np.ndarray:
    return ak.to_numpy(
        ak.flatten(cs.exclusive_jets_energy_correlator(njets=1, **kwargs), axis=None)
    )


def _assert_close(mine: np.ndarray, ref: np.ndarray, name: str, rtol: float = RTOL) -> None:
    ok = np.isfinite(ref)  # contrib gives NaN for 0/0 (e.g. a jet groomed to one constituent)
    assert np.isfinite(mine).all(), f"{name}: non-finite values"
    assert ok.mean() > 0.95, f"{name}: too few finite reference values"
    rel = np.abs(mine[ok] - ref[ok]) / np.maximum(np.abs(ref[ok]), 1e-300)
    worst = int(np.argmax(rel))
    assert rel.max() < rtol, (
        f"{name}: max relative difference {rel.max():.2e} (mine {mine[ok][worst]}, contrib {ref[ok][worst]})"
    )


@pytest.fixture(scope="session")
def jets(toptag_jets) -> JetBatch:
    return toptag_jets


@pytest.fixture(scope="session")
def mine(jets) -> dict[str, np.ndarray]:
    return obs.compute_observables(jets, names=obs.AVAILABLE_OBSERVABLES)


@pytest.fixture(scope="session")
def contrib(jets) -> dict[str, np.ndarray]:
    """fastjet-contrib values for the fixture jets."""
    cs = _one_jet_each(_momenta(jets.p4, jets.mask))
    tau = cs.njettiness(njets=[1, 2, 3, 4], beta=1.0, R0=0.8)  # NormalizedMeasure, OnePass_KT_Axes
    ref = {
        f"tau{i + 1}": np.asarray(ak.to_list(tau), float).reshape(len(jets), 4)[:, i]
        for i in range(4)
    }
    for beta in (1, 2):
        ref[f"e2_b{beta}"] = _ecf(cs, beta=beta, npoint=2, func="generalized")
        ref[f"e3_b{beta}"] = _ecf(cs, beta=beta, npoint=3, func="generalized")
        for func in ("c2", "d2", "m2", "n2"):
            ref[f"{func}_b{beta}"] = _ecf(cs, beta=beta, func=func)
    sd = cs.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=0.1, R0=0.8)
    ref["mass_sd"] = ak.to_numpy(ak.flatten(sd.msoftdrop, axis=None))
    ref["n_groomed"] = ak.to_numpy(ak.flatten(ak.num(sd.constituents, axis=-1), axis=None))

    groomed = ak.zip(
        {c: sd.constituents[c] for c in ("px", "py", "pz", "E")}, with_name="Momentum4D"
    )
    gcs = _one_jet_each(groomed)
    for beta in (0, 1, 2):
        ref[f"j_c1_b{beta}_mmdt"] = _ecf(gcs, beta=beta, func="c1")
    for beta in (1, 2):
        for func in ("c2", "d2", "m2", "n2"):
            ref[f"j_{func}_b{beta}_mmdt"] = _ecf(gcs, beta=beta, func=func)
        ref[f"j_d2_a1_b{beta}_mmdt"] = _ecf(gcs, beta=beta, alpha=1, func="generalizedd2")
    ref["j_mass_mmdt"] = ref["mass_sd"]
    return ref


# ------------------------------------------------------------------------------------------
# Agreement with fastjet-contrib
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tau1", "tau2", "tau3", "tau4"])
def test_nsubjettiness_matches_contrib(mine, contrib, name):
    _assert_close(mine[name], contrib[name], name)


@pytest.mark.parametrize("beta", [1, 2])
@pytest.mark.parametrize("kind", ["e2", "e3", "c2", "d2", "m2", "n2"])
def test_energy_correlators_match_contrib(mine, contrib, kind, beta):
    name = f"{kind}_b{beta}"
    _assert_close(mine[name], contrib[name], name)


def test_soft_drop_matches_contrib(jets, mine, contrib):
    _assert_close(mine["mass_sd"], contrib["mass_sd"], "mass_sd")
    groomed = obs.soft_drop(jets.p4, jets.mask)
    np.testing.assert_array_equal(groomed.mask.sum(axis=1), contrib["n_groomed"])
    assert not (groomed.mask & ~jets.mask).any()
    np.testing.assert_allclose(groomed.mass, contrib["mass_sd"], rtol=RTOL)


@pytest.mark.parametrize(
    "name", [f for f in obs.HLS4ML_FEATURES if f not in ("j_zlogz", "j_multiplicity")]
)
def test_hls4ml_groomed_features_match_contrib(mine, contrib, name):
    _assert_close(mine[name], contrib[name], name)


@pytest.mark.filterwarnings("ignore:dcut and exclusive jets")
def test_exclusive_kt_seed_axes_match_fastjet(jets):
    from colliderlab.physics.substructure import clustering as _cluster

    blk = obs._Block.from_padded(jets.p4, jets.mask)
    tree = _cluster.cluster(blk.p4, blk.mask, "kt")
    cs = fastjet.ClusterSequence(
        _momenta(jets.p4, jets.mask), fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0)
    )
    for n_jets in (2, 4):
        ex = cs.exclusive_jets(n_jets=n_jets)
        ref = np.stack(
            [ak.to_numpy(ak.flatten(ex[c])) for c in ("E", "px", "py", "pz")], axis=-1
        ).reshape(len(jets), n_jets, 4)
        got = tree.exclusive_jets(n_jets)
        order = lambda x: np.take_along_axis(x, np.argsort(x[:, :, 0], axis=1)[:, :, None], axis=1)  # noqa: E731
        np.testing.assert_allclose(order(got), order(ref), rtol=1e-12, atol=1e-9)


# ------------------------------------------------------------------------------------------
# Other observables against direct formulas
# ------------------------------------------------------------------------------------------
def test_kinematics_and_multiplicities(jets, mine):
    np.testing.assert_allclose(mine["pt"], kin.pt(jets.jet_p4), rtol=1e-5)
    np.testing.assert_allclose(mine["mass"], kin.mass(jets.jet_p4), rtol=1e-4)
    np.testing.assert_allclose(mine["eta"], kin.eta(jets.jet_p4), atol=1e-5)
    np.testing.assert_allclose(np.cos(mine["phi"] - kin.phi(jets.jet_p4)), 1.0, atol=1e-9)
    np.testing.assert_array_equal(mine["n_constituents"], jets.multiplicity)
    np.testing.assert_array_equal(mine["n_charged"], (jets.mask & (jets.charge != 0)).sum(axis=1))
    np.testing.assert_array_equal(mine["n_charged"] + mine["n_neutral"], mine["n_constituents"])
    np.testing.assert_array_equal(mine["j_multiplicity"], jets.multiplicity)
    assert 0 < mine["n_charged"].mean() < mine["n_constituents"].mean()


def test_shapes_match_per_jet_formulas(jets, mine):
    for i in (0, 7, len(jets) - 1):
        m = jets.mask[i]
        p4 = jets.p4[i][m].astype(np.float64)
        pt = kin.pt(p4)
        jet = p4.sum(axis=0)
        dr = kin.delta_r(kin.rapidity(p4), kin.phi(p4), kin.rapidity(jet), kin.phi(jet))
        z = pt / pt.sum()
        assert mine["girth"][i] == pytest.approx((pt * dr).sum() / kin.pt(jet), rel=1e-6)
        assert mine["ptd"][i] == pytest.approx(np.sqrt((pt**2).sum()) / pt.sum(), rel=1e-9)
        q = jets.charge[i][m]
        assert mine["jet_charge"][i] == pytest.approx(
            (q * pt**0.3).sum() / kin.pt(jet) ** 0.3, rel=1e-9, abs=1e-12
        )
        assert mine["j_zlogz"][i] == pytest.approx((z * np.log(z)).sum(), rel=1e-9)
        assert mine["zlogz"][i] == mine["j_zlogz"][i]


def test_top_jets_groomed_mass_peaks_near_top_mass(jets, mine):
    top = jets.label == jets.label_names.index("top")
    assert 140.0 < np.median(mine["mass_sd"][top]) < 200.0
    assert np.median(mine["mass_sd"][~top]) < 100.0
    assert np.median(mine["tau32"][top]) < np.median(mine["tau32"][~top])


# ------------------------------------------------------------------------------------------
# Invariants
# ------------------------------------------------------------------------------------------
def test_tau_decreases_with_n(mine):
    tau = np.stack([mine[f"tau{i}"] for i in (1, 2, 3, 4)], axis=1)
    # One-pass axes are local minima, so tau_N+1 <= tau_N is not a theorem; it holds for
    # (nearly) every real jet, as it does for contrib's identical values.
    assert (np.diff(tau, axis=1) <= 1e-12).all(axis=1).mean() >= 0.99
    assert ((mine["tau21"] >= 0) & (mine["tau21"] <= 1)).all()


INVARIANT = (
    "tau1",
    "tau2",
    "tau3",
    "tau21",
    "tau32",
    "c2_b1",
    "d2_b1",
    "c2_b2",
    "d2_b2",
    "m2_b1",
    "n2_b2",
    "mass_sd",
    "girth",
    "ptd",
)


def _compare(a: dict, b: dict, names, rtol: float) -> None:
    for name in names:
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=1e-12, err_msg=name)


def test_invariant_under_longitudinal_boost(jets):
    sub = jets[:60]
    ref = obs.compute_observables(sub, names=INVARIANT)
    boosted = replace(sub, p4=kin.boost_z(sub.p4.astype(np.float64), 0.7))
    # float32 inputs: the clamp of tiny negative m^2 in the rapidity is frame dependent at ~1e-7
    _compare(obs.compute_observables(boosted, names=INVARIANT), ref, INVARIANT, rtol=1e-5)


def test_invariant_under_azimuthal_rotation(jets):
    sub = jets[:60]
    ref = obs.compute_observables(sub, names=INVARIANT)
    angle = 2.1
    p4 = sub.p4.astype(np.float64)
    rot = p4.copy()
    rot[..., 1] = np.cos(angle) * p4[..., 1] - np.sin(angle) * p4[..., 2]
    rot[..., 2] = np.sin(angle) * p4[..., 1] + np.cos(angle) * p4[..., 2]
    _compare(
        obs.compute_observables(replace(sub, p4=rot), names=INVARIANT), ref, INVARIANT, rtol=1e-6
    )


def test_constituent_permutation_changes_nothing(jets):
    sub = jets[:40]
    rng = np.random.default_rng(1)
    perm = np.argsort(rng.random(sub.mask.shape), axis=1)  # shuffles padding in between
    shuffled = replace(
        sub,
        **{
            k: np.take_along_axis(
                getattr(sub, k), perm if getattr(sub, k).ndim == 2 else perm[..., None], axis=1
            )
            for k in JetBatch.PARTICLE_FIELDS
        },
    )
    a = obs.compute_observables(sub, names=obs.AVAILABLE_OBSERVABLES)
    b = obs.compute_observables(shuffled, names=obs.AVAILABLE_OBSERVABLES)
    _compare(a, b, obs.AVAILABLE_OBSERVABLES, rtol=1e-6)
    groomed = obs.soft_drop(shuffled.p4, shuffled.mask).mask
    np.testing.assert_array_equal(
        np.take_along_axis(obs.soft_drop(sub.p4, sub.mask).mask, perm, axis=1), groomed
    )


def test_extra_padding_and_chunking_change_nothing(jets):
    sub = jets[:80]
    a = obs.compute_observables(sub)
    # M2/N2 triplet sums run in float32 (~1e-7 relative): blocking changes their rounding only.
    _compare(obs.compute_observables(sub.truncate(260)), a, obs.OBSERVABLE_NAMES, rtol=1e-6)
    _compare(
        obs.compute_observables(sub, chunk_size=7, progress=True),
        a,
        obs.OBSERVABLE_NAMES,
        rtol=1e-6,
    )


def _jet(
    prongs: list[tuple[float, float, float]], rng: np.random.Generator, n_per_prong: int = 12
) -> np.ndarray:
    """Massless constituents spread by 0.02 around prongs (pt, y, phi). -> (n, 4)"""
    parts = []
    for pt, y, phi in prongs:
        frac = rng.dirichlet(np.ones(n_per_prong))
        parts.append(
            kin.from_ptyphim(
                pt * frac,
                y + rng.normal(0, 0.02, n_per_prong),
                phi + rng.normal(0, 0.02, n_per_prong),
            )
        )
    return np.concatenate(parts)


def _batch(jet_constituents: list[np.ndarray], n_particles: int = 40) -> JetBatch:
    batch = JetBatch.zeros(len(jet_constituents), n_particles)
    for i, p4 in enumerate(jet_constituents):
        batch.p4[i, : len(p4)] = p4
        batch.mask[i, : len(p4)] = True
    return batch


def test_two_prong_jet_has_smaller_tau21_than_one_prong():
    rng = np.random.default_rng(3)
    one = _jet([(500.0, 0.3, 1.0)], rng, 24)
    two = _jet([(250.0, 0.3, 1.0), (250.0, 0.5, 1.35)], rng)
    out = obs.compute_observables(_batch([one, two]), names=["tau21", "n2_b1", "mass_sd", "c2_b1"])
    assert out["tau21"][1] < 0.5 * out["tau21"][0]
    assert out["n2_b1"][1] < out["n2_b1"][0]
    assert out["mass_sd"][1] > 5 * out["mass_sd"][0]


def test_empty_and_tiny_jets_give_finite_values():
    rng = np.random.default_rng(4)
    tiny = [
        np.zeros((0, 4)),
        _jet([(300.0, 0.0, 0.0)], rng, 1),
        _jet([(300.0, 0.0, 0.0)], rng, 2),
        _jet([(300.0, 0.0, 0.0)], rng, 3),
    ]
    batch = _batch(tiny, 8)
    out = obs.compute_observables(batch, names=obs.AVAILABLE_OBSERVABLES)
    for name, values in out.items():
        assert np.isfinite(values).all(), name
    np.testing.assert_array_equal(out["n_constituents"], [0, 1, 2, 3])
    for name in (
        "mass",
        "pt",
        "tau1",
        "c2_b1",
        "d2_b2",
        "m2_b1",
        "n2_b2",
        "mass_sd",
        "girth",
        "ptd",
    ):
        assert out[name][0] == 0.0, name
    assert (
        out["tau1"][1] == out["tau2"][2] == out["tau3"][3] == 0.0
    )  # tau_N = 0 for <= N constituents
    assert out["c2_b1"][2] == out["tau21"][1] == 0.0
    assert out["tau1"][2] > 0 and out["e2_b1"][2] > 0
    feats = obs.hls4ml_features(batch)
    assert feats.shape == (4, 16) and feats.dtype == np.float32 and np.isfinite(feats).all()


def test_nan_input_names_jet_and_constituent(jets):
    bad = jets[:10]
    bad = replace(bad, p4=bad.p4.copy())
    bad.p4[6, 3, 2] = np.nan
    with pytest.raises(ValueError, match=r"jet 6, constituent 3"):
        obs.compute_observables(bad)
    with pytest.raises(ValueError, match=r"jet 6, constituent 3"):
        obs.soft_drop(bad.p4, bad.mask)


def test_unknown_name_lists_valid_names(jets):
    with pytest.raises(ValueError, match=r"tau5.*valid names:.*tau21"):
        obs.compute_observables(jets[:2], names=["tau1", "tau5"])


def test_array_functions_agree_with_compute_observables(jets, mine):
    tau = obs.nsubjettiness(jets.p4, jets.mask)
    np.testing.assert_allclose(tau[:, 2], mine["tau3"], rtol=1e-12)
    ecf = obs.energy_correlators(jets.p4, jets.mask, beta=2.0)
    np.testing.assert_allclose(ecf["n2"], mine["n2_b2"], rtol=1e-12)
    np.testing.assert_allclose(obs.girth(jets.p4, jets.mask), mine["girth"], rtol=1e-12)
    np.testing.assert_allclose(
        obs.jet_charge(jets.p4, jets.mask, jets.charge), mine["jet_charge"], rtol=1e-12
    )
    feats = obs.hls4ml_features(jets)
    np.testing.assert_allclose(
        feats[:, obs.HLS4ML_FEATURES.index("j_mass_mmdt")], mine["j_mass_mmdt"], rtol=1e-6
    )
