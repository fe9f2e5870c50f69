"""Explanations (colliderlab.explain): SHAP of a BDT sums to its margin, integrated gradients are
complete, ParT attention maps have their shapes and sum to one, EFN filters, the explain CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("captum")
pytest.importorskip("shap")


def test_bdt_shap_values_sum_to_the_margin(rep_data):
    from colliderlab.explain.tabular import ranking, tree_shap
    from colliderlab.models.bdt import BDTClassifier, BDTConfig

    ds = rep_data("observables")
    x, y = ds.arrays["x"], ds.labels
    bdt = BDTClassifier(BDTConfig(n_estimators=40, max_depth=3), feature_names=tuple(f"f{i}" for i in range(x.shape[1])))
    bdt.fit(x, y)
    values, expected = tree_shap(bdt, x)
    assert values.shape == x.shape
    np.testing.assert_allclose(values.sum(1) + expected, bdt.margin(x), atol=1e-4)
    assert ranking(values, [f"f{i}" for i in range(x.shape[1])])[0][1] > 0


def test_dnn_deep_shap_is_additive(rep_data):
    from colliderlab.explain.tabular import deep_shap
    from colliderlab.models.registry import create_model

    ds = rep_data("observables")
    x = ds.arrays["x"].astype(np.float32)
    torch.manual_seed(0)
    model = create_model("dnn", "lite", n_features=x.shape[1]).eval()
    values, err = deep_shap(model, x[:40], x[40:80])
    assert values.shape == (40, x.shape[1])
    assert err < 1e-3 and np.abs(values).sum() > 0


@pytest.mark.parametrize("name", ["pfn", "cnn"])
def test_integrated_gradients_are_complete_within_one_percent(rep_data, name):
    from colliderlab.explain.gradients import integrated_gradients
    from colliderlab.models.registry import create_model

    kind = "particles" if name == "pfn" else "image"
    ds = rep_data(kind)
    dims = {"n_features": ds.arrays["x"].shape[-1]} if kind == "particles" else \
        {"in_channels": 1, "image_size": ds.arrays["image"].shape[-1]}
    torch.manual_seed(0)
    model = create_model(name, "lite", **dims).double().eval()  # float64: only the quadrature's error is left
    n = 24 if name == "pfn" else 8
    scale = 1.0 if name == "pfn" else 100.0  # sum-normalised pixels (~1e-2) barely move an untrained CNN
    inputs = {k: (scale ** (k == "image") * ds.arrays[k][:n].astype(np.float64) if ds.arrays[k].dtype == np.float32
                  else ds.arrays[k][:n]) for k in model.input_names}
    attr, delta, gain = integrated_gradients(model, inputs, target=1, n_steps=512)
    total = sum(a.reshape(len(a), -1).sum(1) for a in attr.values())
    np.testing.assert_allclose(total - gain, delta, atol=1e-4)  # captum's delta is that difference
    big = np.abs(gain) > 1e-4  # an untrained network: small but resolved gains in float64
    assert big.sum() >= 5
    assert np.max(np.abs(delta[big]) / np.abs(gain[big])) < 0.01


def test_part_attention_maps_shapes_sum_to_one_and_reproduce_the_forward(rep_data):
    from colliderlab.explain.attention import attention_maps
    from colliderlab.models.registry import create_model

    ds = rep_data("particles")
    x, p4, mask = (ds.arrays[k][:6] for k in ("x", "p4", "mask"))
    torch.manual_seed(0)
    model = create_model("part", "lite", n_features=x.shape[-1]).eval()
    maps = attention_maps(model, x, p4, mask)
    b, n = mask.shape
    L, H, Lc = model.config.num_layers, model.config.num_heads, model.config.num_cls_layers
    assert maps["particle"].shape == (b, L, H, n, n)
    assert maps["class"].shape == (b, Lc, H, 1 + n)
    assert maps["interaction_tv"].shape == maps["interaction_std"].shape == (L, H)
    np.testing.assert_allclose(maps["particle"].sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(maps["class"].sum(-1), 1.0, atol=1e-5)
    pad_keys = ~mask[:, None, None, None, :]
    assert np.all(maps["particle"][np.broadcast_to(pad_keys, maps["particle"].shape)] < 1e-6)
    assert np.all((maps["interaction_tv"] >= 0) & (maps["interaction_tv"] <= 1))
    # attention_weights is what forward applies: weights @ v through the output projection
    mha = model.blocks[0].attn
    q = torch.randn(2, 5, mha.dim)
    bias = torch.randn(2, mha.heads, 5, 5)
    w, _ = mha.attention_weights(q, bias=bias)
    d = mha.dim // mha.heads
    v = torch.nn.functional.linear(q, *[t.chunk(3)[2] for t in (mha.in_proj.weight, mha.in_proj.bias)])
    v = v.view(2, 5, mha.heads, d).transpose(1, 2)
    o = torch.matmul(w, v).transpose(1, 2).reshape(2, 5, mha.dim)
    wo = mha.out_proj.weight * mha.head_scale.repeat_interleave(d)
    torch.testing.assert_close(torch.nn.functional.linear(o, wo, mha.out_proj.bias), mha(q, bias=bias))


def test_efn_filters_are_phi_on_the_plane(rep_data):
    from colliderlab.explain.efn import efn_filters, filter_usage
    from colliderlab.models.registry import create_model

    torch.manual_seed(0)
    model = create_model("efn", "lite", n_features=7).eval()
    filters, axis = efn_filters(model, extent=0.8, n_grid=21)
    assert filters.shape == (model.config.phi_dims[-1], 21, 21)
    i, j = 3, 17
    with torch.no_grad():
        direct = model.phi(torch.tensor([[axis[i], axis[j]]], dtype=torch.float32))[0].numpy()
    np.testing.assert_allclose(filters[:, i, j], direct, rtol=1e-5, atol=1e-6)
    ds = rep_data("particles")
    usage = filter_usage(model, ds.arrays["coords"], ds.arrays["p4"], ds.arrays["mask"], ds.labels, 2)
    assert usage.shape == (2, model.config.phi_dims[-1]) and np.isfinite(usage).all()


@pytest.mark.parametrize("name", ["efn", "part"])
def test_particle_occlusion_is_the_change_on_removing_each_particle(rep_data, name):
    """captum's FeatureAblation over particle groups equals removing each particle by hand (mask
    off, arrays zeroed) and re-evaluating log p(top); padding gets zero."""
    from colliderlab.explain.gradients import particle_occlusion
    from colliderlab.models.registry import create_model

    ds = rep_data("particles")
    torch.manual_seed(0)
    model = create_model(name, "lite", n_features=ds.arrays["x"].shape[-1]).eval()
    inputs = {k: ds.arrays[k][:6] for k in model.input_names}
    occ = particle_occlusion(model, inputs, target=1, batch_size=4, per_eval=5)
    mask = inputs["mask"]
    assert occ.shape == mask.shape and not occ[~mask].any() and np.abs(occ[mask]).sum() > 0

    def logp(d):
        with torch.no_grad():
            return torch.log_softmax(model(*[torch.as_tensor(d[k]) for k in model.input_names]), -1)[:, 1].numpy()

    for j in (0, 5):
        idx = np.nonzero(mask[j])[0]
        d = {k: np.repeat(v[j:j + 1], len(idx), 0) for k, v in inputs.items()}
        for k in d:
            d[k][np.arange(len(idx)), idx] = False if k == "mask" else 0
        ref = logp({k: v[j:j + 1] for k, v in inputs.items()})[0] - logp(d)
        np.testing.assert_allclose(occ[j, idx], ref, atol=2e-5)


def test_explain_cli_on_a_particle_run(toptag_file, tmp_path):
    """A PFN trained for a few epochs: the CLI writes arrays, figures and the three-prong check."""
    import h5py

    from colliderlab.cli import main
    from colliderlab.train.config import experiment_from_dict
    from colliderlab.train.experiment import run_experiment

    cfg = experiment_from_dict({
        "name": "pfn-explain", "data": {"path": toptag_file},
        "representation": {"kind": "particles", "n_particles": 32}, "model": {"name": "pfn", "preset": "lite"},
        "trainer": {"epochs": 3, "batch_size": 32, "lr": 3e-3, "progress": False, "num_threads": 1}})
    run_experiment(cfg, tmp_path / "run", progress=False, plots=False)
    out = tmp_path / "ex"
    assert main(["explain", str(tmp_path / "run"), "--data", toptag_file, "--n-jets", "120", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["n_jets"] == 120 and "prong_check" in s and "prong_check_occlusion" in s
    for c in (s["prong_check"], s["prong_check_occlusion"]):
        assert c["n_jets"] > 20 and 0 < c["pt_share"] <= 1 and 0 < c["attribution_share"] <= 1
    assert {"particle_jets.png", "particle_dr_z.png"} <= {p.name for p in out.iterdir()}
    with h5py.File(out / "explain.h5") as f:
        attr, occ, mask = f["particle_attribution"][:], f["particle_occlusion"][:], f["mask"][:]
    assert attr.shape == occ.shape == mask.shape == (120, 32) and not attr[~mask].any() and not occ[~mask].any()
    assert np.abs(attr[mask]).sum() > 0 and np.abs(occ[mask]).sum() > 0
    # a file that lacks what the run reads is refused, naming the file's problem
    assert main(["explain", str(tmp_path / "run"), "--data", str(tmp_path / "missing.h5")]) == 2
