"""Jet representations: registry contract, physics checks per kind, trees against FastJet."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from colliderlab import kinematics as kin
from colliderlab.features import observables as obs
from colliderlab.features.images import average_images
from colliderlab.features.particles import clustering_order
from colliderlab.features.representations import (
    representation_config,
    representation_from_dict,
    representation_kinds,
    representation_to_dict,
)
from colliderlab.jets import JetBatch

KINDS = ("observables", "nsub", "efp", "image", "particles", "sequence", "tree")
# Small options per kind so that the generic tests stay fast.
FAST = {
    "observables": {"names": ("mass", "tau21", "d2_b1")},
    "nsub": {"n_body": 4},
    "efp": {"max_degree": 3},
    "image": {"size": 16},
    "particles": {"n_particles": 32},
    "sequence": {"n_particles": 32},
    "tree": {"n_particles": 16},
}


@pytest.fixture(scope="module")
def few(toptag_jets) -> JetBatch:
    return toptag_jets[np.r_[0:5, 150:155]]  # 5 QCD + 5 top jets


def _with(jets: JetBatch, **arrays) -> JetBatch:
    return replace(jets, **arrays)


# ------------------------------------------------------------------------------------------
# Registry contract
# ------------------------------------------------------------------------------------------
def test_registry_lists_kinds_and_options():
    assert set(KINDS) <= set(representation_kinds())
    with pytest.raises(KeyError) as err:
        representation_config("nope")
    assert all(k in str(err.value) for k in KINDS)
    with pytest.raises(KeyError) as err:
        representation_config("image", pixels=3)
    assert "pixels" in str(err.value) and "size" in str(err.value) and "channels" in str(err.value)


@pytest.mark.parametrize(
    "kind, options, valid",
    [
        ("image", {"center": "middle"}, "leading_subjet"),
        ("image", {"channels": ("pt", "energy")}, "pt_charged"),
        ("image", {"normalize": "l2"}, "max"),
        ("particles", {"features": "all"}, "kinematic"),
        ("sequence", {"order": "random"}, "cambridge"),
        ("tree", {"algorithm": "durham"}, "antikt"),
        ("observables", {"names": ("mass", "bogus")}, "tau21"),
    ],
)
def test_bad_option_values_list_valid_ones(kind, options, valid):
    with pytest.raises(ValueError, match=valid):
        representation_config(kind, **options)


@pytest.mark.parametrize("kind", KINDS)
def test_contract(kind, few):
    config = representation_config(kind, **FAST[kind])
    as_dict = representation_to_dict(config)
    assert representation_from_dict(json.loads(json.dumps(as_dict))) == config
    if hasattr(config, "resolve"):
        config = config.resolve(few)
    out = config.compute(few)
    assert all(len(v) == len(few) for v in out.values())
    assert set(config.standardize) <= set(out)
    for v in out.values():
        if np.issubdtype(v.dtype, np.floating):
            assert v.dtype == np.float32 and np.isfinite(v).all()
    dims = config.dims(out)
    if kind == "image":
        assert dims == {"in_channels": 1, "image_size": 16}
        assert out["image"].shape == (len(few), 1, 16, 16)
    else:
        assert dims == {"n_features": out["x"].shape[-1]}
        assert len(config.feature_names()) == out["x"].shape[-1]


@pytest.mark.parametrize("kind", KINDS)
def test_empty_jet_is_all_zero(kind, few):
    jets = JetBatch.concatenate([few[:2], JetBatch.zeros(1, few.n_particles, few.label_names)])
    config = representation_config(kind, **FAST[kind])
    if hasattr(config, "resolve"):
        config = config.resolve(jets)
    out = config.compute(jets)
    for key, v in out.items():
        if key == "root":
            assert v[2] == -1 and np.all(v[:2] > 0)
        elif key == "level":
            assert np.all(v[2] == -1)
        elif key == "children":
            assert np.all(v[2] == -1)
        else:
            assert np.all(v[2] == 0) and np.any(v[:2] != 0), key


@pytest.mark.parametrize("kind", KINDS)
def test_nan_input_names_the_jet(kind, few):
    p4 = few.p4.copy()
    p4[3, 1, 2] = np.nan
    config = representation_config(kind, **FAST[kind])
    with pytest.raises(ValueError, match="jet 3"):
        config.compute(_with(few, p4=p4))


def test_not_a_jetbatch():
    with pytest.raises(ValueError, match="JetBatch"):
        representation_config("particles", features="kinematic").compute(np.zeros((2, 3, 4)))


# ------------------------------------------------------------------------------------------
# High-level
# ------------------------------------------------------------------------------------------
def test_observables_match_compute_observables(few):
    config = representation_config("observables")
    assert config.names == ("auto",)  # resolved on the data: the 18 BDT inputs when charge is carried
    x = config.compute(few)["x"]
    config = config.resolve(few)
    assert len(config.names) == 18
    ref = obs.compute_observables(few, names=config.names)
    np.testing.assert_allclose(x, np.stack([ref[n] for n in config.names], 1), rtol=1e-6)


def test_nsub_basis(toptag_jets):
    config = representation_config("nsub", n_body=6)
    names = config.feature_names()
    assert len(names) == 3 * 6 - 4
    assert names[:3] == ("tau1_b0.5", "tau1_b1", "tau1_b2") and names[-2:] == ("tau5_b1", "tau5_b2")
    x = config.compute(toptag_jets)["x"]
    for beta, n_max in ((0.5, 4), (1.0, 5), (2.0, 5)):
        tau = obs.nsubjettiness(toptag_jets.p4, toptag_jets.mask, n_max=n_max, beta=beta)
        cols = [names.index(f"tau{n}_b{beta:g}") for n in range(1, n_max + 1)]
        np.testing.assert_allclose(x[:, cols], tau, rtol=1e-6)
    assert "tau5_b0.5" not in names
    # Three-prong top jets have a smaller tau3/tau2 than QCD jets.
    tau32 = x[:, names.index("tau3_b1")] / x[:, names.index("tau2_b1")]
    top = toptag_jets.label == toptag_jets.label_names.index("top")
    assert np.median(tau32[top]) < np.median(tau32[~top]) - 0.05


# ------------------------------------------------------------------------------------------
# Particles and sequences
# ------------------------------------------------------------------------------------------
def test_auto_features_follow_the_data(toptag_jets, boson_jets):
    config = representation_config("particles")
    assert config.features == "auto"
    with pytest.raises(ValueError, match="resolve"):
        config.feature_names()
    # The ideal-detector toptag sample carries charges and particle ids, so "auto" means "full".
    assert np.any(toptag_jets.charge[toptag_jets.mask] != 0)
    assert config.resolve(toptag_jets).features == "full"
    assert config.resolve(boson_jets).features == "full"
    bare = _with(
        toptag_jets,
        charge=np.zeros_like(toptag_jets.charge),
        pid=np.zeros_like(toptag_jets.pid),
    )
    resolved = config.resolve(bare)
    assert resolved.features == "kinematic" and len(resolved.feature_names()) == 7
    assert resolved.compute(bare[:3])["x"].shape == (3, 128, 7)


def test_particle_arrays(boson_jets):
    jets = boson_jets[:20]
    n = 24
    config = representation_config("particles", n_particles=n, features="full")
    out = config.compute(jets)
    x, mask, coords, p4 = out["x"], out["mask"], out["coords"], out["p4"]
    names = config.feature_names()
    assert x.shape == (20, n, 15)
    np.testing.assert_array_equal(mask.sum(1), np.minimum(jets.multiplicity, n))
    for arr in (x, coords, p4):
        assert np.all(arr[~mask] == 0)
    np.testing.assert_array_equal(coords, x[..., :2])
    np.testing.assert_allclose(x[..., 6], np.hypot(x[..., 0], x[..., 1]), rtol=1e-6)
    # The hardest constituents, in decreasing pT.
    pt_all = np.sort(np.where(jets.mask, kin.pt(jets.p4), 0), axis=1)[:, ::-1][:, :n]
    np.testing.assert_allclose(kin.pt(p4), pt_all, rtol=1e-6)
    np.testing.assert_allclose(np.exp(x[..., 2])[mask], kin.pt(p4)[mask], rtol=1e-5)
    # Flags are one-hot on real particles with a known id; charge matches the charged flags.
    flags = x[..., 8:13]
    assert np.all(flags[mask].sum(-1) <= 1) and flags[mask].sum() > 0.9 * mask.sum()
    charged = np.abs(x[..., names.index("charge")]) > 0
    assert np.all(charged[mask] == (flags[mask][:, [0, 3, 4]].sum(-1) > 0))
    # Small-angle constituents: |delta_eta|, |delta_phi| within the jet radius (mostly).
    assert np.mean(x[..., 6][mask] < 0.9) > 0.99


def test_particles_invariant_to_slot_order_and_axis_fallback(few):
    config = representation_config("particles", n_particles=40, features="full")
    ref = config.compute(few)
    rng = np.random.default_rng(0)
    perm = np.stack([rng.permutation(few.n_particles) for _ in range(len(few))])
    shuffled = _with(
        few,
        **{
            k: np.take_along_axis(getattr(few, k), perm[:, :, None] if k == "p4" else perm, axis=1)
            for k in JetBatch.PARTICLE_FIELDS
        },
    )
    for k, v in config.compute(shuffled).items():
        np.testing.assert_array_equal(v, ref[k], err_msg=k)
    # A zero jet_p4 falls back to the summed constituents.
    summed = kin.sum_p4(few.p4, few.mask)
    a = config.compute(_with(few, jet_p4=np.zeros_like(few.jet_p4)))
    b = config.compute(_with(few, jet_p4=summed))
    np.testing.assert_allclose(a["x"], b["x"], atol=1e-6)
    assert not np.allclose(a["x"][..., 0], ref["x"][..., 0] + 1.0)


@pytest.mark.parametrize("kind", ["particles", "sequence"])
def test_oriented_particles_are_rotated_and_flipped(few, kind):
    """``orient``: a rotation plus reflections of each jet's (Delta eta, Delta phi): distances to
    the axis and pT unchanged, the principal axis of the pT on +y, most pT at positive x and y."""
    plain = representation_config(kind, n_particles=40, features="kinematic", order="pt") if kind == "sequence" \
        else representation_config(kind, n_particles=40, features="kinematic")
    ref, out = plain.compute(few), replace(plain, orient=True).compute(few)
    np.testing.assert_array_equal(out["mask"], ref["mask"])
    np.testing.assert_array_equal(out["p4"], ref["p4"])
    np.testing.assert_array_equal(out["x"][..., 2:], ref["x"][..., 2:])  # pT, E and delta_r untouched
    np.testing.assert_allclose(np.hypot(*np.moveaxis(out["coords"], -1, 0)), out["x"][..., 6], atol=1e-5)
    np.testing.assert_array_equal(out["coords"], out["x"][..., :2])
    pt = kin.pt(out["p4"].astype(np.float64))  # (J, N), zero in padded slots
    x, y = out["coords"][..., 0].astype(np.float64), out["coords"][..., 1].astype(np.float64)
    cxx, cyy, cxy = (pt * x * x).sum(1), (pt * y * y).sum(1), (pt * x * y).sum(1)
    scale = cxx + cyy
    assert np.all(np.abs(cxy) <= 1e-4 * scale) and np.all(cyy >= cxx - 1e-6 * scale)
    assert np.all((pt * np.sign(x)).sum(1) >= 0) and np.all((pt * np.sign(y)).sum(1) >= 0)
    assert not np.allclose(out["coords"], ref["coords"])


def _dfs_reference(tree, jet: int) -> list[int]:
    """Depth-first leaf order of one jet, harder child first (plain recursion)."""
    n = tree.n_leaves
    pt = kin.pt(tree.node_p4[jet])

    def walk(node: int) -> list[int]:
        if node < n:
            return [node]
        a, b = tree.parents[jet, node - n]
        first, second = (a, b) if pt[a] >= pt[b] else (b, a)
        return walk(first) + walk(second)

    root = tree.root()[jet]
    return walk(int(root)) if root >= 0 else []


@pytest.mark.parametrize("order", ["kt", "cambridge", "antikt"])
def test_sequence_is_a_depth_first_permutation(few, order):
    from colliderlab.physics.substructure import clustering as _cluster

    n = 48
    parts = representation_config("particles", n_particles=n, features="full").compute(few)
    seq = representation_config("sequence", n_particles=n, features="full", order=order).compute(
        few
    )
    np.testing.assert_array_equal(seq["mask"], parts["mask"])
    for j in range(len(few)):  # same constituents, reordered
        m = parts["mask"][j]
        a = parts["x"][j][m]
        b = seq["x"][j][m]
        assert not np.array_equal(a, b)
        np.testing.assert_array_equal(a[np.lexsort(a.T)], b[np.lexsort(b.T)])
    tree = _cluster.cluster(parts["p4"].astype(np.float64), parts["mask"], order)
    perm = clustering_order(parts["p4"], parts["mask"], order)
    for j in range(len(few)):
        m = int(parts["mask"][j].sum())
        assert perm[j, :m].tolist() == _dfs_reference(tree, j)
        assert sorted(perm[j].tolist()) == list(range(n))
    pt_order = representation_config("sequence", n_particles=n, features="full", order="pt")
    np.testing.assert_array_equal(pt_order.compute(few)["x"], parts["x"])


# ------------------------------------------------------------------------------------------
# Images
# ------------------------------------------------------------------------------------------
def _image(jets, **options) -> np.ndarray:
    return representation_config("image", **options).compute(jets)["image"]


def test_image_keeps_the_pt_inside_the_window(few):
    img = _image(
        few, size=32, extent=1.6, center="none", rotate=False, flip=False, normalize="none"
    )
    pt = kin.pt(few.p4)
    deta = kin.eta(few.p4) - kin.eta(few.jet_p4)[:, None]
    dphi = kin.delta_phi(kin.phi(few.p4), kin.phi(few.jet_p4)[:, None])
    inside = few.mask & (np.abs(deta) < 0.8) & (np.abs(dphi) < 0.8)
    np.testing.assert_allclose(img.sum((1, 2, 3)), np.where(inside, pt, 0).sum(1), rtol=1e-5)
    assert np.all(np.where(inside, pt, 0).sum(1) < np.where(few.mask, pt, 0).sum(1) + 1e-3)


@pytest.mark.parametrize("center", ["centroid", "leading_subjet", "none"])
def test_image_preprocessing_preserves_pt(few, center):
    pt = np.where(few.mask, kin.pt(few.p4), 0)
    wide = _image(few, size=40, extent=8.0, center=center, normalize="none")  # everything inside
    np.testing.assert_allclose(wide.sum((1, 2, 3)), pt.sum(1), rtol=1e-5)
    # With the standard window, particles well inside (within 0.7 of the centre) always land inside.
    std = _image(few, size=40, extent=1.6, center=center, normalize="none")
    assert np.all(std.sum((1, 2, 3)) <= pt.sum(1) * (1 + 1e-5))
    if center == "centroid":
        y, phi = kin.eta(few.p4), kin.phi(few.p4)
        deta = y - kin.eta(few.jet_p4)[:, None]
        dphi = kin.delta_phi(phi, kin.phi(few.jet_p4)[:, None])
        cx = (pt * deta).sum(1) / pt.sum(1)
        cy = (pt * dphi).sum(1) / pt.sum(1)
        near = few.mask & (np.hypot(deta - cx[:, None], dphi - cy[:, None]) < 0.7)
        assert np.all(std.sum((1, 2, 3)) >= np.where(near, pt, 0).sum(1) * (1 - 1e-5))


def test_image_rotation_and_flip(few):
    img = _image(few, size=40, extent=8.0, normalize="sum")[:, 0]  # (J, H, W), all inside
    centers = (np.arange(40) + 0.5) * 0.2 - 4.0
    x2 = (img * centers[None, None, :] ** 2).sum((1, 2))
    y2 = (img * centers[None, :, None] ** 2).sum((1, 2))
    assert np.mean(y2 >= x2) >= 0.9  # principal axis vertical
    right = img[:, :, 20:].sum((1, 2))
    upper = img[:, 20:, :].sum((1, 2))
    assert np.all(right >= 0.5 - 1e-4) and np.all(upper >= 0.5 - 1e-4)
    np.testing.assert_allclose(img.sum((1, 2)), 1.0, rtol=1e-5)
    mx = _image(few, size=16, normalize="max")
    np.testing.assert_allclose(mx.max((1, 2, 3)), 1.0)


def test_image_channels_add_up(boson_jets):
    jets = boson_jets[:12]
    opts = {"size": 24, "normalize": "none"}
    multi = _image(
        jets, channels=("pt_charged", "pt_neutral", "n_charged", "n_neutral", "n"), **opts
    )
    single = _image(jets, channels=("pt",), **opts)[:, 0]
    np.testing.assert_allclose(multi[:, 0] + multi[:, 1], single, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(multi[:, 2] + multi[:, 3], multi[:, 4], atol=1e-6)
    assert multi[:, 0].sum() > 0 and multi[:, 1].sum() > 0
    n_inside = multi[:, 4].sum((1, 2))
    assert np.all(n_inside <= jets.multiplicity) and np.all(n_inside >= 0.9 * jets.multiplicity)
    assert representation_config("image", channels=["pt", "n"]).feature_names() == ("pt", "n")


def test_top_images_are_wider_than_qcd(toptag_jets):
    img = _image(toptag_jets, size=32, extent=1.6)
    mean = average_images(img, toptag_jets.label)  # (2, 1, 32, 32)
    assert mean.shape == (2, 1, 32, 32)
    np.testing.assert_allclose(mean.sum((1, 2, 3)), 1.0, rtol=1e-5)
    c = (np.arange(32) + 0.5) * 0.05 - 0.8
    r = np.hypot(c[None, :], c[:, None])
    mean_r = (mean[:, 0] * r).sum((1, 2))  # pT-weighted mean distance from the centroid
    qcd, top = toptag_jets.label_names.index("qcd"), toptag_jets.label_names.index("top")
    assert mean_r[top] > 1.5 * mean_r[qcd]
    core = (mean[:, 0] * (r < 0.1)).sum((1, 2))
    assert core[qcd] > core[top] + 0.1


# ------------------------------------------------------------------------------------------
# Trees
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["kt", "cambridge", "antikt"])
def test_tree_structure(few, algorithm):
    config = representation_config("tree", n_particles=32, algorithm=algorithm)
    out = config.compute(few)
    tree = config.cluster(few)
    x, children, level, mask, root = (out[k] for k in ("x", "children", "level", "mask", "root"))
    n, m = 32, 63
    assert x.shape == (len(few), m, 9) and children.shape == (len(few), m, 2)
    mult = np.minimum(few.multiplicity, n)
    np.testing.assert_array_equal(mask.sum(1), 2 * mult - 1)
    np.testing.assert_array_equal(root, n + mult - 2)
    assert np.all(x[~mask] == 0) and np.all(level[~mask] == -1) and np.all(children[~mask] == -1)
    assert np.all(children[:, :n] == -1) and np.all(level[:, :n][mask[:, :n]] == 0)
    node_p4 = tree.node_p4
    rows = np.arange(len(few))
    # The root holds the sum of the kept constituents.
    kept = np.sort(np.where(few.mask, kin.pt(few.p4), 0), 1)[:, ::-1][:, :n]
    np.testing.assert_allclose(kin.pt(node_p4[:, :n]), kept, rtol=1e-6)
    np.testing.assert_allclose(node_p4[rows, root], node_p4[:, :n].sum(1), rtol=1e-9)
    inner = mask & (np.arange(m) >= n)
    j, k = np.nonzero(inner)
    a, b = children[j, k, 0], children[j, k, 1]
    np.testing.assert_allclose(node_p4[j, k], node_p4[j, a] + node_p4[j, b], rtol=1e-12)
    np.testing.assert_array_equal(level[j, k], 1 + np.maximum(level[j, a], level[j, b]))
    assert np.all((a < k) & (b < k)) and np.all(mask[j, a] & mask[j, b])
    # Every real node but the root is the child of exactly one node.
    counts = np.zeros((len(few), m), int)
    np.add.at(counts, (np.repeat(j, 2), children[j, k].ravel()), 1)
    expected = mask.astype(int)
    expected[rows, root] = 0
    np.testing.assert_array_equal(counts, expected)
    assert level[rows, root].min() >= np.ceil(np.log2(mult)).min()


def _exclusive_from_arrays(out, node_p4, jet: int, n_jets: int, n_leaves: int) -> np.ndarray:
    """Undo the last merges of our tree until ``n_jets`` nodes remain. (n_jets, 4)"""
    children = out["children"][jet]
    nodes = [int(out["root"][jet])]
    while len(nodes) < n_jets:
        newest = max(nodes)  # the last merge made the newest node
        if newest < n_leaves:
            break
        nodes.remove(newest)
        nodes += [int(c) for c in children[newest]]
    return node_p4[jet, nodes]


@pytest.mark.parametrize("algorithm", ["kt", "cambridge", "antikt"])
def test_tree_agrees_with_fastjet(few, algorithm):
    fastjet = pytest.importorskip("fastjet")
    alg = {
        "kt": fastjet.kt_algorithm,
        "cambridge": fastjet.cambridge_algorithm,
        "antikt": fastjet.antikt_algorithm,
    }[algorithm]
    jets = few[[0, 1, 6, 7]]
    n = int(jets.multiplicity.max())  # keep every constituent, as FastJet does
    config = representation_config("tree", n_particles=n, algorithm=algorithm)
    out = config.compute(jets)
    node_p4 = config.cluster(jets).node_p4
    for j in range(len(jets)):
        p4 = jets.p4[j][jets.mask[j]].astype(np.float64)
        pj = [fastjet.PseudoJet(*map(float, (q[1], q[2], q[3], q[0]))) for q in p4]
        cs = fastjet.ClusterSequence(pj, fastjet.JetDefinition(alg, 10.0))
        for n_jets in range(1, 5):
            ref = np.array([[q.E(), q.px(), q.py(), q.pz()] for q in cs.exclusive_jets(n_jets)])
            mine = _exclusive_from_arrays(out, node_p4, j, n_jets, n)
            ref, mine = ref[np.argsort(ref[:, 0])], mine[np.argsort(mine[:, 0])]
            np.testing.assert_allclose(mine, ref, rtol=1e-6, atol=1e-9 * ref[:, 0].max())
