"""The input contract: files know the fields they carry, representations declare the fields they
read, runs record them, and predict / evaluate / export refuse a file that lacks one unless told
to fill zeros on purpose. Presets default to their public dataset's information content."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import h5py
import numpy as np
import pytest

from colliderlab.data.contract import check_fields, file_fields, information_content, parse_fields
from colliderlab.data.errors import DataFormatError, MissingFieldsError
from colliderlab.data.formats.quark_gluon import QG_FIELDS
from colliderlab.data.formats.toptag import TOPTAG_FIELDS
from colliderlab.data.h5 import read_h5, write_h5
from colliderlab.data.readers import read_jets
from colliderlab.features.highlevel import CHARGE_OBSERVABLES, DEFAULT_OBSERVABLES
from colliderlab.features.representations import (
    register_representation,
    representation_config,
    representation_kinds,
)
from colliderlab.jets import ALL_FIELDS, JetBatch
from colliderlab.physics.processes import PRESETS

LIGHT = ["mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd"]
FAST_TRAINER = {"epochs": 1, "batch_size": 32, "lr": 2e-3, "progress": False, "patience": 0, "max_steps": 3}

# Every jet representation with the option values that change what it reads (small sizes for speed).
VARIANTS = {
    "observables": [{"names": LIGHT}, {"names": [*LIGHT, "n_charged", "jet_charge"]}],
    "nsub": [{"n_body": 4}],
    "efp": [{"max_degree": 3}],
    "image": [{"size": 16}, {"size": 16, "channels": ("pt", "n_neutral")}],
    "particles": [{"n_particles": 24, "features": f} for f in ("kinematic", "pid", "full")],
    "sequence": [{"n_particles": 16, "features": f, "order": "pt"} for f in ("kinematic", "full")],
    "tree": [{"n_particles": 12}],
}


@pytest.fixture(scope="module")
def few(toptag_jets) -> JetBatch:
    return toptag_jets[np.r_[0:6, 150:156]]


def _toptag_frame(b: JetBatch):
    """A DataFrame in the public top-tagging layout (as tests/test_cli.py writes it)."""
    pd = pytest.importorskip("pandas")
    cols = {}
    for i in range(200):
        for j, name in enumerate(("E", "PX", "PY", "PZ")):
            cols[f"{name}_{i}"] = b.p4[:, i, j].astype(np.float32)
    df = pd.DataFrame(cols)
    for j, name in enumerate(("truthE", "truthPX", "truthPY", "truthPZ")):
        df[name] = b.truth_p4[:, j]
    df["is_signal_new"] = (np.asarray(b.label_names)[b.label] == "top").astype(int)
    return df


@pytest.fixture(scope="module")
def public_file(toptag_jets, tmp_path_factory):
    """60 fixture jets written by pandas in the public top-tagging layout (four-vectors only)."""
    path = tmp_path_factory.mktemp("public") / "public_toptag.h5"
    _toptag_frame(toptag_jets[np.r_[0:30, 150:180]]).to_hdf(path, key="table", format="table")
    return str(path)


@pytest.fixture(scope="module")
def preset_file(toptag_jets, tmp_path_factory):
    """The fixture sample as if generated with ``--preset toptag`` (its provenance names the preset)."""
    path = tmp_path_factory.mktemp("preset") / "toptag_preset.h5"
    write_h5(path, toptag_jets, provenance={"preset": PRESETS["toptag"].information()})
    return str(path)


# ------------------------------------------------------------------------------------ fields
def test_batches_carry_their_fields_through_slicing_truncation_and_concatenation(few):
    assert few.fields == ALL_FIELDS and "fields" not in few.arrays()
    bare = few.with_fields(TOPTAG_FIELDS)
    assert bare[:3].fields == TOPTAG_FIELDS and bare.truncate(10).fields == TOPTAG_FIELDS
    assert JetBatch.concatenate([bare, few.with_fields(QG_FIELDS)]).fields == TOPTAG_FIELDS & QG_FIELDS
    with pytest.raises(ValueError, match="unknown name.*bogus"):
        replace(few, fields=frozenset({"bogus"}))


def test_formats_declare_what_they_carry(public_file, toptag_jets, tmp_path):
    assert file_fields(public_file) == ("toptag", TOPTAG_FIELDS)
    assert read_jets(public_file).fields == TOPTAG_FIELDS == PRESETS["toptag"].fields
    assert PRESETS["quark-gluon"].fields == QG_FIELDS and {"d0", "dz"}.isdisjoint(QG_FIELDS)
    assert not {"charge", "pid", "d0", "dz"} & PRESETS["hls4ml"].fields
    # quark/gluon: four-vectors and the PDG id (charge and pid derive from it)
    b = toptag_jets[:8]
    pt = np.hypot(b.p4[..., 1], b.p4[..., 2])
    x = np.stack([pt, np.zeros_like(pt), np.zeros_like(pt), np.where(b.mask, 211.0, 0.0)], -1)
    np.savez(tmp_path / "qg.npz", X=x, y=np.arange(8) % 2)
    assert file_fields(tmp_path / "qg.npz") == ("quark-gluon", QG_FIELDS)
    # colliderlab files store what the written batches carried (all fields when not stated)
    write_h5(tmp_path / "narrow.h5", read_jets(public_file))
    assert read_h5(tmp_path / "narrow.h5").fields == TOPTAG_FIELDS
    assert file_fields(tmp_path / "narrow.h5") == ("colliderlab", TOPTAG_FIELDS)
    with h5py.File(tmp_path / "narrow.h5", "a") as f:
        f.attrs["fields"] = np.bytes_(b'["p4", "bogus"]')
    with pytest.raises(DataFormatError, match="attribute fields"):
        read_h5(tmp_path / "narrow.h5")


def test_check_fields_names_the_missing_fields_the_file_and_its_format(public_file):
    with pytest.raises(MissingFieldsError) as err:
        check_fields(public_file, {"p4", "mask", "charge", "pid"})
    e = err.value
    assert isinstance(e, DataFormatError) and e.missing == ("charge", "pid") and e.format == "toptag"
    assert public_file in str(e) and "charge, pid" in str(e) and "'toptag'" in str(e)
    assert "--allow-missing charge,pid" in str(e)
    report = check_fields(public_file, {"p4", "mask", "charge", "pid"}, "charge,pid")
    assert report.filled == ("charge", "pid") and report.to_dict()["data_format"] == "toptag"
    with pytest.raises(MissingFieldsError, match="pid"):
        check_fields(public_file, {"p4", "charge", "pid"}, ["charge"])
    with pytest.raises(ValueError, match="unknown field.*chrage.*valid"):
        parse_fields("chrage")


# ------------------------------------------------------------------------------------ declarations
@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_zeroing_an_undeclared_field_changes_nothing(kind, few):
    """A declaration cannot lie by omission: every field it leaves out may be zeroed freely."""
    for options in VARIANTS[kind]:
        rep = representation_config(kind, **options)
        declared = rep.input_fields()
        assert declared <= ALL_FIELDS and {"p4", "mask"} <= declared
        ref = rep.compute(few)
        for name in sorted(ALL_FIELDS - declared):
            zeroed = replace(few, **{name: np.zeros_like(getattr(few, name))})
            out = rep.compute(zeroed)
            for key in ref:
                np.testing.assert_array_equal(out[key], ref[key], err_msg=f"{kind} {options}: {name} -> {key}")


def test_every_representation_declares_its_fields():
    assert set(VARIANTS) | {"calo", "calo_features"} == set(representation_kinds())
    assert representation_config("calo").input_fields() == {"showers", "incident_energy", "angle"}
    assert representation_config("calo_features").input_fields() == {"showers"}

    @dataclass(frozen=True)
    class Silent:
        kind = "silent"

        def compute(self, jets):
            return {}

    with pytest.raises(TypeError, match="must declare the fields it reads"):
        register_representation(Silent)
    for kind in ("particles", "sequence", "observables"):
        with pytest.raises(ValueError, match="resolve"):
            representation_config(kind).input_fields()
    assert representation_config("particles", features="full").input_fields() >= {"charge", "pid", "d0", "dz"}
    assert representation_config("observables", names=["n_neutral"]).input_fields() == {"p4", "mask", "charge"}


# ------------------------------------------------------------------------------------ presets and auto
def test_auto_resolves_against_the_information_content(toptag_jets):
    particles, observables = representation_config("particles"), representation_config("observables")
    assert particles.resolve(toptag_jets).features == "full"  # custom processes: as before
    assert observables.resolve(toptag_jets).names == DEFAULT_OBSERVABLES
    top = toptag_jets.with_fields(PRESETS["toptag"].fields)
    assert particles.resolve(top).features == "kinematic"
    names = observables.resolve(top).names
    assert "n_charged" not in names and len(names) == len(DEFAULT_OBSERVABLES) - 1
    assert not CHARGE_OBSERVABLES & set(names)
    qg = particles.resolve(toptag_jets.with_fields(PRESETS["quark-gluon"].fields))
    assert qg.features == "pid" and len(qg.feature_names()) == 13
    assert not {"d0", "dz"} & qg.input_fields()
    x = qg.compute(toptag_jets[:5])["x"]
    full = representation_config("particles", features="full").compute(toptag_jets[:5])["x"]
    np.testing.assert_array_equal(x, full[..., :13])


def test_preset_files_record_the_preset_and_auto_follows_it(preset_file, toptag_file, tmp_path):
    from colliderlab.data.generate import provenance
    from colliderlab.features.build import build_dataset
    from colliderlab.physics.processes import GenConfig

    prov = provenance(("qcd", "top"), GenConfig(), 5, "toptag")
    assert prov["preset"]["name"] == "toptag" and set(prov["preset"]["fields"]) == TOPTAG_FIELDS
    assert "preset" not in provenance(("qcd", "top"), GenConfig(), 5)
    assert information_content(preset_file) == TOPTAG_FIELDS and information_content(toptag_file) is None
    assert file_fields(preset_file)[1] == ALL_FIELDS  # the file stores everything ...
    _, rep = build_dataset(preset_file, representation_config("particles", n_particles=16))
    assert rep.features == "kinematic"  # ... but auto follows the public dataset's content
    _, rep = build_dataset(preset_file, representation_config("observables"), stop=20)
    assert "n_charged" not in rep.names
    _, rep = build_dataset(toptag_file, representation_config("particles", n_particles=16), stop=20)
    assert rep.features == "full"  # a file of custom processes keeps today's behaviour


# ------------------------------------------------------------------------------------ runs
def _train(data, run_dir, model, rep, cache):
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    cfg = experiment_from_dict({
        "name": f"contract-{model}", "data": {"path": str(data), "cache_dir": str(cache)},
        "representation": rep, "model": {"name": model, "preset": "lite"}, "trainer": FAST_TRAINER,
    })
    run_experiment(cfg, run_dir, progress=False, plots=False)
    return run_dir


@pytest.fixture(scope="module")
def charged_baseline(preset_file, tmp_path_factory):
    """A Fisher discriminant that reads the constituents' charges (n_charged)."""
    tmp = tmp_path_factory.mktemp("fisher")
    return _train(preset_file, tmp / "run", "fisher", {"kind": "observables", "names": [*LIGHT, "n_charged"]},
                  tmp / "cache")


def test_a_run_refuses_a_public_file_without_its_fields(charged_baseline, public_file, preset_file, tmp_path):
    from colliderlab.train.experiment import evaluate_run, load_run, predict_run

    meta = json.loads((charged_baseline / "baseline" / "meta.json").read_text())
    assert meta["input_fields"] == ["charge", "mask", "p4"]
    with pytest.raises(MissingFieldsError, match=r"reads field\(s\) charge.*'toptag' file") as err:
        predict_run(charged_baseline, public_file, tmp_path / "s.h5", progress=False)
    assert public_file in str(err.value) and not (tmp_path / "s.h5").exists()
    with pytest.raises(MissingFieldsError, match="charge"):
        evaluate_run(charged_baseline, public_file, out_dir=tmp_path / "ev", progress=False)
    with pytest.raises(MissingFieldsError, match="charge"):  # the library's own scoring checks too
        load_run(charged_baseline).predict_proba(public_file)
    # a run written before the fields were recorded gets them from its representation
    del meta["input_fields"]
    (charged_baseline / "baseline" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(MissingFieldsError, match="charge"):
        predict_run(charged_baseline, public_file, tmp_path / "s.h5", progress=False)
    # the file it was trained on carries the charges
    out = predict_run(charged_baseline, preset_file, tmp_path / "own.h5", progress=False)
    with h5py.File(out) as f:
        assert json.loads(f.attrs["filled_with_zeros"]) == [] and f.attrs["data_format"] == "colliderlab"


def test_allow_missing_fills_zeros_on_purpose_and_says_so(charged_baseline, public_file, tmp_path):
    from colliderlab.train.experiment import evaluate_run, predict_run

    out = predict_run(charged_baseline, public_file, tmp_path / "s.h5", progress=False, allow_missing="charge")
    with h5py.File(out) as f:
        assert f["scores"].shape == (60, 2)
        assert json.loads(f.attrs["filled_with_zeros"]) == ["charge"] and f.attrs["data_format"] == "toptag"
        assert json.loads(f.attrs["input_fields"]) == ["charge", "mask", "p4"]
    res = evaluate_run(charged_baseline, public_file, out_dir=tmp_path / "ev", progress=False,
                       allow_missing=["charge"])
    saved = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert res["filled_with_zeros"] == saved["filled_with_zeros"] == ["charge"]
    assert saved["data_format"] == "toptag"


def test_cli_flags(charged_baseline, public_file, tmp_path, capsys):
    from colliderlab.cli import main

    assert main(["predict", str(charged_baseline), "--data", public_file, "--out", str(tmp_path / "s.h5")]) == 2
    err = capsys.readouterr().err
    assert "charge" in err and public_file in err and "'toptag'" in err and "--allow-missing" in err
    assert main(["predict", str(charged_baseline), "--data", public_file, "--out", str(tmp_path / "s.h5"),
                 "--allow-missing", "charge"]) == 0
    with h5py.File(tmp_path / "s.h5") as f:
        assert json.loads(f.attrs["filled_with_zeros"]) == ["charge"]
    capsys.readouterr()
    assert main(["evaluate", str(charged_baseline), "--data", public_file, "--json",
                 "--out-dir", str(tmp_path / "ev"), "--allow-missing", "charge"]) == 0
    assert json.loads(capsys.readouterr().out)["filled_with_zeros"] == ["charge"]
    assert main(["evaluate", str(charged_baseline), "--data", public_file, "--allow-missing", "chrage"]) == 2
    assert "valid" in capsys.readouterr().err


def test_torch_runs_record_their_fields_and_export_refuses_too(preset_file, public_file, tmp_path):
    from colliderlab.cli import main
    from colliderlab.train.experiment import predict_run

    pytest.importorskip("torch")
    # explicit "full" on a toptag-preset sample trains (the user asked for it) ...
    full = _train(preset_file, tmp_path / "full", "pfn", {"kind": "particles", "n_particles": 16, "features": "full"},
                  tmp_path / "cache")
    ck = json.loads((full / "checkpoint_best.json").read_text())
    assert ck["input_fields"] == ["charge", "d0", "dz", "jet_p4", "mask", "p4", "pid"]
    # ... and is refused, loudly, on the public file
    with pytest.raises(MissingFieldsError, match="charge, d0, dz, pid"):
        predict_run(full, public_file, tmp_path / "s.h5", progress=False)
    from colliderlab.export.api import export_run

    with pytest.raises(MissingFieldsError, match="charge, d0, dz, pid"):
        export_run(full, "onnx", out_dir=tmp_path / "ex", data=public_file)
    assert main(["export", str(full), "--to", "onnx", "--data", public_file, "--out", str(tmp_path / "ex")]) == 2
    # "auto" on the same sample resolves to the four-vectors, and the public file is scored as is
    auto = _train(preset_file, tmp_path / "auto", "pfn", {"kind": "particles", "n_particles": 16},
                  tmp_path / "cache")
    assert json.loads((auto / "checkpoint_best.json").read_text())["input_fields"] == ["jet_p4", "mask", "p4"]
    with h5py.File(predict_run(auto, public_file, tmp_path / "a.h5", progress=False)) as f:
        assert json.loads(f.attrs["filled_with_zeros"]) == [] and f["scores"].shape == (60, 2)

