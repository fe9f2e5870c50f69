"""Energy Flow Polynomials: graph counts of arXiv:1712.07124, exact identities and invariances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from colliderlab import kinematics as kin
from colliderlab.features import efp
from colliderlab.features.representations import representation_config
from colliderlab.jets import JetBatch
from colliderlab.physics.substructure import clustering as _cluster


@pytest.fixture(scope="module")
def jets(toptag_jets) -> JetBatch:
    return toptag_jets[np.r_[0:6, 150:156]]  # 6 QCD + 6 top jets


def _z_theta(p4: np.ndarray, mask: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Direct z (J, P) and theta (J, P, P) for brute-force sums."""
    p4 = p4.astype(np.float64)
    pt = np.where(mask, kin.pt(p4), 0.0)
    z = pt / pt.sum(axis=1, keepdims=True)
    rap, phi = _cluster.rap_phi(p4)
    dr2 = kin.delta_r2(rap[:, :, None], phi[:, :, None], rap[:, None, :], phi[:, None, :])
    theta = np.sqrt(dr2) ** beta
    theta[~(mask[:, :, None] & mask[:, None, :])] = 0.0
    return z, theta


def _brute_force(graph: efp.Graph, z: np.ndarray, theta: np.ndarray) -> np.ndarray:
    n = 1 + max(max(e) for e in graph)
    letters = "acdefghijk"
    terms = [f"b{letters[v]}" for v in range(n)] + [f"b{letters[a]}{letters[b]}" for a, b in graph]
    operands = [z] * n + [theta] * len(graph)
    return np.einsum(",".join(terms) + "->b", *operands, optimize="greedy")


def test_graph_counts_match_the_paper():
    # Connected loopless multigraphs with d edges (OEIS A076864) and all of them without
    # isolated vertices (A050535), as tabulated in arXiv:1712.07124.
    connected = [len(efp.connected_multigraphs(d)) for d in range(1, 8)]
    assert connected == [1, 2, 5, 12, 33, 103, 333]
    totals = [len(efp.efp_graphs(d)) for d in range(1, 8)]
    per_degree = np.diff([0, *totals]).tolist()
    assert per_degree == [1, 3, 8, 23, 66, 212, 686]
    assert totals[4] + 1 == 102 and totals[6] + 1 == 1000  # the paper's counts with EFP_0 = 1
    assert len(efp.efp_graphs(5, connected_only=True)) == sum(connected[:5])


def test_canonical_form_is_isomorphism_invariant():
    rng = np.random.default_rng(1)
    for graph in efp.connected_multigraphs(5):
        n = 1 + max(max(e) for e in graph)
        perm = rng.permutation(n)
        relabelled = tuple(sorted(tuple(sorted((int(perm[a]), int(perm[b])))) for a, b in graph))
        assert efp._canonical(relabelled) == graph


def test_feature_names_unique_and_counted():
    config = representation_config("efp")
    names = config.feature_names()
    assert len(names) == 101 == len(set(names))
    assert names[0] == "efp_d1_0-1"
    assert "efp_d3_0-1.0-2.1-2" in names  # the triangle
    assert len(representation_config("efp", connected_only=True).feature_names()) == 53


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
def test_single_edge_is_the_pair_sum(jets, beta):
    x = efp.energy_flow_polynomials(jets.p4, jets.mask, max_degree=1, beta=beta)
    z, theta = _z_theta(jets.p4, jets.mask, beta)
    direct = np.einsum("bi,bj,bij->b", z, z, theta)
    np.testing.assert_allclose(x[:, 0], direct, rtol=1e-12)


def test_every_graph_matches_brute_force(jets):
    """All 313 EFPs with d <= 6 (including the K4 path) against a direct contraction."""
    small = jets[:4].truncate(9)
    x = efp.energy_flow_polynomials(small.p4, small.mask, max_degree=6, beta=0.5)
    z, theta = _z_theta(small.p4, small.mask, 0.5)
    for f, comps in enumerate(efp.efp_graphs(6)):
        ref = np.prod([_brute_force(g, z, theta) for g in comps], axis=0)
        np.testing.assert_allclose(x[:, f], ref, rtol=1e-10, err_msg=efp.graph_name(comps))


def test_disconnected_graph_is_product_of_components(jets):
    graphs = efp.efp_graphs(4)
    x = efp.energy_flow_polynomials(jets.p4, jets.mask, max_degree=4)
    column = {g: f for f, g in enumerate(graphs)}
    composites = [c for c in graphs if len(c) > 1]
    assert len(composites) == 35 - 20
    for comps in composites:
        product = np.prod([x[:, column[(g,)]] for g in comps], axis=0)
        np.testing.assert_allclose(x[:, column[comps]], product, rtol=1e-12)


def test_invariances(jets):
    """Permuting constituents, rotating in phi and boosting along z leave every EFP unchanged."""
    ref = efp.energy_flow_polynomials(jets.p4, jets.mask, max_degree=5)
    rng = np.random.default_rng(2)
    perm = np.stack([rng.permutation(jets.n_particles) for _ in range(len(jets))])
    p4 = np.take_along_axis(jets.p4, perm[:, :, None], axis=1)
    mask = np.take_along_axis(jets.mask, perm, axis=1)
    np.testing.assert_allclose(efp.energy_flow_polynomials(p4, mask), ref, rtol=1e-9)

    c, s = np.cos(1.3), np.sin(1.3)
    rot = jets.p4.astype(np.float64).copy()
    rot[..., 1], rot[..., 2] = (
        c * jets.p4[..., 1] - s * jets.p4[..., 2],
        s * jets.p4[..., 1] + c * jets.p4[..., 2],
    )
    np.testing.assert_allclose(efp.energy_flow_polynomials(rot, jets.mask), ref, rtol=1e-6)

    boosted = kin.boost_z(jets.p4.astype(np.float64), 0.6)
    np.testing.assert_allclose(efp.energy_flow_polynomials(boosted, jets.mask), ref, rtol=1e-6)
    assert np.all(ref > 0) and not np.allclose(ref[0], ref[1])


def test_config_arrays_and_errors(jets):
    config = representation_config("efp", max_degree=3, beta=0.5)
    out = config.compute(jets)
    assert out["x"].shape == (len(jets), 12) and out["x"].dtype == np.float32
    assert config.dims(out) == {"n_features": 12}
    empty = JetBatch.zeros(2, 5)
    assert np.all(config.compute(empty)["x"] == 0)
    bad = JetBatch(**{**jets.arrays(), "p4": jets.p4.copy()}, label_names=jets.label_names)
    bad.p4[4, 2, 0] = np.nan
    with pytest.raises(ValueError, match="jet 4"):
        config.compute(bad)
    with pytest.raises(ValueError, match="max_degree"):
        representation_config("efp", max_degree=8)
    with pytest.raises(ValueError, match="beta"):
        representation_config("efp", beta=0.0)


def test_graphs_are_simple_multigraphs():
    for comps in efp.efp_graphs(5):
        for g in comps:
            assert all(a < b for a, b in g)  # no self-loops
            n = 1 + max(max(e) for e in g)
            assert set(itertools.chain.from_iterable(g)) == set(range(n))  # no isolated vertex
