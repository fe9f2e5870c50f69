"""Fixed-point formats, post-training quantisation and quantisation-aware training on real jets."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab.export.quantize import (  # noqa: E402
    FixedPoint,
    QuantConfig,
    calibrate,
    prepare_qat,
    ptq_sweep,
    quantize_model,
    quantize_tensor,
)
from colliderlab.metrics import auc  # noqa: E402
from colliderlab.models.registry import create_model  # noqa: E402
from colliderlab.train.experiment import experiment_from_dict, load_run, run_experiment  # noqa: E402


def test_fixed_point_grid_range_and_modes():
    f = FixedPoint.parse("ap_fixed<8,3>")
    assert (f.width, f.integer, f.rounding, f.saturate) == (8, 3, "trunc", False)  # ap_fixed defaults
    assert f.step == 2**-5 and f.low == -4.0 and f.high == 4.0 - 2**-5
    x = torch.linspace(-6, 6, 1001)
    for mode in ("round", "trunc"):
        g = FixedPoint(8, 3, mode, saturate=True)
        q = quantize_tensor(x, g)
        assert torch.allclose(q / g.step, torch.round(q / g.step))  # on the grid
        assert q.min() == g.low and q.max() == g.high  # saturated at the ends
        inside = (x > g.low) & (x < g.high)
        err = (q - x)[inside]
        if mode == "round":
            assert err.abs().max() <= g.step / 2 + 1e-7
        else:
            assert (err <= 1e-7).all() and (err > -g.step - 1e-7).all()
    wrap = quantize_tensor(torch.tensor([4.0, 4.5]), FixedPoint(8, 3, "round", saturate=False))
    assert torch.equal(wrap, torch.tensor([-4.0, -3.5]))  # two's-complement wrap-around
    assert str(FixedPoint.parse("ap_fixed<16,6,AP_RND,AP_SAT>")) == "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"
    with pytest.raises(ValueError, match="not a signed fixed-point format"):
        FixedPoint.parse("ap_ufixed<8,3>")
    with pytest.raises(ValueError, match="rounding 'up' is not valid; choose one of round, trunc"):
        FixedPoint(8, 3, "up")


@pytest.fixture(scope="module")
def trained_dnn(rep_data):
    """The hls4ml-size dnn after 300 Adam steps on the fixture's observables; train/test halves."""
    ds = rep_data("observables")
    x, y = torch.from_numpy(ds.arrays["x"]), torch.from_numpy(ds.labels)
    idx = np.random.default_rng(0).permutation(len(y))
    tr, te = idx[: len(y) // 2], idx[len(y) // 2 :]
    torch.manual_seed(0)
    model = create_model("dnn", "hls4ml", n_features=x.shape[1], n_classes=2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        b = torch.from_numpy(tr)[torch.randint(len(tr), (64,), generator=gen)]
        loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), x[te], ds.labels[te]


def test_ptq_16_bits_keeps_the_auc_and_4_bits_costs(trained_dnn):
    model, x, y = trained_dnn
    rows = {r["width"]: r for r in ptq_sweep(model, [x], y, widths=(4, 16))}
    assert rows[None]["auc"] > 0.85
    assert abs(rows[16]["auc"] - rows[None]["auc"]) < 0.01  # the 16-bit target
    formats = calibrate(model, [x], 4)
    q4 = quantize_model(model, formats=formats)
    with torch.no_grad():
        p_float, p4 = model(x).softmax(1), q4(x).softmax(1)
    assert not torch.allclose(p_float, p4, atol=1e-3)  # 4 bits really changes the scores
    # every weight of the quantised copy sits on its grid; the original is untouched
    lin = q4.net[0]
    step = formats["net.0.weight"].step
    assert torch.allclose(lin.weight / step, torch.round(lin.weight / step))
    assert not torch.allclose(model.net[0].weight / step, torch.round(model.net[0].weight / step))
    assert formats["input:0"].integer >= 2  # standardised inputs reach beyond +-1


def test_qat_modules_keep_state_keys_and_pass_gradients(rep_data):
    ds = rep_data("image")
    torch.manual_seed(0)
    cnn = create_model("cnn", "lite", **ds.meta["dims"])
    keys = set(cnn.state_dict())
    prepare_qat(cnn, QuantConfig("ap_fixed<8,2>", "ap_fixed<10,5>"))
    assert set(cnn.state_dict()) == keys
    assert "QuantConv2d" in repr(cnn) and "QuantLinear" in repr(cnn)
    out = cnn(torch.from_numpy(ds.arrays["image"][:8]))
    out.logsumexp(1).sum().backward()
    missing = [n for n, p in cnn.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    with pytest.raises(KeyError, match="valid keys: weights, activations"):
        QuantConfig.from_dict({"bits": 8})


def test_qat_through_the_trainer_and_run_directory(toptag_file, tmp_path):
    d = {
        "name": "qat", "data": {"path": toptag_file, "cache_dir": str(tmp_path / "cache")},
        "representation": {"kind": "observables", "names": ["mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd"]},
        "model": {"name": "dnn", "preset": "hls4ml"},
        "trainer": {"epochs": 12, "batch_size": 32, "lr": 3e-3, "progress": False, "patience": 0},
        "quantization": {"weights": "ap_fixed<6,2>", "activations": "ap_fixed<8,4>"},
    }
    run = tmp_path / "run"
    res = run_experiment(experiment_from_dict(d), run, progress=False, plots=False)
    assert res["auc"] > 0.8
    loaded = load_run(run)
    assert loaded.model.quantization.weights == "ap_fixed<6,2>"
    # the loaded model computes with 6-bit weights: its effective weights are on the grid
    lin = loaded.model.net[0]
    from colliderlab.nn.quant import _RoundSTE

    w = _RoundSTE.apply(lin.weight, FixedPoint.parse("ap_fixed<6,2>"))
    assert torch.allclose(w / 2**-4, torch.round(w / 2**-4)) and len(torch.unique(w)) <= 64
    probs, labels = loaded.predict_proba(toptag_file)
    assert auc(probs[:, 1], labels == 1) > 0.8
    with pytest.raises(ValueError, match="not a signed fixed-point format"):
        experiment_from_dict({**d, "quantization": {"weights": "int8"}})
    with pytest.raises(ValueError, match="needs a torch model"):
        run_experiment(experiment_from_dict({**d, "model": {"name": "bdt"}}), tmp_path / "b")


def test_qat_refuses_linear_subclasses_with_their_own_forward():
    """A masked (autoregressive) Linear would lose its mask in the quantised twin: refused, named."""
    import torch
    from torch import nn

    from colliderlab.models.registry import create_model
    from colliderlab.nn.quant import QuantConfig, prepare_qat

    class MaskedLinear(nn.Linear):
        def forward(self, x):
            return nn.functional.linear(x, self.weight * torch.tril(torch.ones_like(self.weight)), self.bias)

    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Sequential(MaskedLinear(4, 4)))
    cfg = QuantConfig.from_dict({"weights": "ap_fixed<8,2>", "activations": "ap_fixed<10,5>"})
    with pytest.raises(ValueError, match=r"module '2\.0' is a .*MaskedLinear"):
        prepare_qat(net, cfg)
    flow = create_model("calo_flow", "lite", n_features=12, n_context=2)
    with pytest.raises(ValueError, match="Linear subclass"):
        prepare_qat(flow, cfg)
    dense = prepare_qat(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), cfg)  # plain layers still convert
    assert type(dense[0]).__name__ == "QuantLinear"
