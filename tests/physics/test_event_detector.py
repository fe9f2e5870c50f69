"""Event-level detector pieces: lepton isolation, missing pT, hadron/jet flavour, b-tagging, card keys."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import yaml

from colliderlab import kinematics as kin
from colliderlab.jets import ParticleID
from colliderlab.physics.detector import (
    CARDS,
    BTagCard,
    EfficiencyMap,
    IsolationCard,
    btag_jets,
    card_from_dict,
    card_to_dict,
    hadron_flavour,
    jet_flavour,
    lepton_isolation,
    load_card,
    missing_pt,
)


def _cands(events: list[list[tuple[float, float, float, int, int]]]) -> ak.Array:
    """Candidates from (pt, eta, phi, charge, pid) tuples, massless."""
    out = []
    for ev in events:
        rows = []
        for pt, eta, phi, q, pid in ev:
            e, px, py, pz = kin.from_ptetaphim(np.array(pt), np.array(eta), np.array(phi), 0.0)
            rows.append({"px": px, "py": py, "pz": pz, "E": e, "charge": q, "pid": pid})
        out.append(rows)
    return ak.Array(out)


def test_builtin_cards_have_isolation_and_btag() -> None:
    for name in CARDS:
        card = load_card(name)
        assert card.isolation.cone == pytest.approx(0.3)
        assert 0 < card.isolation.rel_max < 1
        pt, eta = np.array([50.0]), np.array([0.5])
        assert card.btag.b(pt, eta)[0] > card.btag.c(pt, eta)[0] >= card.btag.light(pt, eta)[0]
    assert load_card("ideal").btag.b(np.array([50.0]), np.array([3.0]))[0] == 1.0


def test_cards_without_the_new_keys_load_with_defaults(tmp_path) -> None:
    data = card_to_dict(load_card("cms-like"))
    del data["isolation"], data["btag"]
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(data))
    card = load_card(path)
    assert card.isolation == IsolationCard()
    assert card.btag == BTagCard()
    assert card_from_dict(card_to_dict(card)) == card


def test_unknown_btag_key_is_named(tmp_path) -> None:
    data = card_to_dict(load_card("atlas-like"))
    data["btag"]["tau"] = 0.5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=r"key 'btag\.tau': unknown key"):
        load_card(path)
    with pytest.raises(ValueError, match="isolation needs"):
        IsolationCard(cone=0.0)


def test_lepton_isolation_sums_each_class_inside_the_cone() -> None:
    mu, ch, nh, ph = (
        ParticleID.MUON,
        ParticleID.CHARGED_HADRON,
        ParticleID.NEUTRAL_HADRON,
        ParticleID.PHOTON,
    )
    cands = _cands(
        [
            [(30.0, 0.0, 0.0, 1, ch), (40.0, 1.0, 1.0, -1, mu)],  # event 0: far away, isolated
            [
                (50.0, 0.0, 0.0, -1, mu),  # the lepton (flat index 2)
                (5.0, 0.2, 0.0, 1, ch),  # inside
                (2.0, 0.0, 0.25, 0, nh),  # inside
                (1.0, 0.1, 0.0, 0, ph),  # inside
                (0.3, 0.1, 0.1, 1, ch),  # below pt_min
                (100.0, 0.0, 0.5, 1, ch),  # outside the cone
            ],
        ]
    )
    iso = lepton_isolation(
        cands, np.array([1, 2]), IsolationCard(cone=0.3, pt_min=0.5, rel_max=0.1)
    )
    np.testing.assert_allclose(iso["charged"], [0.0, 5.0 / 50])
    np.testing.assert_allclose(iso["neutral"], [0.0, 2.0 / 50])
    np.testing.assert_allclose(iso["photon"], [0.0, 1.0 / 50])
    np.testing.assert_allclose(iso["total"], [0.0, 8.0 / 50])
    np.testing.assert_array_equal(iso["isolated"], [True, False])


def test_missing_pt_balances_the_visible_sum() -> None:
    cands = _cands([[(30.0, 0.0, 0.0, 1, 1), (10.0, 1.0, np.pi / 2, 0, 2)], []])
    met = missing_pt(cands)
    np.testing.assert_allclose(met, [[-30.0, -10.0], [0.0, 0.0]], atol=1e-9)


def test_hadron_flavour_from_pdg_ids() -> None:
    pdg = np.array([511, -521, 5122, 553, 421, -4122, 443, 211, 2212, 3122, 5, 11, 22, 1000022])
    np.testing.assert_array_equal(hadron_flavour(pdg), [5, 5, 5, 5, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0])


def test_jet_flavour_prefers_b_and_stays_in_the_event() -> None:
    jets = kin.from_ptetaphim(
        np.full(5, 50.0), np.zeros(5), np.array([0.0, 1.0, 2.0, 3.0, 0.0]), 5.0
    )
    jet_event = np.array([0, 0, 0, 0, 1])
    # event 0: B near jet 0, C near jets 0 and 1, a soft B near jet 2; event 1 has none (the B of
    # event 0 near phi 0 must not match jet 4)
    had = kin.from_ptetaphim(
        np.array([20.0, 20.0, 20.0, 2.0]), np.zeros(4), np.array([0.1, 0.05, 1.1, 2.0]), 5.0
    )
    flav = jet_flavour(
        jets, jet_event, had, np.zeros(4, np.int64), np.array([5, 4, 4, 5]), 2, BTagCard()
    )
    np.testing.assert_array_equal(flav, [5, 4, 0, 0, 0])


def test_btag_rates_follow_the_maps() -> None:
    card = BTagCard(
        b=EfficiencyMap((0.0, 2.5), (20.0, 100.0), ((0.6, 0.8),)),
        c=EfficiencyMap((0.0, 2.5), (20.0,), ((0.2,),)),
        light=EfficiencyMap((0.0, 2.5), (20.0,), ((0.01,),)),
    )
    n = 40_000
    rng = np.random.default_rng(0)
    flav = np.repeat([5, 5, 4, 0, 5], n)
    pt = np.repeat([50.0, 150.0, 50.0, 50.0, 50.0], n)
    eta = np.repeat([0.0, 0.0, 0.0, 0.0, 3.0], n)  # last block outside the tagger's acceptance
    tag = btag_jets(pt, eta, flav, card, rng).reshape(5, n).mean(axis=1)
    np.testing.assert_allclose(tag, [0.6, 0.8, 0.2, 0.01, 0.0], atol=0.01)
