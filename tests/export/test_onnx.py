"""ONNX and torch.export programs of every model of the zoo: parity with PyTorch on real jets.

Registry-driven: each model (lite config, on the session's Pythia jets in its representation) is
exported with dynamic batch and particle axes and compared at several batch sizes and particle
counts; the target is a maximum absolute difference of the scores below 1e-4. A model that no
static graph can express (the recursive net) must say which operation is the problem.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from colliderlab.cli import main  # noqa: E402
from colliderlab.export import onnx as ox  # noqa: E402
from colliderlab.models.registry import build_config, list_models, model_spec  # noqa: E402

# jet taggers (calorimeter models have their own tests, on simulated showers)
MODELS = [n for n in list_models(generative=False) if "calo" not in model_spec(n).representations]
EXPORTABLE = [n for n in MODELS if not getattr(model_spec(n).cls, "export_unsupported", None)]
TOLERANCE = 1e-4


def _build(name, rep_data, steps: int = 25):
    """The lite model after a few Adam steps on the fixture's jets (an untrained net scores every
    jet almost alike, which would make a parity check toothless)."""
    spec = model_spec(name)
    ds = rep_data(spec.representations[0])
    torch.manual_seed(0)
    model = spec.cls(build_config(name, "lite", **ds.meta["dims"], n_classes=2))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for i, batch in enumerate(ds.batches(32, shuffle=True, seed=0, drop_last=True)):
        if i == steps:
            break
        loss = torch.nn.functional.cross_entropy(model(*[batch[k] for k in model.input_names]), batch["label"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), ds, spec.representations[0]


@pytest.mark.parametrize("name", EXPORTABLE)
def test_onnx_parity_on_real_jets(name, rep_data, tmp_path):
    model, ds, kind = _build(name, rep_data)
    spec = ox.export_spec(model, kind, ds.arrays)
    path = ox.export_onnx(model, ox.example_inputs(ds.arrays, spec, 16), tmp_path / f"{name}.onnx", spec)
    session = ox.onnx_session(path, threads=1)
    # batch 1 and odd sizes; for clouds also fewer and more particle slots than at export
    report = ox.parity(model, session, ds.arrays, spec, batch_sizes=(1, 7, 64), particle_counts=(None, 20, 40))
    assert report["max_abs_diff_scores"] < TOLERANCE, report
    if kind in ("particles", "sequence"):
        assert {c["particles"] for c in report["cases"]} >= {20, 40}
    # and small against how much the scores differ from jet to jet (an almost constant model
    # would make the absolute tolerance toothless)
    out = ox.run_onnx(session, ox.example_inputs(ds.arrays, spec, 64))
    spread = np.ptp(out[:, 1] - out[:, 0])
    assert spread > 0 and report["max_abs_diff_logits"] < 0.01 * spread, (spread, report)


@pytest.mark.parametrize("name", ["dnn", "pfn", "particlenet", "part", "lstm"])
def test_torch_export_program_parity(name, rep_data, tmp_path):
    model, ds, kind = _build(name, rep_data)
    spec = ox.export_spec(model, kind, ds.arrays)
    path = ox.export_program(model, ox.example_inputs(ds.arrays, spec, 16), tmp_path / f"{name}.pt2", spec)
    report = ox.parity(model, ox.load_program(path), ds.arrays, ox.program_spec(model, spec),
                       batch_sizes=(1, 9), particle_counts=(None, 24))
    assert report["max_abs_diff_scores"] < TOLERANCE, report


def test_unsupported_model_names_the_operation():
    model = model_spec("recnn").cls(build_config("recnn", "lite", n_features=7, n_classes=2))
    with pytest.raises(ox.ExportError, match="recnn|RecNN.*data-dependent number of steps"):
        ox.export_spec(model, "tree")


def test_knn_inputs_move_padding_far_away(rep_data):
    model, ds, kind = _build("particlenet", rep_data)
    spec = ox.export_spec(model, kind, ds.arrays)
    assert spec.min_particles == model.config.k + 1
    x, coords, mask = ox.example_inputs(ds.arrays, spec, 8, n_particles=48)
    assert coords.shape == (8, 48, 2) and not mask[:, -1].any()
    assert (coords[~mask].abs() >= ox.FAR_AWAY).all() and (coords[mask].abs() < 10).all()


def test_cli_export_run_directory(toptag_file, tmp_path, capsys):
    exp = tmp_path / "exp.yaml"
    exp.write_text(json.dumps({
        "name": "pfn", "data": {"path": toptag_file, "cache_dir": str(tmp_path / "cache")},
        "representation": {"kind": "particles", "n_particles": 32}, "model": {"name": "pfn", "preset": "lite"},
        "trainer": {"epochs": 1, "batch_size": 64, "progress": False},
    }))
    run = tmp_path / "run"
    assert main(["train", str(exp), "--run-dir", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["export", str(run), "--to", "onnx", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["parity"]["max_abs_diff_scores"] < TOLERANCE and res["input_names"] == ["x", "mask"]
    assert res["dynamic_axes"]["x"] == {"0": "batch", "1": "particles"}
    saved = json.loads((run / "export" / "onnx.json").read_text())
    assert saved["standardizer"] and saved["class_names"] == ["qcd", "top"]
    # the exported file alone scores jets like the run does
    probs, _ = __import__("colliderlab.train.runs", fromlist=["load_run"]).load_run(run).predict_proba(toptag_file)
    assert (run / "export" / "model.onnx").stat().st_size > 1000 and probs.shape[1] == 2
    assert main(["export", str(run), "--to", "tflite"]) == 2
    assert "valid: onnx, torch-export, hls4ml, conifer" in capsys.readouterr().err
