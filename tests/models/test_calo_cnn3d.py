"""The 3D CNN on the fine LCD cube (25 layers of 25 x 25 cells): shapes, gradients, the shape check,
and electron/charged-pion separation through the normal experiment path."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab.features.calo import CaloCellsConfig  # noqa: E402
from colliderlab.models.registry import count_params, create_model  # noqa: E402
from colliderlab.physics.calo import CALO_GEOMETRIES, CaloShowers, simulate  # noqa: E402

LCD = CALO_GEOMETRIES["lcd"]


@pytest.fixture(scope="module")
def lcd_batch():
    """12 electrons and 12 charged pions (10-50 GeV) in the lcd cube as ``calo`` arrays."""
    showers = CaloShowers.concatenate([simulate("lcd", p, 12, energy=(10.0, 50.0), rng=s)
                                       for s, p in enumerate(("e-", "pi+"))])
    arrays = CaloCellsConfig(normalize="deposited").resolve(showers).compute(showers)
    return torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["cond"])


def _model(preset: str = "lite", **kw):
    return create_model("calo_cnn3d", preset, n_features=LCD.n_cells, n_classes=2, n_context=2,
                        layer_shapes=LCD.layer_shapes, **kw)


@pytest.mark.parametrize("preset", ["lite", "paper"])
def test_forward_shape_and_finite(lcd_batch, preset):
    x, cond = lcd_batch
    assert x.shape == (24, 15625)
    torch.manual_seed(0)
    model = _model(preset).eval()
    with torch.no_grad():
        out = model(x, cond)
        assert out.shape == (24, 2) and torch.isfinite(out).all()
        # batch rows are independent: one shower alone scores as in the batch
        assert torch.allclose(model(x[3:4], cond[3:4]), out[3:4], atol=1e-5)
    assert count_params(model) > 0


def test_gradient_on_every_parameter(lcd_batch):
    x, cond = lcd_batch
    torch.manual_seed(0)
    model = _model().train()
    loss = torch.nn.functional.cross_entropy(model(x, cond), torch.arange(24) % 2)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_input_and_layer_shape_checks(lcd_batch):
    x, cond = lcd_batch
    calogan = CALO_GEOMETRIES["calogan"]  # (3, 96), (12, 12), (12, 6): not a cube
    with pytest.raises(ValueError, match=r"same \(h, w\) shape.*\(3, 96\)"):
        create_model("calo_cnn3d", n_features=calogan.n_cells, layer_shapes=calogan.layer_shapes)
    with pytest.raises(ValueError, match=r"25 layers of 25 x 25\) have 15625 cells, but n_features = 100"):
        create_model("calo_cnn3d", n_features=100, layer_shapes=LCD.layer_shapes)
    with pytest.raises(ValueError, match="needs layer_shapes"):
        create_model("calo_cnn3d", n_features=100)
    model = _model()
    with pytest.raises(ValueError, match=r"calo_cnn3d: input 'x' must have shape \(B, 15625\)"):
        model(x[:, :-1], cond)
    with pytest.raises(ValueError, match="input 'cond'"):
        model(x, cond[:-1])


def test_learns_electrons_vs_charged_pions(tmp_path):
    """Electrons shower early and fully, pions late and partially (e/h): the cube's depth separates them.
    The run directory alone rebuilds the model (layer shapes from the file's geometry)."""
    from colliderlab import metrics
    from colliderlab.data.calo_sim import simulate_to_file
    from colliderlab.train.experiment import experiment_from_dict, load_run, run_experiment

    path = str(simulate_to_file(tmp_path / "e_pi_lcd.h5", "lcd", ["e-", "pi+"], 200, energy=(10.0, 50.0),
                                seed=7, progress=False))
    exp = experiment_from_dict({
        "name": "cnn3d", "data": {"path": path, "cache_dir": None},
        "representation": {"kind": "calo", "normalize": "deposited"},
        "model": {"name": "calo_cnn3d", "preset": "lite"},
        "trainer": {"epochs": 8, "batch_size": 32, "lr": 3e-3, "progress": False, "patience": 0},
    })
    res = run_experiment(exp, tmp_path / "run", progress=False, plots=False)
    # measured 0.945-0.993 on the 60 test showers (4 data/trainer seed pairs; a BDT on shower shapes:
    # 0.99), 0.5 being random
    assert res["class_names"] == ["e-", "pi+"] and res["auc"] > 0.9, res["auc"]
    probs, labels = load_run(tmp_path / "run").predict_proba(path)
    assert probs.shape == (400, 2) and np.isfinite(probs).all()
    auc_all = metrics.auc(probs[:, 0], labels == 0)  # the rebuilt model on all 400 (measured 0.978-0.992)
    assert auc_all > 0.95, auc_all
