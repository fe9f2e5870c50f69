"""Registry-driven tests: every registered model, on real Pythia jets in its own representation.

For each model: output shapes and no NaN, a gradient on every parameter, save/load parity from
the config dict alone, permutation invariance for set and graph models, and learning: a fixed
number of optimiser steps on the session's top-vs-QCD fixture reaches AUC >= 0.75.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from colliderlab.data.dataset import ArrayDataset, split_indices  # noqa: E402
from colliderlab.metrics import auc  # noqa: E402
from colliderlab.models.registry import (  # noqa: E402
    build_config,
    count_params,
    list_models,
    model_from_config,
    model_spec,
)
from colliderlab.train.checkpoint import load_model, save_model  # noqa: E402
from colliderlab.train.trainer import Trainer, TrainerConfig, softmax  # noqa: E402

# jet taggers (calorimeter models have their own tests, on simulated showers)
MODELS = [n for n in list_models(generative=False) if "calo" not in model_spec(n).representations]
def _build(name: str, rep_data, n_classes: int = 2, seed: int = 0):
    spec = model_spec(name)
    ds = rep_data(spec.representations[0])
    torch.manual_seed(seed)
    model = spec.cls(build_config(name, "lite", **ds.meta["dims"], n_classes=n_classes))
    return model, ds


def _batch(ds: ArrayDataset, n: int = 16) -> dict:
    return next(ds.subset(slice(0, n)).batches(n))


def _inputs(model, batch):
    return [batch[k] for k in model.input_names]


@pytest.mark.parametrize("name", MODELS)
def test_forward_shapes_finite_and_gradients(name, rep_data):
    model, ds = _build(name, rep_data, n_classes=5)
    batch = _batch(ds)
    model.train()
    out = model(*_inputs(model, batch))
    assert out.shape == (16, 5)
    assert torch.isfinite(out).all()
    out.logsumexp(1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not missing, f"{name}: no (finite) gradient for {missing}"


@pytest.mark.parametrize("name", MODELS)
def test_save_load_parity(name, rep_data, tmp_path):
    model, ds = _build(name, rep_data)
    model.eval()
    batch = _batch(ds)
    ref = model(*_inputs(model, batch))
    clone = load_model(save_model(model, tmp_path / "m"))  # safetensors + JSON config
    torch.testing.assert_close(clone(*_inputs(clone, batch)), ref, rtol=1e-5, atol=1e-5)
    assert count_params(clone) == count_params(model)


SET_MODELS = [n for n in MODELS if getattr(model_spec(n).cls, "permutation_invariant", False)]


@pytest.mark.parametrize("name", SET_MODELS)
def test_permutation_invariance(name, rep_data):
    model, ds = _build(name, rep_data)
    model.eval()
    batch = _batch(ds, 8)
    mask = batch["mask"]
    n = mask.shape[1]
    # permute all slots at random (real and padded together), per jet
    gen = torch.Generator().manual_seed(0)
    perm = torch.stack([torch.randperm(n, generator=gen) for _ in range(len(mask))])  # (B, N)
    permuted = {}
    for k, v in batch.items():
        if v.ndim >= 2 and v.shape[1] == n and k in model.input_names:
            idx = perm.reshape(*perm.shape, *([1] * (v.ndim - 2))).expand_as(v)
            permuted[k] = torch.gather(v, 1, idx)
        else:
            permuted[k] = v
    torch.testing.assert_close(model(*_inputs(model, permuted)), model(*_inputs(model, batch)), rtol=1e-4, atol=1e-4)


LEARNING_STEPS = 300


@pytest.mark.parametrize("name", MODELS)
def test_fixed_steps_learn_top_vs_qcd(name, rep_data):
    """300 optimiser steps (a step count, not a time) on ~210 real jets reach AUC >= 0.75 on ~90 others."""
    model, ds = _build(name, rep_data, seed=1)
    tr, va, te = split_indices(len(ds), 0.0, 0.3, seed=0)
    cfg = TrainerConfig(epochs=10_000, max_steps=LEARNING_STEPS, batch_size=32, lr=1e-3, patience=0,
                        progress=False, seed=1, schedule="none")
    trainer = Trainer(model, cfg)
    trainer.fit(ds.subset(tr))
    test = ds.subset(te)
    score = softmax(trainer.predict(test))[:, 1]
    a = auc(score, test.labels == 1)
    assert a >= 0.75, f"{name}: AUC {a:.3f} after {LEARNING_STEPS} steps"


def test_registry_errors():
    with pytest.raises(KeyError, match="valid models: .*pfn"):
        model_spec("nope")
    with pytest.raises(KeyError, match="no preset 'huge'"):
        build_config("pfn", "huge", n_features=7)
    with pytest.raises(TypeError, match="no field"):
        build_config("pfn", "lite", n_features=7, wings=3)
    with pytest.raises(ValueError, match="incompatible colliderlab version"):
        model_from_config("pfn", {"n_features": 7, "obsolete_field": 1})
    for name in MODELS:
        spec = model_spec(name)
        assert {"paper", "lite"} <= set(spec.presets), name
        assert spec.reference.startswith(("arXiv", "Henrion")), (name, spec.reference)
