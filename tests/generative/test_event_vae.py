"""Z -> l+ l- events from Pythia and the event-level VAE with a latent density buffer."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pythia8mc")

from colliderlab.data.dataset import ArrayDataset  # noqa: E402
from colliderlab.generative.event_vae import (  # noqa: E402
    EventVAE,
    EventVAEConfig,
    event_features,
    features_to_events,
)
from colliderlab.generative.fidelity import wasserstein1  # noqa: E402
from colliderlab.physics.events import dilepton_observables, generate_dileptons  # noqa: E402
from colliderlab.train.trainer import Trainer, TrainerConfig  # noqa: E402


@pytest.fixture(scope="module")
def dileptons():
    return generate_dileptons(6000, seed=1), generate_dileptons(4000, seed=2)


def test_pythia_dileptons_peak_at_the_z_mass(dileptons):
    train, _ = dileptons
    assert train.shape == (6000, 2, 4)
    obs = dilepton_observables(train)
    h, edges = np.histogram(obs["m_ll"], bins=np.arange(70.0, 110.0, 1.0))
    assert 89.0 <= edges[h.argmax()] <= 92.0  # m_Z = 91.19 GeV
    assert (obs["pt_l1"] >= obs["pt_l2"]).all()
    # the features round-trip to the same (massless) leptons
    back = features_to_events(event_features(train))
    np.testing.assert_allclose(dilepton_observables(back)["m_ll"], obs["m_ll"], rtol=2e-3, atol=0.05)


def test_density_buffer_beats_the_prior(dileptons):
    train, ref = dileptons
    f = event_features(train)
    ds = ArrayDataset({"x": f}, np.zeros(len(f), np.int64), ("z",))
    torch.manual_seed(0)
    model = EventVAE(EventVAEConfig())
    model.set_standardisation(torch.from_numpy(f))
    res = Trainer(model, TrainerConfig(epochs=15, batch_size=256, lr=2e-3, progress=False, patience=0), None).fit(
        ds, ds.subset(slice(0, 1000)))
    assert all(np.isfinite(r["val_loss"]) for r in res.history)
    with pytest.raises(RuntimeError, match="buffer is empty"):
        model.generate(10)
    model.fill_buffer(torch.from_numpy(f))
    m_ref = dilepton_observables(ref)["m_ll"]
    gen = model.generate(4000, generator=torch.Generator().manual_seed(0))
    prior = model.generate(4000, from_buffer=False, generator=torch.Generator().manual_seed(0))
    assert gen.shape == (4000, 2, 4) and np.isfinite(gen).all()
    w_buf = wasserstein1(m_ref, dilepton_observables(gen)["m_ll"])
    w_prior = wasserstein1(m_ref, dilepton_observables(prior)["m_ll"])
    assert w_buf < w_prior, (w_buf, w_prior)  # arXiv:1901.00875's point
    assert abs(np.median(dilepton_observables(gen)["m_ll"]) - 91.2) < 8.0
    # the buffer travels with the state dict
    clone = EventVAE(EventVAEConfig())
    clone.load_state_dict(model.state_dict())
    assert len(clone.buffer_mu) == len(f) and clone.generate(5).shape == (5, 2, 4)
