"""hls4ml conversion and bit-accurate emulation (arXiv:1804.06913) on real Pythia top/QCD jets.

The hls4ml-preset dense tagger (16 -> 64 -> 32 -> 32 -> n_classes) is trained briefly on 16
standardised jet observables of the session sample, converted at ap_fixed<16,6> and compiled once
(module-scoped fixture); its g++-compiled firmware emulation is compared with the float model.
Tests that need hls4ml and g++ skip cleanly without them.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from colliderlab.export import hls

HLS_OK, HLS_WHY = hls.hls4ml_available()
needs_hls4ml = pytest.mark.skipif(not HLS_OK, reason=HLS_WHY)  # hls4ml and g++
needs_hls4ml_only = pytest.mark.skipif(  # conversion without compiling needs no g++
    importlib.util.find_spec("hls4ml") is None, reason="hls4ml is not installed"
)

# 16 observables without the (slow) energy correlators
FEATURES = (
    "mass", "pt", "n_constituents", "n_charged", "n_neutral", "tau1", "tau2", "tau3", "tau4",
    "tau21", "tau32", "mass_sd", "girth", "ptd", "jet_charge", "zlogz",
)
N_TRAIN = 200  # of the ~300 jets of the session sample; the rest are held out


# --------------------------------------------------------------------------- config (no hls4ml)


def test_config_defaults_and_overrides():
    c = hls.HLSConfig.from_dict(
        {"precision": "ap_fixed<14,5>", "strategy": "resource", "backend": "vitis",
         "layer_precision": {"net.0": "ap_fixed<10,4>", "net_2": {"weight": "ap_fixed<8,3>"}},
         "layer_reuse": {"net.0": 4}}
    )
    assert (c.strategy, c.backend, c.part, c.clock_period) == (
        "Resource", "Vitis", "xcku115-flvb2104-2-i", 5.0)
    assert c.layer_precision["net_0"] == {k: "ap_fixed<10,4>" for k in ("weight", "bias", "result")}
    assert c.precision_of("net_2", "weight") == "ap_fixed<8,3>"
    assert c.precision_of("net_2", "result") == "ap_fixed<14,5>"
    assert c.reuse_of("net.0") == 4 and c.reuse_of("net_2") == 1
    assert hls.HLSConfig.from_dict(c.to_dict()) == c


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(KeyError, match=r"'reuse'.*valid keys: precision, layer_precision"):
        hls.HLSConfig.from_dict({"reuse": 2})
    with pytest.raises(ValueError, match="valid backends: Vivado, Vitis"):
        hls.HLSConfig(backend="Quartus9")
    with pytest.raises(ValueError, match="valid strategies: Latency, Resource"):
        hls.HLSConfig(strategy="Fast")
    with pytest.raises(ValueError, match="ap_fixed<W,I>"):
        hls.HLSConfig(precision="float16")
    with pytest.raises(ValueError, match="unknown key"):
        hls.HLSConfig(layer_precision={"net_0": {"weights": "ap_fixed<8,3>"}})
    with pytest.raises(ValueError, match="reuse_factor"):
        hls.HLSConfig(reuse_factor=0)
    path = tmp_path / "hls.yaml"
    path.write_text("precision: ap_fixed<12,5>\nreuse_factor: 2\nlayer_reuse: {net_0: 8}\n")
    c = hls.HLSConfig.from_yaml(path)
    assert (c.precision, c.reuse_factor, c.layer_reuse) == ("ap_fixed<12,5>", 2, {"net_0": 8})
    path.write_text("precison: ap_fixed<12,5>\n")
    with pytest.raises(KeyError, match="precison"):
        hls.HLSConfig.from_yaml(path)


def test_parse_precision():
    assert hls.parse_precision("ap_fixed<16,6>") == (16, 6, True)
    assert hls.parse_precision("ap_ufixed<8, 0, AP_RND, AP_SAT>") == (8, 0, False)
    assert hls.parse_precision("ap_int<6>") == (6, 6, True)
    with pytest.raises(ValueError):
        hls.parse_precision("ap_fixed<16>")


# --------------------------------------------------------------------------- resources (no hls4ml)


def test_resource_estimate_of_the_paper_network():
    import torch

    from colliderlab.models.registry import create_model

    torch.manual_seed(0)
    model = create_model("dnn", "hls4ml", n_features=16, n_classes=5)
    est = hls.resource_estimate(model, (16,), hls.HLSConfig())
    assert est["mults"] == 16 * 64 + 64 * 32 + 32 * 32 + 32 * 5 == 4256
    assert est["dense_widths"] == [16, 64, 32, 32, 5]
    assert est["mults_nonzero"] <= est["mults"] and est["dsp"] == est["mults_nonzero"]
    # latency model: 4 dense layers of R + 2 cycles, 3 ReLUs of 1 cycle; II = R
    assert (est["latency_cycles"], est["latency_ns"], est["initiation_interval"]) == (15, 75.0, 1)
    assert est["paper"]["dsp_reuse_1"] == "not found"

    with torch.no_grad():  # prune: weights zero (or truncated to zero) remove multipliers
        model.net[0].weight[:, :8] = 0.0
        model.net[2].weight[:4] = 2.0 ** -12  # below the LSB 2^-10 of ap_fixed<16,6>
    pruned = hls.resource_estimate(model, (16,), hls.HLSConfig())
    assert pruned["mults"] == 4256
    first, second = pruned["layers"][0], pruned["layers"][2]
    assert first["zero_weights_float"] >= 8 * 64 and first["mults_nonzero"] <= 1024 - 512
    assert second["zero_weights"] >= 4 * 64 and second["zero_weights_float"] < 4 * 64

    for r in (2, 4):
        e = hls.resource_estimate(model, (16,), hls.HLSConfig(reuse_factor=r))
        dense = [row for row in e["layers"] if row["class"] == "Linear"]
        assert e["dsp"] == sum(-(-row["mults"] // r) - row["zero_weights"] // r for row in dense)
        assert e["latency_cycles"] == 4 * (r + 2) + 3 and e["initiation_interval"] == r
    narrow = hls.resource_estimate(model, (16,), hls.HLSConfig(precision="ap_fixed<8,3>"))
    assert narrow["dsp"] == 0 and narrow["lut_mults"] > 0  # 8-bit products go to LUTs


# --------------------------------------------------------------------------- trained tagger


@pytest.fixture(scope="module")
def tagger(toptag_file):
    """Trained on the first 200 jets; returns (model, held-out standardised features (J, 16),
    their labels, class names, float logits (J, 2))."""
    import torch

    from colliderlab.data.dataset import Standardizer
    from colliderlab.features.build import build_dataset
    from colliderlab.features.highlevel import ObservablesConfig
    from colliderlab.models.registry import create_model

    ds, _ = build_dataset(toptag_file, ObservablesConfig(names=FEATURES))
    arrays = Standardizer.fit(ds.arrays, ("x",)).apply(ds.arrays)
    x, y = arrays["x"], ds.labels
    torch.manual_seed(0)
    model = create_model("dnn", "hls4ml", n_features=16, n_classes=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x[:N_TRAIN]), torch.from_numpy(y[:N_TRAIN])
    for _ in range(200):  # longer training overfits: |logits| > 32 would wrap in ap_fixed<16,6>
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
    model.eval()
    x, y = x[N_TRAIN:], y[N_TRAIN:]
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    return model, x, y, tuple(ds.class_names), logits


@pytest.fixture(scope="module")
def compiled16(tagger, tmp_path_factory):
    if not HLS_OK:
        pytest.skip(HLS_WHY)
    model, x, _, _, _ = tagger
    out = tmp_path_factory.mktemp("hls") / "tagger16"
    handle = hls.convert(model, (16,), hls.HLSConfig(output_dir=str(out)))
    return handle, hls.emulate(handle, x)


@needs_hls4ml
def test_emulation_matches_float_at_16_6(tagger, compiled16):
    model, x, y, names, logits = tagger
    handle, emulated = compiled16
    assert emulated.shape == logits.shape == (len(x), 2)
    cmp = hls.compare(logits, emulated, y, names)
    assert cmp["accuracy_float"] > 0.75  # the tagger learned something
    assert cmp["argmax_agreement"] > 0.95
    for name, row in cmp["per_class"].items():
        assert abs(row["auc_loss"]) < 0.02, (name, row)
    assert 0 < cmp["max_abs_diff"] < 0.5  # fixed point, not float
    # the emulation is deterministic and per-jet (batching does not matter)
    np.testing.assert_array_equal(hls.emulate(handle, x[:7]), emulated[:7])
    np.testing.assert_array_equal(hls.emulate(handle, x[3:4]), emulated[3:4])
    # the full HLS project for synthesis is on disk
    for f in ("build_prj.tcl", "hls4ml_config.yml", "firmware/tagger.cpp", "firmware/parameters.h"):
        assert (handle.output_dir / f).exists(), f
    with pytest.raises(ValueError, match=r"\(N, 16\)"):
        hls.emulate(handle, x[:, :8])


@needs_hls4ml
def test_narrow_precision_agrees_worse(tagger, compiled16, tmp_path):
    model, x, y, names, logits = tagger
    good = hls.compare(logits, compiled16[1], y, names)
    handle = hls.convert(model, (16,), hls.HLSConfig(precision="ap_fixed<6,2>",
                                                      output_dir=str(tmp_path / "p6")))
    bad = hls.compare(logits, hls.emulate(handle, x), y, names)
    assert bad["max_abs_diff"] > 5 * good["max_abs_diff"]
    assert bad["argmax_agreement"] < good["argmax_agreement"] - 0.02
    assert bad["max_abs_auc_diff"] > good["max_abs_auc_diff"]


@needs_hls4ml_only
def test_per_layer_precision_and_reuse_are_applied(tagger, tmp_path):
    model = tagger[0]
    cfg = hls.HLSConfig.from_dict({
        "output_dir": str(tmp_path / "layers"),
        "layer_precision": {"net.0": {"weight": "ap_fixed<10,3>", "result": "ap_fixed<18,8>"}},
        "layer_reuse": {"net_2": 4},
    })
    handle = hls.convert(model, (16,), cfg, compile=False)
    rows = {r["name"]: r for r in handle.layers}
    assert rows["net_0"]["precision"]["weight"].startswith("fixed<10,3")
    assert rows["net_0"]["precision"]["result"].startswith("fixed<18,8")
    assert rows["net_0"]["precision"]["bias"].startswith("fixed<16,6")  # the default
    assert rows["net_2"]["reuse_factor"] == 4 and rows["net_0"]["reuse_factor"] == 1
    written = (handle.output_dir / "hls4ml_config.yml").read_text()
    assert "ap_fixed<10,3>" in written and "ReuseFactor: 4" in written
    defines = (handle.output_dir / "firmware" / "defines.h").read_text()
    assert "ap_fixed<10,3> net_0_weight_t" in defines
    assert "reuse_factor = 4;" in (handle.output_dir / "firmware" / "parameters.h").read_text()
    with pytest.raises(KeyError, match=r"net_99.*net_0"):
        hls.convert(model, (16,), hls.HLSConfig(layer_reuse={"net_99": 2},
                                                 output_dir=str(tmp_path / "x")), compile=False)


@needs_hls4ml_only
def test_unsupported_models_give_a_clear_error(tmp_path):
    import torch
    from torch import nn

    from colliderlab.models.registry import create_model

    jedi = create_model("interaction_net", "lite", n_features=4, n_classes=2)
    with pytest.raises(NotImplementedError, match=r"InteractionNet.*Tensor\.bool.*torch\.eye"):
        hls.convert(jedi, [(6, 4), (6,)], hls.HLSConfig(output_dir=str(tmp_path / "in")))
    gelu = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2))
    with pytest.raises(NotImplementedError, match=r"module GELU \(at 1\)"):
        hls.convert(gelu, (4,), hls.HLSConfig(output_dir=str(tmp_path / "gelu")))

    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:  # data-dependent control flow
                return self.fc(x)
            return -self.fc(x)

    with pytest.raises(ValueError, match="torch.fx cannot trace Branchy"):
        hls.convert(Branchy(), (4,), hls.HLSConfig(output_dir=str(tmp_path / "b")))


@needs_hls4ml
def test_small_cnn_converts_and_agrees(tmp_path):
    import torch

    from colliderlab.models.registry import create_model

    torch.manual_seed(1)
    cnn = create_model("cnn", "lite", in_channels=2, image_size=8, n_classes=2, channels=(4, 4),
                       pool_after=(1,), kernel_size=3, dense=(8,), batch_norm=False).eval()
    with torch.no_grad():  # O(1) logits (at the default init they are ~0.03, below the LSB noise)
        for p in cnn.parameters():
            p.mul_(3.0)
    x = np.random.default_rng(0).normal(size=(200, 2, 8, 8)).astype(np.float32)
    with torch.no_grad():
        logits = cnn(torch.from_numpy(x)).numpy()
    handle = hls.convert(cnn, (2, 8, 8), hls.HLSConfig(output_dir=str(tmp_path / "cnn")))
    assert {"Conv2D", "ZeroPadding2D", "Pooling2D", "Dense"} <= {r["class"] for r in handle.layers}
    emulated = hls.emulate(handle, x)  # channels-first input, as for PyTorch
    assert np.abs(emulated - logits).max() < 0.05 * np.abs(logits).max()
    assert np.corrcoef(emulated.ravel(), logits.ravel())[0, 1] > 0.99  # layout is right
    clear = np.abs(logits[:, 1] - logits[:, 0]) > 0.1  # an untrained net has near-ties
    assert clear.sum() > 20
    assert (emulated.argmax(1) == logits.argmax(1))[clear].mean() > 0.95
    est = hls.resource_estimate(cnn, (2, 8, 8))
    conv = [r for r in est["layers"] if r["class"] == "Conv2d"]
    assert [r["mults"] for r in conv] == [64 * 2 * 9 * 4, 64 * 4 * 9 * 4]


@needs_hls4ml
def test_small_cnn_with_batch_norm_converts_and_agrees(tmp_path):
    """The lite CNN has batch norm (issue #20): running statistics away from their defaults fold
    into the firmware model and its emulation follows PyTorch's eval-mode outputs."""
    import torch

    from colliderlab.models.registry import create_model

    torch.manual_seed(1)
    cnn = create_model("cnn", "lite", in_channels=2, image_size=8, n_classes=2, channels=(4, 4),
                       pool_after=(1,), kernel_size=3, dense=(8,))
    assert cnn.config.batch_norm
    x = np.random.default_rng(0).normal(size=(200, 2, 8, 8)).astype(np.float32)
    cnn.train()
    with torch.no_grad():
        for _ in range(20):  # running means and variances of these inputs
            cnn(torch.from_numpy(x))
        cnn.eval()
        for p in cnn.parameters():  # O(1) logits; the norms' scales stay as trained
            if p.dim() in (2, 4):
                p.mul_(2.0)
        logits = cnn(torch.from_numpy(x)).numpy()
    handle = hls.convert(cnn, (2, 8, 8), hls.HLSConfig(output_dir=str(tmp_path / "cnn")))
    assert "BatchNormalization" in {r["class"] for r in handle.layers}
    emulated = hls.emulate(handle, x)
    assert np.abs(emulated - logits).max() < 0.08 * np.abs(logits).max()
    assert np.corrcoef(emulated.ravel(), logits.ravel())[0, 1] > 0.99


@needs_hls4ml
def test_export_hls_run(toptag_file, tmp_path):
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    cfg = experiment_from_dict({
        "name": "hls-export",
        "data": {"path": toptag_file, "cache_dir": None},
        "representation": {"kind": "observables", "names": list(FEATURES)},
        "model": {"name": "dnn", "preset": "hls4ml"},
        "trainer": {"epochs": 3, "batch_size": 64, "lr": 3.0e-3, "device": "cpu",
                    "progress": False, "amp": False, "patience": 0},
    })
    run = tmp_path / "run"
    run_experiment(cfg, run, progress=False, plots=False)
    from colliderlab.cli import main

    # through the command line: options as --set key=value
    assert main(["export", str(run), "--to", "hls4ml", "--set", "reuse_factor=2", "--data", toptag_file]) == 0
    summary = json.loads((run / "export" / "hls4ml.json").read_text())
    assert (run / "export" / "hls4ml" / "build_prj.tcl").exists()
    assert not list((run / "export").glob(".hls4ml.tmp*"))
    yml = (run / "export" / "hls4ml" / "hls4ml_config.yml").read_text()
    assert f"OutputDir: {run / 'export' / 'hls4ml'}" in yml
    on_disk = json.loads((run / "export" / "hls4ml.json").read_text())
    assert on_disk["model_name"] == "dnn" and on_disk["class_names"] == ["qcd", "top"]
    assert on_disk["resource_estimate"]["mults"] == 16 * 64 + 64 * 32 + 32 * 32 + 32 * 2
    assert on_disk["resource_estimate"]["initiation_interval"] == 2
    assert on_disk["compare"]["n_jets"] == summary["compare"]["n_jets"] > 250
    assert on_disk["compare"]["argmax_agreement"] > 0.95
    # the trigger-rate view: float vs fixed point at 100 kHz and 1 MHz, each class against the rest
    trig = on_disk["trigger"]
    assert {(r["signal"], r["scores"], r["rate_hz"]) for r in trig} >= {("top", "float", 1e6), ("top", "ap_fixed<16,6>", 1e6)}
    assert all(0.0 <= r["signal_efficiency"] <= 1.0 for r in trig)
    assert main(["export", str(run), "--to", "hls4ml", "--set", "strategy=fast"]) == 2
