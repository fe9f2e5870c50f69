"""Run directories that cannot run code.

A checkpoint carrying a pickled object whose ``__reduce__`` creates a marker file is built inside
each test, in the old ``checkpoint_best.pt``, in place of the new files and as the resume state:
its payload never runs and the commands exit with a clear message. Every registered model (float
and quantisation-aware) round-trips through the new format with identical outputs; a legacy run
written by the old code path is refused by predict, evaluate, export and resume, and
``convert-run`` makes it loadable with identical scores. Baselines save JSON/UBJ only.
"""

from __future__ import annotations

import dataclasses
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab.cli import main  # noqa: E402
from colliderlab.data.dataset import ArrayDataset  # noqa: E402
from colliderlab.models.registry import build_config, list_models, model_spec  # noqa: E402
from colliderlab.train.checkpoint import (  # noqa: E402
    LEGACY_FORMAT,
    PREVIOUS,
    RESUME_STATE,
    CheckpointError,
    LegacyCheckpointError,
    load_checkpoint,
    load_model,
    load_resume_state,
    load_training_state,
    save_checkpoint,
    save_model,
    save_training_state,
)
from colliderlab.train.experiment import experiment_from_dict, load_run, run_experiment  # noqa: E402

OBSERVABLES = {"kind": "observables", "names": ["mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd"]}
NEW_FILES = ("checkpoint_best.safetensors", "checkpoint_best.json", "checkpoint_last.safetensors",
             "checkpoint_last.json", RESUME_STATE)


class Payload:
    """Unpickling this creates ``marker``: what a malicious checkpoint would do (a shell command)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _experiment(toptag_file, cache):
    return experiment_from_dict({
        "name": "safety", "data": {"path": str(toptag_file), "cache_dir": str(cache)},
        "representation": OBSERVABLES, "model": {"name": "dnn", "preset": "lite"},
        "trainer": {"epochs": 2, "batch_size": 32, "lr": 2e-3, "progress": False, "patience": 0},
    })


@pytest.fixture(scope="module")
def trained(toptag_file, tmp_path_factory):
    """A small DNN run directory (new format) and its experiment."""
    base = tmp_path_factory.mktemp("safety")
    cfg = _experiment(toptag_file, base / "cache")
    run_experiment(cfg, base / "run", progress=False, plots=False)
    return base / "run", cfg


@pytest.fixture
def run(trained, tmp_path):
    """A fresh copy of the trained run directory."""
    return Path(shutil.copytree(trained[0], tmp_path / "run"))


def test_the_payload_is_live(tmp_path):
    """The test's payload does run when unpickled the old way (so its absence below means something)."""
    marker = tmp_path / "pwned"
    torch.save({"model_state": Payload(marker)}, tmp_path / "x.pt")
    torch.load(tmp_path / "x.pt", weights_only=False)
    assert marker.exists()


def test_malicious_legacy_checkpoint_never_runs(run, toptag_file, tmp_path, capsys):
    marker = tmp_path / "pwned"
    for f in NEW_FILES:
        (run / f).unlink()
    torch.save({"format": LEGACY_FORMAT, "model_state": Payload(marker)}, run / "checkpoint_best.pt")
    out = tmp_path / "scores.h5"
    rc = main(["predict", str(run), "--data", toptag_file, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc != 0 and not marker.exists() and not out.exists()
    assert "checkpoint_best.pt" in err and f"colliderlab convert-run {run}" in err, err
    assert "old pickled format" in err


@pytest.mark.parametrize("suffix", ["safetensors", "json"])
def test_pickle_in_place_of_the_new_files_never_runs(run, toptag_file, tmp_path, capsys, suffix):
    marker = tmp_path / "pwned"
    torch.save({"model_state": Payload(marker)}, run / f"checkpoint_best.{suffix}")
    rc = main(["predict", str(run), "--data", toptag_file, "--out", str(tmp_path / "scores.h5")])
    err = capsys.readouterr().err
    assert rc != 0 and not marker.exists()
    assert f"checkpoint_best.{suffix}" in err and ("not a readable safetensors" in err or "JSON" in err), err


def test_malicious_resume_state_is_refused(run, trained, tmp_path):
    marker = tmp_path / "pwned"
    good = torch.load(run / RESUME_STATE, weights_only=True)
    torch.save({**good, "optimizer_states": [Payload(marker)]}, run / RESUME_STATE)
    with pytest.raises(CheckpointError, match="resume_state.pt is not a resume state colliderlab reads"):
        run_experiment(trained[1], run, progress=False, plots=False)
    assert not marker.exists()


def test_torn_checkpoint_is_reported(run):
    """Weights and metadata of two different saves (a kill between two writes) do not mix; with no
    previous save kept to fall back on, loading says so."""
    assert not (run / PREVIOUS).exists()  # a finished run keeps no previous saves
    state, meta = load_checkpoint(run / "checkpoint_best")
    save_checkpoint(run / "other", state, meta)
    shutil.copy(run / "other.safetensors", run / "checkpoint_best.safetensors")
    with pytest.raises(CheckpointError, match="different saves"):
        load_run(run)
    with pytest.raises(CheckpointError, match="another save"):
        load_resume_state(run / RESUME_STATE, meta["checkpoint_id"])


class Killed(BaseException):
    """Stands for SIGKILL: raised by the n-th file rename of a save, nothing after it runs."""


def test_a_kill_at_any_point_of_a_save_leaves_a_consistent_one(run, monkeypatch):
    """Interrupt the trainer's save after each of its renames in turn: the run directory always
    yields weights, metadata and resume state of one save, the old one or the new one."""
    import os

    weights, meta, resume = load_training_state(run)
    old_epoch = meta["epoch"]
    new_weights = {k: v + 1.0 if v.is_floating_point() else v for k, v in weights.items()}
    new_meta = {**meta, "epoch": old_epoch + 1}
    real_replace, count = os.replace, {"n": 0, "limit": None}

    def replace(src, dst):
        if count["limit"] is not None and count["n"] >= count["limit"]:
            raise Killed
        count["n"] += 1
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    total = None
    outcomes = set()
    for limit in range(0, 20):
        target = Path(shutil.copytree(run, run.parent / f"kill{limit}"))
        count.update(n=0, limit=limit)
        try:
            save_training_state(target, new_weights, new_meta, resume, best=True)
            total = count["n"]
        except Killed:
            pass
        count.update(limit=None)
        w, m, rs = load_training_state(target)
        assert m["epoch"] in (old_epoch, old_epoch + 1)
        new = m["epoch"] == old_epoch + 1
        ref = new_weights if new else weights
        assert all(torch.equal(w[k], ref[k]) for k in ref), f"weights of another save (kill after {limit})"
        assert rs["checkpoint_id"] == m["checkpoint_id"]
        best_w, best_m = load_checkpoint(target / "checkpoint_best")
        assert best_m["checkpoint_id"] is not None and len(best_w) == len(weights)
        outcomes.add(new)
        if total is not None:
            break
    assert total is not None and total > 5 and outcomes == {False, True}


# ---------------------------------------------------------------------------- every model

SMALL_INPUTS = 8
# prepare_qat refuses the flows' masked (autoregressive) Linear layers (tests/export/test_quantize.py).
# QAT is for the trigger taggers; those two are float-only.
QAT_UNSUPPORTED = ("calo_flow", "calo_fm")
CALOGAN = ((3, 96), (12, 12), (12, 6))


def _model_and_batch(name: str, rep_data, quantized: bool):
    """A lite model of ``name`` with batch-norm statistics moved off their defaults, and a batch."""
    from colliderlab.export.quantize import QuantConfig, prepare_qat

    spec = model_spec(name)
    kind = spec.representations[0]
    gen = np.random.default_rng(0)
    if kind == "calo":
        cube = name == "calo_cnn3d"
        shapes = ((8, 8),) * 8 if cube else CALOGAN
        n = sum(a * b for a, b in shapes)
        arrays = {"x": gen.random((SMALL_INPUTS, n), dtype=np.float32) / n,
                  "cond": gen.normal(size=(SMALL_INPUTS, 2)).astype(np.float32)}
        ds = ArrayDataset(arrays, np.zeros(SMALL_INPUTS, np.int64), ("gamma",))
        dims = {"n_features": n, "n_context": 2, "layer_shapes": shapes}
    elif kind == "events":
        ds = ArrayDataset({"x": gen.normal(size=(SMALL_INPUTS, 10)).astype(np.float32)},
                          np.zeros(SMALL_INPUTS, np.int64), ("sm",))
        dims = {"n_features": 10}
    else:
        ds = rep_data(kind)
        dims = ds.meta["dims"]
    fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    extra = {"n_classes": 2} if "n_classes" in fields and not getattr(spec.cls, "generative", False) else {}
    torch.manual_seed(0)
    model = spec.cls(build_config(name, "lite", **{k: v for k, v in dims.items() if k in fields}, **extra))
    if quantized:
        prepare_qat(model, QuantConfig())
    batch = next(ds.subset(slice(0, SMALL_INPUTS)).batches(SMALL_INPUTS))
    inputs = [batch[k] for k in model.input_names]
    with torch.no_grad():  # one training-mode pass updates running statistics (buffers)
        model.train()
        torch.manual_seed(1)
        model(*inputs)
    return model.eval(), inputs


def _outputs(model, inputs):
    torch.manual_seed(2)  # models that sample in forward (VAEs) draw the same noise
    with torch.no_grad():
        return model(*inputs)


@pytest.mark.parametrize("quantized", [False, True], ids=["float", "qat"])
def test_every_registered_model_round_trips(rep_data, tmp_path, quantized):
    from colliderlab.export.quantize import QuantConfig, prepare_qat
    from colliderlab.models.registry import model_from_config

    for name in list_models():
        if quantized and name in QAT_UNSUPPORTED:
            continue
        model, inputs = _model_and_batch(name, rep_data, quantized)
        ref = _outputs(model, inputs)
        save_model(model, tmp_path / f"{name}.pt", {"quantization": QuantConfig().to_dict() if quantized else None})
        state, meta = load_checkpoint(tmp_path / name)
        clone = model_from_config(meta["model_name"], meta["model_config"])
        if meta["quantization"]:
            prepare_qat(clone, QuantConfig.from_dict(meta["quantization"]))
        clone.load_state_dict(state)
        torch.testing.assert_close(_outputs(clone.eval(), inputs), ref, rtol=0, atol=0, msg=name)
        assert not list(tmp_path.glob("*.pt")), "nothing is written as a pickle"


def test_tied_weights_round_trip(tmp_path):
    """safetensors refuses storage shared between entries: tied weights are saved apart and tied
    again by load_state_dict."""
    from colliderlab.models.registry import create_model

    model = create_model("dnn", "lite", n_features=4, n_classes=4, hidden=(4, 4), batch_norm=False)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    linears[-1].weight = linears[-2].weight  # (4, 4) both
    x = torch.randn(3, 4)
    path = save_model(model, tmp_path / "tied")
    clone = load_model(path)
    clone_linears = [m for m in clone.modules() if isinstance(m, torch.nn.Linear)]
    clone_linears[-1].weight = clone_linears[-2].weight
    clone.load_state_dict(load_checkpoint(path)[0])
    torch.testing.assert_close(clone(x), model.eval()(x), rtol=0, atol=0)


# ---------------------------------------------------------------------------- legacy runs


def _make_legacy(run: Path) -> None:
    """Rewrite ``run`` as the old code path wrote it: one pickled dict per checkpoint, with numpy
    and Python RNG states as their native tuples (``Trainer.state`` of format 1)."""
    resume = torch.load(run / RESUME_STATE, weights_only=True)
    for tag in ("best", "last"):
        state, meta = load_checkpoint(run / f"checkpoint_{tag}")
        meta.pop("checkpoint_id")
        legacy = {
            **meta, "format": LEGACY_FORMAT, "model_state": state,
            "optimizer_states": resume["optimizer_states"], "scheduler_states": resume["scheduler_states"],
            "scaler_state": resume["scaler_state"],
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
        }
        torch.save(legacy, run / f"checkpoint_{tag}.pt")
    for f in NEW_FILES:
        (run / f).unlink()


def test_legacy_run_is_refused_everywhere_then_converted(run, trained, toptag_file, tmp_path, capsys):
    before, labels = load_run(run).predict_proba(toptag_file)
    _make_legacy(run)
    commands = {
        "predict": ["predict", str(run), "--data", toptag_file, "--out", str(tmp_path / "s.h5")],
        "evaluate": ["evaluate", str(run), "--data", toptag_file, "--json"],
        "export": ["export", str(run), "--to", "onnx", "--out", str(tmp_path / "export")],
    }
    for what, argv in commands.items():
        assert main(argv) == 2, what
        err = capsys.readouterr().err
        assert re.search(r"checkpoint_best\.pt is a checkpoint in the old pickled format", err), (what, err)
        assert f"colliderlab convert-run {run}" in err, (what, err)
    with pytest.raises(LegacyCheckpointError, match=r"checkpoint_last\.pt .*colliderlab convert-run"):
        run_experiment(trained[1], run, progress=False, plots=False)  # resume

    assert main(["convert-run", str(run)]) == 0
    out = capsys.readouterr()
    assert "only runs you trust" in out.err and "checkpoint_best.json" in out.out
    assert not [p for p in run.glob("*.pt") if p.name != RESUME_STATE], "the pickles are removed"
    after, labels_after = load_run(run).predict_proba(toptag_file)
    np.testing.assert_array_equal(after, before)
    np.testing.assert_array_equal(labels_after, labels)
    res = run_experiment(trained[1], run, progress=False, plots=False)  # resumes: nothing left to train
    assert 0.5 < res["auc"] <= 1.0
    assert main(["convert-run", str(run)]) == 2 and "no old-format checkpoint" in capsys.readouterr().err


def test_legacy_scorer_file_is_refused_and_converted(tmp_path):
    from colliderlab.anomaly import event_ae_train as ea
    from colliderlab.models.registry import create_model

    model = create_model("anomaly_ae", "lite", n_features=6).eval()
    torch.save({"model": model.model_name, "config": dataclasses.asdict(model.config),
                "state": model.state_dict()}, tmp_path / "ae.pt")
    with pytest.raises(LegacyCheckpointError, match="ae.pt"):
        ea.load_scorer(tmp_path / "ae.pt")
    assert main(["convert-run", str(tmp_path)]) == 0
    x = torch.randn(5, 6)
    torch.testing.assert_close(ea.load_scorer(tmp_path / "ae.safetensors")(x), model(x), rtol=0, atol=0)


# ---------------------------------------------------------------------------- baselines, sources


@pytest.mark.parametrize("name", ["cut_based", "fisher", "logistic", "efp_linear", "bdt", "linear_regression",
                                  "bdt_regression"])
def test_baselines_save_json_or_ubj_only(name, tmp_path):
    from colliderlab.models.baselines import BASELINES, create_baseline

    assert name in BASELINES
    gen = np.random.default_rng(0)
    features = ("mass", "tau32", "x2") if name == "cut_based" else ("a", "b", "c")
    x = gen.normal(size=(200, 3))
    regression = name.endswith("regression")
    y = x[:, 0] + 0.1 * gen.normal(size=200) if regression else (x[:, 0] + 0.5 * gen.normal(size=200) > 0).astype(np.int64)
    if name == "cut_based":
        x[:, 0] = 100 + 40 * x[:, 0]
        x[:, 1] = 0.6 + 0.1 * x[:, 1]
    opts = {"n_estimators": 5} if "bdt" in name else {}
    model = create_baseline(name, feature_names=features, **opts).fit(x, y)
    model.save(tmp_path / "model")
    assert {p.suffix for p in tmp_path.iterdir()} <= {".json", ".ubj"}, sorted(tmp_path.iterdir())
    clone = BASELINES[name][1].load(tmp_path / "model")
    f = "predict" if regression else "predict_proba"
    np.testing.assert_array_equal(getattr(clone, f)(x), getattr(model, f)(x))


def _unpickling_sites(tree) -> list[int]:
    """Lines of ``tree`` that import a pickle library, call ``pickle.load(s)``, ``read_pickle``,
    ``read_hdf`` or ``HDFStore`` (PyTables unpickles attributes), or pass ``weights_only=False`` /
    ``allow_pickle=True``."""
    import ast

    banned_modules = {"pickle", "joblib", "dill", "cloudpickle", "tables"}
    banned_calls = {"load", "loads", "read_pickle", "read_hdf", "HDFStore"}
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(n.split(".")[0] in banned_modules for n in names):
                hits.append(node.lineno)
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            owner = getattr(f.value, "id", "") if isinstance(f, ast.Attribute) else ""
            if name in banned_calls and (name != "load" and name != "loads" or owner in banned_modules):
                hits.append(node.lineno)
            for kw in node.keywords:
                if (kw.arg, getattr(kw.value, "value", None)) in (("weights_only", False), ("allow_pickle", True)):
                    hits.append(node.lineno)
    return hits


def test_nothing_in_the_package_unpickles():
    """Only the explicit converter may unpickle; everything else loads tensors, JSON or UBJ."""
    import ast

    src = Path(__import__("colliderlab").__file__).parent
    hits = [(str(p.relative_to(src)), line) for p in sorted(src.rglob("*.py"))
            for line in _unpickling_sites(ast.parse(p.read_text()))]
    lines = (src / "train" / "checkpoint.py").read_text().splitlines()
    start = next(i for i, line in enumerate(lines, 1) if line.startswith("def convert_legacy"))
    assert len(hits) == 1 and hits[0][0] == "train/checkpoint.py" and hits[0][1] > start, hits
    assert _unpickling_sites(ast.parse("import pickle\nx = pd.read_hdf(p)\ntorch.load(f, weights_only=False)")) == [1, 2, 3]
