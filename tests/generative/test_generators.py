"""Shower generators and the evaluation classifier on simulated showers.

Every generator trains a few steps through the shared trainer without NaN and samples showers
of the right shape (non-negative, sparse); the fixed evaluation classifier cannot tell two
independent simulated samples apart (AUC 0.5 +- 0.02) and clearly can when one layer's energy is
scaled by 10%.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab.data.dataset import ArrayDataset  # noqa: E402
from colliderlab.features.calo import CaloCellsConfig, calo_labels  # noqa: E402
from colliderlab.generative import fidelity as fd  # noqa: E402
from colliderlab.models.registry import create_model, list_models, model_spec  # noqa: E402
from colliderlab.physics.calo import CaloShowers, simulate  # noqa: E402
from colliderlab.train.checkpoint import load_weights  # noqa: E402
from colliderlab.train.trainer import Trainer, TrainerConfig  # noqa: E402

# shower generators (the event-level anomaly scorers, also trained on their own loss, have theirs
# in tests/anomaly)
GENERATORS = [n for n in list_models(generative=True) if "calo" in model_spec(n).representations]


@pytest.fixture(scope="module")
def gamma_pi0():
    """600 photons and 600 pi0s, 1-10 GeV, in the three-layer CaloGAN-like geometry."""
    a = simulate("calogan", "gamma", 600, energy=(1.0, 10.0), rng=11)
    b = simulate("calogan", "pi0", 600, energy=(1.0, 10.0), rng=12)
    return CaloShowers.concatenate([a, b])


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_trains_and_samples(name, gamma_pi0, tmp_path):
    arrays = CaloCellsConfig().compute(gamma_pi0)
    labels, names = calo_labels(gamma_pi0)
    ds = ArrayDataset(arrays, labels, names)
    torch.manual_seed(0)
    model = create_model(name, "lite", n_features=arrays["x"].shape[1], n_context=2, n_classes=len(names))
    cfg = TrainerConfig(epochs=3, max_steps=20, batch_size=64, lr=1e-3, schedule="none", patience=0,
                        progress=False, amp=False)
    res = Trainer(model, cfg, tmp_path).fit(ds, ds.subset(slice(0, 200)))
    assert all(np.isfinite(r["train_loss"]) and np.isfinite(r["val_loss"]) for r in res.history)
    out = model.sample(torch.from_numpy(arrays["cond"][:300]), torch.from_numpy(labels[:300]))
    assert out.shape == (300, gamma_pi0.showers.shape[1])
    assert torch.isfinite(out).all() and (out >= 0).all() and (out <= 1).all()
    assert (out == 0).any()  # exact zeros: sparse showers are possible
    # the checkpoint alone rebuilds a generator that samples
    clone = create_model(name, "lite", n_features=arrays["x"].shape[1], n_context=2, n_classes=len(names))
    load_weights(clone, tmp_path / "checkpoint_best")
    assert clone.sample(torch.from_numpy(arrays["cond"][:5])).shape == (5, arrays["x"].shape[1])


def _highlevel(s):
    layout = fd.layout_of(s.geometry)
    return fd.highlevel_inputs(fd.shower_observables(s.showers, s.incident_energy, layout), s.incident_energy)


def test_evaluation_classifier_is_calibrated_and_sensitive():
    """Two independent 20k samples: AUC 0.5 +- 0.02; layer 1 scaled by 10%: clearly higher."""
    a = simulate("calogan", "e-", 20000, energy=(1.0, 10.0), rng=21)
    b = simulate("calogan", "e-", 20000, energy=(1.0, 10.0), rng=22)
    same = fd.classifier_auc(_highlevel(a), _highlevel(b))["auc"]
    assert abs(same - 0.5) < 0.02, same
    d = CaloShowers(b.incident_energy, b.showers.copy(), b.particle, b.angle, b.geometry, b.layer_shapes)
    d.showers[:, b.layer_shapes[0][0] * b.layer_shapes[0][1]:][:, : 144] *= 1.1  # layer 1 energy x 1.1
    distorted = fd.classifier_auc(_highlevel(a), _highlevel(d))["auc"]
    assert distorted > same + 0.05, (same, distorted)
    print(f"evaluation classifier: same-distribution AUC {same:.4f}, layer 1 x 1.1 AUC {distorted:.4f}")


def test_flow_matching_layers_carry_the_energy_flow_energies(gamma_pi0):
    """calo_fm rescales every generated layer to the energy its layer-energy flow drew (here the
    flow's draw is replaced by the simulated showers' own layer energies)."""
    from colliderlab.generative.base import from_unit, to_unit

    arrays = CaloCellsConfig().compute(gamma_pi0)
    x, cond = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["cond"])
    torch.manual_seed(0)
    model = create_model("calo_fm", "lite", n_features=x.shape[1], n_context=2, layer_shapes=gamma_pi0.layer_shapes,
                         steps=4)
    model.train()
    model.loss(x[:256], cond[:256], torch.zeros(256, dtype=torch.long))  # sets the standardisation
    assert bool(model.initialised)
    target = model.layer_energies(x[:200])  # (200, 3) layer fractions of E_inc
    model.sample_energies = lambda context: (to_unit(target) - model.energy_mean) / model.energy_std
    got = model.layer_energies(model.sample(cond[:200]))
    want = from_unit(to_unit(target))
    ok = got > 0
    assert ok.float().mean() > 0.5
    torch.testing.assert_close(got[ok], want[ok], rtol=1e-3, atol=1e-6)


def test_calo_representation_readout_threshold(gamma_pi0):
    """``min_energy`` zero-suppresses cells before normalising: no fraction below min_energy / E_inc
    survives, cells above it are unchanged, and a negative threshold is refused."""
    raw = CaloCellsConfig().compute(gamma_pi0)["x"]
    thr = 1e-3
    sup = CaloCellsConfig(min_energy=thr).compute(gamma_pi0)["x"]
    e = gamma_pi0.incident_energy[:, None]
    cells = gamma_pi0.showers
    assert ((cells > 0) & (cells <= thr)).any()  # the threshold has something to remove
    np.testing.assert_array_equal(sup[cells <= thr], 0.0)
    np.testing.assert_allclose(sup[cells > thr], raw[cells > thr])
    assert (sup[sup > 0] > (thr / e * np.ones_like(sup))[sup > 0] * (1 - 1e-6)).all()
    with pytest.raises(ValueError, match="min_energy"):
        CaloCellsConfig(min_energy=-1.0)


@pytest.mark.parametrize("standardise", ["layer", "global"])
def test_flow_matching_standardisations_share_one_width_per_group(gamma_pi0, standardise):
    """calo_fm's per-layer / global standardisation: one mean and width per layer (or for all
    cells), equal to the statistics of the transformed training cells of that group."""
    from colliderlab.generative.base import to_unit
    from colliderlab.generative.fm import _MIN_STD

    arrays = CaloCellsConfig().compute(gamma_pi0)
    x, cond = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["cond"])
    torch.manual_seed(0)
    model = create_model("calo_fm", "lite", n_features=x.shape[1], n_context=2, layer_shapes=gamma_pi0.layer_shapes,
                         steps=2, standardise=standardise)
    model.train()
    loss = model.loss(x[:256], cond[:256], torch.zeros(256, dtype=torch.long))
    assert torch.isfinite(loss).all()
    groups = [model.layer_of_cell == k for k in range(model.n_layers)] if standardise == "layer" else [
        torch.ones(x.shape[1], dtype=torch.bool)]
    torch.manual_seed(1)
    t = to_unit(x[:256], noise=True)
    for g in groups:
        assert torch.unique(model.cell_std[g]).numel() == 1 and torch.unique(model.cell_mean[g]).numel() == 1
        torch.testing.assert_close(model.cell_mean[g][0], t[:, g].mean(), atol=5e-3, rtol=0)
        want = t[:, g].std().clamp(min=_MIN_STD)  # the floor of rarely hit groups
        torch.testing.assert_close(model.cell_std[g][0], want, atol=5e-3, rtol=0.02)
    assert model.sample(cond[:8]).shape == (8, x.shape[1])
    with pytest.raises(ValueError, match="cell, layer, global"):
        create_model("calo_fm", "lite", n_features=x.shape[1], standardise="voxel")
