"""The shared trainer: learning, resume after a kill, early stopping, schedules, custom steps."""

from __future__ import annotations

import csv

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab.data.dataset import ArrayDataset, Standardizer, check_labels, split_indices  # noqa: E402
from colliderlab.features.observables import compute_observables  # noqa: E402
from colliderlab.metrics import auc  # noqa: E402
from colliderlab.train.checkpoint import CHECKPOINT_FORMAT, load_checkpoint  # noqa: E402
from colliderlab.train.trainer import Trainer, TrainerConfig, softmax  # noqa: E402

NAMES = ("mass", "mass_sd", "tau21", "tau32", "n_constituents", "c2_b1", "d2_b1")


class TinyMLP(torch.nn.Module):
    input_names = ("x",)

    def __init__(self, n_features: int, n_classes: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_features, 32), torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(32, n_classes)
        )

    def forward(self, x):
        return self.net(x)  # (B, C)


@pytest.fixture(scope="module")
def obs_splits(toptag_jets):
    feats = compute_observables(toptag_jets, names=NAMES)
    x = np.stack([feats[n] for n in NAMES], axis=1).astype(np.float32)
    ds = ArrayDataset({"x": x}, toptag_jets.label.astype(np.int64), toptag_jets.label_names)
    tr, va, te = split_indices(len(ds), 0.2, 0.2, seed=0)
    std = Standardizer.fit({"x": x[tr]}, ("x",))
    ds = ArrayDataset(std.apply(ds.arrays), ds.labels, ds.class_names)
    return ds.subset(tr), ds.subset(va), ds.subset(te)


def _cfg(**kw):
    base = dict(epochs=4, batch_size=32, lr=3e-3, progress=False, patience=0, seed=1)
    return TrainerConfig(**{**base, **kw})


def test_fixed_steps_beat_random(obs_splits):
    train, val, test = obs_splits
    torch.manual_seed(0)
    trainer = Trainer(TinyMLP(len(NAMES)), _cfg(epochs=100, max_steps=150))
    res = trainer.fit(train, val)
    assert res.steps == 150
    a = auc(softmax(trainer.predict(test))[:, 1], test.labels == 1)
    assert a > 0.85, a


class _KilledAt:
    """Wraps a dataset; raises KeyboardInterrupt when the given epoch starts (a kill)."""

    def __init__(self, ds, epoch: int) -> None:
        self.ds, self.epoch = ds, epoch
        self.labels, self.class_names, self.weights = ds.labels, ds.class_names, ds.weights

    def __len__(self) -> int:
        return len(self.ds)

    def batches(self, *args, seed=0, **kw):
        if seed % 1000 == self.epoch:
            raise KeyboardInterrupt
        return self.ds.batches(*args, seed=seed, **kw)


@pytest.mark.parametrize("schedule", ["cosine", "plateau"])
def test_resume_after_kill_matches_uninterrupted(obs_splits, tmp_path, schedule):
    train, val, _ = obs_splits
    cfg = _cfg(schedule=schedule)
    torch.manual_seed(0)
    straight = Trainer(TinyMLP(len(NAMES)), cfg, tmp_path / "a")
    straight.fit(train, val)
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        Trainer(TinyMLP(len(NAMES)), cfg, tmp_path / "b").fit(_KilledAt(train, 2), val)
    assert load_checkpoint(tmp_path / "b" / "checkpoint_last")[1]["epoch"] == 1
    torch.manual_seed(123)  # a different init: everything must come from the checkpoint
    resumed = Trainer(TinyMLP(len(NAMES)), cfg, tmp_path / "b")
    out = resumed.fit(train, val)
    assert out.epochs_run == 4 and [r["epoch"] for r in out.history] == [1, 2, 3, 4]
    for p, q in zip(straight.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    rows = list(csv.DictReader(open(tmp_path / "b" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert not list((tmp_path / "b").glob("*.tmp*")), "temporary files left behind"


def test_early_stopping_and_best_checkpoint(obs_splits, tmp_path):
    train, val, _ = obs_splits
    trainer = Trainer(TinyMLP(len(NAMES)), _cfg(epochs=20, lr=0.0, patience=2, schedule="none"), tmp_path)
    res = trainer.fit(train, val)
    assert res.stopped_early and res.epochs_run == 3 and res.best_epoch == 1
    _, best = load_checkpoint(tmp_path / "checkpoint_best")
    assert best["epoch"] == 0 and best["format"] == CHECKPOINT_FORMAT
    _, last = load_checkpoint(tmp_path / "checkpoint_last")  # best (scoring) and last (resume) both kept
    assert last["epoch"] == 2


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "plateau"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_schedules_and_optimizers(obs_splits, schedule, optimizer):
    train, val, _ = obs_splits
    trainer = Trainer(TinyMLP(len(NAMES)), _cfg(epochs=3, schedule=schedule, optimizer=optimizer, grad_clip=1.0))
    res = trainer.fit(train, val)
    lrs = [r["lr"] for r in res.history]
    assert all(np.isfinite(r["train_loss"]) for r in res.history)
    if schedule == "cosine":
        assert lrs[-1] < 0.05 * 3e-3  # annealed to ~0 at the last step
    if schedule == "onecycle":
        assert lrs[-1] < lrs[0]


def test_class_weights_and_bad_config(obs_splits):
    train, val, _ = obs_splits
    t = Trainer(TinyMLP(len(NAMES)), _cfg(epochs=1, class_weights="balanced"))
    t.fit(train, val)
    counts = np.bincount(train.labels)
    w = t.class_weight_tensor.numpy()
    np.testing.assert_allclose(w * counts, len(train.labels) / 2, rtol=1e-5)
    with pytest.raises(ValueError, match="choose one of adam, adamw, sgd"):
        TrainerConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="class_weights"):
        Trainer(TinyMLP(len(NAMES)), _cfg(class_weights=(1.0, 2.0, 3.0))).fit(train, val)


def test_single_class_dataset_is_refused(obs_splits):
    train, _, _ = obs_splits
    only_qcd = train.subset(np.flatnonzero(train.labels == 0))
    with pytest.raises(ValueError, match="single class \\(qcd\\)"):
        check_labels(only_qcd.labels, only_qcd.class_names)
    with pytest.raises(ValueError, match="single class"):
        Trainer(TinyMLP(len(NAMES)), _cfg(epochs=1)).fit(only_qcd)


def test_nan_loss_is_reported(obs_splits):
    train, val, _ = obs_splits
    bad = ArrayDataset({"x": np.full_like(train.arrays["x"], np.nan)}, train.labels, train.class_names)
    with pytest.raises(FloatingPointError, match="not finite|nan"):
        Trainer(TinyMLP(len(NAMES)), _cfg(epochs=1)).fit(bad, val)


class GaussianFit(torch.nn.Module):
    """A model that brings its own steps: the mean and the log-width of a Gaussian fitted by
    likelihood with two optimisers (as a GAN or flow would)."""

    input_names = ("x",)

    def __init__(self) -> None:
        super().__init__()
        self.mu = torch.nn.Parameter(torch.zeros(1))
        self.log_sigma = torch.nn.Parameter(torch.zeros(1))

    def configure_optimizers(self, config):
        return [torch.optim.Adam([self.mu], lr=0.05), torch.optim.Adam([self.log_sigma], lr=0.05)]

    def nll(self, x):
        z = (x[:, 0] - self.mu) / self.log_sigma.exp()
        return (0.5 * z**2 + self.log_sigma).mean()

    def training_step(self, batch, ctx):
        loss_mu = self.nll(batch["x"])
        ctx.step(loss_mu, ctx.optimizers[0])
        loss_sigma = self.nll(batch["x"])
        ctx.step(loss_sigma, ctx.optimizers[1])
        return {"loss": float(loss_sigma.detach()), "mu": float(self.mu.detach())}

    def validation_step(self, batch):
        return {"loss": float(self.nll(batch["x"]))}


def test_model_supplied_training_step(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 0.5, size=(2000, 1)).astype(np.float32)
    ds = ArrayDataset({"x": x}, np.zeros(2000, np.int64), ("sample",))
    model = GaussianFit()
    res = Trainer(model, _cfg(epochs=8, batch_size=100, schedule="none"), tmp_path).fit(ds, ds.subset(slice(0, 500)))
    assert abs(float(model.mu.detach()) - 3.0) < 0.15
    assert abs(float(model.log_sigma.detach().exp()) - 0.5) < 0.15
    assert res.history[-1]["val_loss"] < res.history[0]["val_loss"]
    assert "train_mu" in res.history[0]
    ck = torch.load(tmp_path / "resume_state.pt", weights_only=True)
    assert len(ck["optimizer_states"]) == 2


def test_multiclass_w_z_h_qcd_one_vs_rest(boson_jets):
    """4-class training on real W, Z, H(->bb) and QCD jets; per-class one-vs-rest metrics."""
    from colliderlab.models.registry import create_model
    from colliderlab.train.runs import score_metrics

    names = ("mass", "mass_sd", "tau21", "tau32", "n_constituents", "n_charged", "girth")
    feats = compute_observables(boson_jets, names=names)
    x = np.stack([feats[n] for n in names], axis=1).astype(np.float32)
    y = boson_jets.label.astype(np.int64)
    tr, _, te = split_indices(len(y), 0.0, 0.3, seed=0)
    std = Standardizer.fit({"x": x[tr]}, ("x",))
    ds = ArrayDataset(std.apply({"x": x}), y, boson_jets.label_names)
    torch.manual_seed(0)
    model = create_model("dnn", "lite", n_features=len(names), n_classes=len(boson_jets.label_names))
    trainer = Trainer(model, _cfg(epochs=10_000, max_steps=300, schedule="none"))
    trainer.fit(ds.subset(tr))
    res = score_metrics(softmax(trainer.predict(ds.subset(te))), y[te], boson_jets.label_names)
    assert set(res["per_class"]) == set(boson_jets.label_names)
    assert res["accuracy"] > 1.5 / len(boson_jets.label_names)  # well above chance (0.25)
    # QCD against the three resonances is the easy split (mass); H(->bb) has more charged tracks
    assert res["per_class"]["qcd"]["auc"] > 0.85
    assert all(v["auc"] > 0.6 for v in res["per_class"].values()), res["per_class"]


def _with_mass(ds):
    """``ds`` plus an auxiliary array (the first observable, the jet mass) the model does not read."""
    return ArrayDataset({**ds.arrays, "mass": ds.arrays["x"][:, 0].copy()}, ds.labels, ds.class_names)


def _fit_steps(train, loss_terms=None, callbacks=(), **kw):
    torch.manual_seed(0)
    trainer = Trainer(TinyMLP(len(NAMES)), _cfg(**{"epochs": 100, "max_steps": 40, "schedule": "none", **kw}),
                      loss_terms=loss_terms, callbacks=callbacks)
    return trainer, trainer.fit(train)


def test_extra_loss_term_sees_auxiliary_fields_and_changes_training(obs_splits):
    train = _with_mass(obs_splits[0])
    seen = []

    def penalty(out, batch):  # a decorrelation-like term: the signal logit's correlation with the mass
        seen.append(sorted(batch))
        return 0.5 * (out[:, 1] * batch["mass"]).mean() ** 2

    plain, res_plain = _fit_steps(train)
    zero, _ = _fit_steps(train, {"nothing": lambda out, batch: 0.0 * out.sum()})
    hooked, res = _fit_steps(train, {"mass_corr": penalty})
    assert res.steps == res_plain.steps == 40
    assert seen[0] == ["label", "mass", "weight", "x"]
    assert "train_mass_corr" in res.history[0] and res.history[0]["train_mass_corr"] >= 0
    for p, q in zip(plain.model.parameters(), zero.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)  # a zero term leaves training alone
    assert any(not torch.equal(p, q) for p, q in zip(plain.model.parameters(), hooked.model.parameters(), strict=True))
    with pytest.raises(ValueError, match="own training_step"):
        Trainer(GaussianFit(), _cfg(), loss_terms={"x": penalty})


def test_callbacks_see_steps_and_can_stop_training(obs_splits, tmp_path):
    from colliderlab.train.trainer import Callback

    train, val, _ = obs_splits

    class StopAtEpoch2(Callback):
        def __init__(self):
            self.steps, self.epochs = [], []

        def on_step_end(self, trainer, step, logs):
            self.steps.append((step, logs["loss"]))

        def on_epoch_end(self, trainer, epoch, row):
            self.epochs.append(epoch)
            row["custom_metric"] = float(epoch)  # callbacks may add metrics to the epoch's row
            trainer.should_stop = epoch == 2

    cb = StopAtEpoch2()
    trainer = Trainer(TinyMLP(len(NAMES)), _cfg(epochs=10), tmp_path, callbacks=[cb])
    res = trainer.fit(train, val)
    assert res.stopped_early and res.epochs_run == 2 and cb.epochs == [1, 2]
    assert [s for s, _ in cb.steps] == list(range(1, res.steps + 1))
    assert [r["custom_metric"] for r in res.history] == [1.0, 2.0]
    assert load_checkpoint(tmp_path / "checkpoint_last")[1]["epoch"] == 1  # the stopping epoch is saved

    class StopAfter5Steps(Callback):
        def on_step_end(self, trainer, step, logs):
            trainer.should_stop = step >= 5

    res = Trainer(TinyMLP(len(NAMES)), _cfg(epochs=10), callbacks=[StopAfter5Steps()]).fit(train, val)
    assert res.steps == 5 and res.epochs_run == 1 and res.stopped_early


def test_disco_term_decorrelates_the_score_from_the_mass(obs_splits):
    """Trained through the shared trainer with the DisCo term, the background's score depends much less
    on the jet mass (distance correlation on held-out jets; 0.82 -> 0.17 here) while the tagger still
    separates top from QCD (AUC 0.96 -> 0.91)."""
    from colliderlab.nn.disco import distance_correlation
    from colliderlab.train.decorrelation import disco_term

    train, _, test = (_with_mass(s) for s in obs_splits)
    dcorr, aucs = {}, {}
    for lam in (0.0, 1.0):
        trainer, _ = _fit_steps(train, {"disco": disco_term(lam, "mass")}, max_steps=60)
        score = softmax(trainer.predict(test))[:, 1]
        bkg = test.labels == 0
        dcorr[lam] = distance_correlation(torch.as_tensor(score[bkg]), torch.as_tensor(test.arrays["mass"][bkg])).item()
        aucs[lam] = auc(score, test.labels)
    assert dcorr[1.0] < 0.5 * dcorr[0.0] and aucs[1.0] > 0.8, (dcorr, aucs)
    with pytest.raises(ValueError, match="does not carry; its arrays: x"):
        _fit_steps(obs_splits[0], {"disco": disco_term(1.0, "mjj")})


def _fit_adversarial(train, val, variable="mass", steps=150, **adv):
    from colliderlab.train.adversarial import AdversarialTagger, AdversaryConfig

    torch.manual_seed(0)
    model = AdversarialTagger(TinyMLP(len(NAMES)), variable, AdversaryConfig(**adv))
    trainer = Trainer(model, _cfg(epochs=1000, max_steps=steps, schedule="none", batch_size=64))
    return trainer, trainer.fit(train, val)


@pytest.mark.parametrize("mode", ["bins", "mixture"])
def test_adversarial_training_step_decorrelates_through_the_shared_trainer(obs_splits, mode):
    """The adversary (mass bin or mixture density) plays through the trainer's model-supplied
    training_step: two optimisers, the classifier validated as one, and with lambda > 0 the
    background score depends less on the mass than with lambda = 0 on held-out jets."""
    from colliderlab.nn.disco import distance_correlation

    train, val, test = (_with_mass(s) for s in obs_splits)
    dcorr = {}
    for lam in (0.0, 5.0):
        trainer, res = _fit_adversarial(train, val, mode=mode, lam=lam, warmup_steps=20)
        assert res.steps == 150 and {"val_auc", "val_adv_loss", "train_adv_loss"} <= set(res.history[-1])
        score = softmax(trainer.predict(test))[:, 1]
        bkg = test.labels == 0
        dcorr[lam] = distance_correlation(torch.as_tensor(score[bkg]), torch.as_tensor(test.arrays["mass"][bkg])).item()
        assert auc(score, test.labels) > 0.75
    assert dcorr[5.0] < 0.7 * dcorr[0.0], dcorr


def test_generator_adversary_sees_every_jet_and_checks_its_classes(obs_splits):
    train, val, _ = obs_splits
    rng = np.random.default_rng(0)
    dom = lambda ds, k=2: ArrayDataset({**ds.arrays, "domain": rng.integers(0, k, len(ds))}, ds.labels,  # noqa: E731
                                       ds.class_names)
    trainer, res = _fit_adversarial(dom(train), dom(val), "domain", steps=20, mode="classes", n_bins=2,
                                    background_only=False)
    # a random domain label: the adversary cannot beat log 2 by much
    assert abs(res.history[-1]["val_adv_loss"] - np.log(2)) < 0.05
    with pytest.raises(ValueError, match="classes outside 0..1"):
        _fit_adversarial(dom(train, 3), None, "domain", steps=5, mode="classes", n_bins=2, background_only=False)
    with pytest.raises(ValueError, match="does not carry; its arrays: x"):
        _fit_adversarial(train, None, "mass", steps=5)
