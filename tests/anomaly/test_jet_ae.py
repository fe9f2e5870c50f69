"""Jet autoencoders trained on QCD only (arXiv:1808.08992, 1808.08979): shapes, save/load, the
permutation invariance of the particle-cloud loss, and learning: a fixed number of steps on 100
real QCD jets lowers the loss and scores held-out top jets above held-out QCD jets.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab import kinematics as kin  # noqa: E402
from colliderlab.anomaly.jet_ae import chamfer_distance  # noqa: E402
from colliderlab.anomaly.jet_ae_train import (  # noqa: E402
    evaluate_jet_anomaly,
    plot_mass_sculpting,
    train_jet_anomaly,
)
from colliderlab.data.dataset import ArrayDataset, Standardizer  # noqa: E402
from colliderlab.features.representations import representation_config  # noqa: E402
from colliderlab.metrics import auc  # noqa: E402
from colliderlab.models.registry import build_config, list_models, model_spec  # noqa: E402
from colliderlab.train.checkpoint import load_model, save_model  # noqa: E402
from colliderlab.train.trainer import Trainer, TrainerConfig  # noqa: E402

JET_AES = {"jet_image_ae": ("image", {"size": 40}), "particle_cloud_ae": ("particles", {"n_particles": 32})}
N_TRAIN_QCD = 100
STEPS = 150


@pytest.fixture(scope="module")
def ae_data(toptag_jets):
    """Per representation: arrays standardised on the first 100 QCD jets (the training set), the
    training and the test indices (the other QCD jets and all top jets), and the model dims."""
    qcd, top = np.flatnonzero(toptag_jets.label == 0), np.flatnonzero(toptag_jets.label == 1)
    train, test = qcd[:N_TRAIN_QCD], np.r_[qcd[N_TRAIN_QCD:], top]
    out = {}
    for kind, opts in JET_AES.values():
        rep = representation_config(kind, **opts)
        if hasattr(rep, "resolve"):
            rep = rep.resolve(toptag_jets[train])
        arrays = rep.compute(toptag_jets)
        std = Standardizer.fit({k: v[train] for k, v in arrays.items()}, rep.standardize)
        ds = ArrayDataset(std.apply(arrays), toptag_jets.label.astype(np.int64), toptag_jets.label_names)
        out[kind] = (ds, train, test, rep.dims(arrays))
    return out


def _model(name, ae_data, seed=0, preset="lite"):
    kind = JET_AES[name][0]
    ds, train, test, dims = ae_data[kind]
    torch.manual_seed(seed)
    model = model_spec(name).cls(build_config(name, preset, **dims))
    return model, ds, train, test


def _inputs(model, batch):
    return [batch[k] for k in model.input_names]


def test_registered_as_non_tagger_scorers():
    for name in JET_AES:
        assert name in list_models(generative=True) and name not in list_models(generative=False)
        spec = model_spec(name)
        assert {"paper", "lite"} <= set(spec.presets) and spec.reference.startswith("arXiv")


@pytest.mark.parametrize("preset", ["lite", "paper"])
@pytest.mark.parametrize("name", list(JET_AES))
def test_forward_shapes_finite_and_gradients(name, preset, ae_data):
    model, ds, _, _ = _model(name, ae_data, preset=preset)
    batch = next(ds.subset(slice(0, 16)).batches(16))
    model.train()
    score = model(*_inputs(model, batch))
    assert score.shape == (16,)
    assert torch.isfinite(score).all() and (score >= 0).all()
    score.mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"{name}: no (finite) gradient for {missing}"
    if name == "jet_image_ae":
        rec = model.reconstruct(batch["image"])
        assert rec.shape == batch["image"].shape
        # softmax output times the input's sum: the reconstruction keeps each image's total
        torch.testing.assert_close(rec.sum((2, 3)), batch["image"].sum((2, 3)), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", list(JET_AES))
def test_save_load_parity(name, ae_data, tmp_path):
    model, ds, _, _ = _model(name, ae_data)
    model.eval()
    batch = next(ds.subset(slice(0, 16)).batches(16))
    ref = model(*_inputs(model, batch))
    clone = load_model(save_model(model, tmp_path / "m"))
    torch.testing.assert_close(clone(*_inputs(clone, batch)), ref)


def test_particle_cloud_loss_is_permutation_invariant(ae_data):
    """Shuffling all slots of each jet (real and padded together) leaves every jet's loss alone."""
    model, ds, _, _ = _model("particle_cloud_ae", ae_data)
    model.eval()
    batch = next(ds.subset(slice(0, 12)).batches(12))
    x, mask = batch["x"], batch["mask"].clone()
    mask[::2, 20:] = False  # most fixture jets fill all 32 slots: give half of them padding
    gen = torch.Generator().manual_seed(0)
    perm = torch.stack([torch.randperm(x.shape[1], generator=gen) for _ in range(len(x))])  # (B, N)
    xp = torch.gather(x, 1, perm[:, :, None].expand_as(x))
    mp = torch.gather(mask, 1, perm)
    assert not torch.equal(mp, mask)  # padding really moved
    torch.testing.assert_close(model(xp, mp), model(x, mask), rtol=1e-5, atol=1e-5)


def test_chamfer_distance():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, 2, generator=gen)
    xm = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    d0 = chamfer_distance(x, xm, x, xm)
    torch.testing.assert_close(d0, torch.zeros(3))  # identical sets
    y = torch.randn(3, 4, 2, generator=gen)
    ym = torch.ones(3, 4, dtype=torch.bool)
    d = chamfer_distance(x, xm, y, ym)
    torch.testing.assert_close(d, chamfer_distance(y, ym, x, xm))  # symmetric
    assert (d[:2] > 0).all() and d[2] == 0  # an empty set scores zero
    # padded entries do not matter, and the brute-force value agrees
    x2 = x.clone()
    x2[0, 4:] = 1e3
    torch.testing.assert_close(chamfer_distance(x2, xm, y, ym), d)
    a, b = x[0, :4], y[0]
    dd = ((a[:, None] - b[None]) ** 2).sum(-1)
    torch.testing.assert_close(d[0], dd.min(1).values.mean() + dd.min(0).values.mean())


def _train(name, ae_data, seed):
    model, ds, train, test = _model(name, ae_data, seed=seed)
    cfg = TrainerConfig(epochs=10_000, max_steps=STEPS, batch_size=32, lr=3e-3, patience=0, progress=False,
                        seed=seed, schedule="none")
    trainer = Trainer(model, cfg)
    res = trainer.fit(ds.subset(train))
    test_ds = ds.subset(test)
    return res.history, trainer.predict(test_ds), test_ds.labels


# AUC top vs QCD after 150 steps on 100 QCD jets (seeds 0-4 measured): image 0.82-0.87 (0.23
# untrained: an untrained decoder scores the concentrated QCD images highest); cloud 0.86-0.88
# (0.82 untrained: the Chamfer distance of a random code already grows with the multiplicity,
# so its bound sits above that). The loss falls to 11-12% (image) and 38-41% (cloud) of its first epoch's.
@pytest.mark.parametrize(("name", "min_auc"), [("jet_image_ae", 0.75), ("particle_cloud_ae", 0.83)])
def test_trained_on_qcd_scores_top_as_anomalous(name, min_auc, ae_data, toptag_jets):
    history, score, labels = _train(name, ae_data, seed=0)
    assert np.isfinite(score).all() and score.shape == labels.shape
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    assert last < 0.6 * first, (first, last)
    a = auc(score, labels == 1)
    assert a >= min_auc, f"{name}: AUC top vs QCD {a:.3f} after {STEPS} steps"


def test_evaluate_jet_anomaly_metrics():
    rng = np.random.default_rng(0)
    m_qcd = rng.uniform(10, 200, 400)
    perfect = evaluate_jet_anomaly({"qcd": np.zeros(400), "top": np.ones(100)},
                                   {"qcd": m_qcd, "top": np.full(100, 173.0)})
    row = perfect["signals"]["top"]
    assert row["auc"] == pytest.approx(1.0) and row["rejection@0.3"] == np.inf and row["rejection@0.5"] == np.inf
    # a score that is a monotone function of the mass: Spearman exactly 1, Pearson below
    r = evaluate_jet_anomaly({"qcd": np.exp(m_qcd / 40), "w": np.ones(5)}, {"qcd": m_qcd, "w": np.full(5, 80.0)})
    assert r["mass_correlation"]["spearman"] == pytest.approx(1.0)
    assert 0.5 < r["mass_correlation"]["pearson"] < 1.0
    assert evaluate_jet_anomaly({"qcd": rng.normal(size=5000), "w": np.ones(1)},
                                {"qcd": rng.normal(size=5000), "w": np.ones(1)})["mass_correlation"]["spearman"] < 0.05
    with pytest.raises(KeyError, match="background"):
        evaluate_jet_anomaly({"top": np.ones(3)}, {"top": np.ones(3)})


def test_train_jet_anomaly_end_to_end(toptag_jets, tmp_path):
    """The one-call workflow on real jets: train on QCD, per-class scores, metrics and the figure."""
    from colliderlab.models.registry import create_model

    qcd, top = toptag_jets[toptag_jets.label == 0], toptag_jets[toptag_jets.label == 1]
    rep = representation_config("image", size=20)
    torch.manual_seed(0)
    model = create_model("jet_image_ae", "lite", in_channels=1, image_size=20)
    cfg = TrainerConfig(epochs=10_000, max_steps=40, batch_size=32, lr=3e-3, patience=0, progress=False,
                        schedule="none")
    res = train_jet_anomaly(model, rep, qcd[:100], {"qcd": qcd[100:], "top": top}, cfg)
    assert res.scores["qcd"].shape == (len(qcd) - 100,) and res.scores["top"].shape == (len(top),)
    row = res.metrics["signals"]["top"]
    assert 0.0 <= row["auc"] <= 1.0 and {"rejection@0.3", "rejection@0.5", "mass_auc"} <= set(row)
    np.testing.assert_allclose(res.masses["top"], kin.mass(top.jet_p4))
    assert set(res.metrics["mass_correlation"]) == {"pearson", "spearman"}
    path = plot_mass_sculpting(res.scores["qcd"], res.masses["qcd"], tmp_path / "sculpt.png")
    assert path.exists() and path.stat().st_size > 0
