"""pyhf against the closed forms of arXiv:1007.1727, HistFactory round trips, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

pyhf = pytest.importorskip("pyhf")

from colliderlab.stats.closed_form import asimov_significance, expected_limit_band  # noqa: E402
from colliderlab.stats.fit import discovery_significance, pseudo_data, upper_limits  # noqa: E402
from colliderlab.stats.workspace import Template, build_workspace  # noqa: E402

CASES = [(5.0, 100.0), (10.0, 50.0), (30.0, 20.0), (3.0, 1.5)]


def _counting(s: float, b: float) -> dict:
    return build_workspace(Template("signal", [s]), [Template("bkg", [b])])


@pytest.mark.parametrize("s,b", CASES)
def test_pyhf_asimov_significance_matches_the_closed_form(s, b):
    z = discovery_significance(_counting(s, b))
    assert z == pytest.approx(asimov_significance(s, b), rel=0.01)
    assert asimov_significance(s, b) < s / np.sqrt(b)  # the s/sqrt(b) approximation overshoots


@pytest.mark.parametrize("s,b", [*CASES, (1.0, 100.0)])
def test_pyhf_cls_limits_match_the_asymptotic_closed_form(s, b):
    res = upper_limits(_counting(s, b))
    want = expected_limit_band(s, b)
    np.testing.assert_allclose(res["expected"], want, rtol=0.02)
    assert res["observed"] == pytest.approx(want[2], rel=0.02)  # observed = background-only Asimov
    assert res["expected"] == sorted(res["expected"])


def test_workspace_round_trips_through_pyhf_json(tmp_path):
    sig = Template("signal", [1.0, 4.0, 2.0], stat_errors=[0.3, 0.5, 0.4])
    bkg = Template("qcd", [50.0, 30.0, 10.0], stat_errors=[2.0, 1.5, 1.0], norm={"xsec_qcd": 0.1},
                   shapes={"shower": ([55.0, 29.0, 9.0], [45.0, 31.0, 11.0])})
    spec = build_workspace(sig, [bkg], observed=[52, 35, 12])
    path = tmp_path / "ws.json"
    path.write_text(json.dumps(spec))
    ws = pyhf.Workspace(json.loads(path.read_text()))
    model = ws.model()
    assert set(model.config.parameters) == {"mu", "staterror_sr", "xsec_qcd", "shower"}
    nominal = model.expected_actualdata(model.config.suggested_init())
    np.testing.assert_allclose(nominal, [51.0, 34.0, 12.0])
    np.testing.assert_allclose(ws.data(model, include_auxdata=False), [52, 35, 12])
    # the systematics widen the expected limit
    plain = build_workspace(Template("signal", [1.0, 4.0, 2.0]), [Template("qcd", [50.0, 30.0, 10.0])])
    assert upper_limits(spec)["expected"][2] > upper_limits(plain)["expected"][2]


def test_pseudo_data_are_seeded_poisson_draws():
    spec = build_workspace(Template("signal", [20.0, 40.0]), [Template("bkg", [100.0, 50.0])])
    a, b, c = (pseudo_data(spec, mu=1.0, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and np.all(a == np.round(a))
    draws = np.array([pseudo_data(spec, mu=1.0, seed=s)[:2] for s in range(100)])
    np.testing.assert_allclose(draws.mean(0), [120.0, 90.0], rtol=0.05)


def test_bad_templates_are_named():
    with pytest.raises(ValueError, match=r"no expected background in bin 1 \[1, 2\), bin 3 \[3, 4\)"):
        build_workspace(Template("signal", [1, 1, 1, 1]), [Template("bkg", [5, 0, 2, 0])], edges=[0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="template 'bkg' has 2 bins, the signal 3"):
        build_workspace(Template("signal", [1, 1, 1]), [Template("bkg", [5, 5])])
    with pytest.raises(ValueError, match=r"bins \[1\] are not"):
        Template("bkg", [1.0, np.nan])
    with pytest.raises(ValueError, match=r"shape systematic 'shower' up must have shape \(2,\)"):
        Template("bkg", [1.0, 2.0], shapes={"shower": ([1.0], [1.0, 2.0])})


def test_templates_from_values_carry_sumw2_errors():
    rng = np.random.default_rng(0)
    mass = rng.normal(172.0, 20.0, 5000)
    w = rng.uniform(0.5, 1.5, 5000)
    edges = np.linspace(100.0, 250.0, 16)
    t = Template.from_values("top", mass, edges, weights=w, scale=0.1, norm={"xsec_top": 0.05})
    inside = (mass >= 100.0) & (mass <= 250.0)
    assert t.counts.sum() == pytest.approx(0.1 * w[inside].sum())
    k = np.digitize(mass, edges) - 1
    sel = inside & (k == 7)
    assert t.stat_errors[7] == pytest.approx(0.1 * np.sqrt((w[sel] ** 2).sum()))
    assert t.norm == {"xsec_top": 0.05}
    with pytest.raises(ValueError, match="template 'x': 1 non-finite values, first at rows \\[2\\]"):
        Template.from_values("x", [1.0, 2.0, np.inf], edges)
