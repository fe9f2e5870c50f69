"""conifer: the xgboost BDT as fixed-point firmware, emulated in C++ and compared with xgboost.

The compiled C++ bridge is cached per precision (``~/.cache/colliderlab/conifer``): a first run
builds one per precision (~10-17 s each with g++), later runs reuse them. The default run builds
only ap_fixed<18,8>; the wide-precision, HLS and double-precision checks are marked slow.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("xgboost")
pytest.importorskip("conifer")

from colliderlab.export.bdt import (  # noqa: E402
    ConiferConfig,
    ToolchainError,
    bdt_parity,
    bdt_resources,
    check_toolchain,
    convert_bdt,
    emulate,
    export_bdt_run,
    fixed_point_range,
)
from colliderlab.models.bdt import BDTClassifier, BDTConfig  # noqa: E402

try:
    check_toolchain("cpp")
except ToolchainError as err:
    pytest.skip(str(err), allow_module_level=True)

NAMES = ("mass", "mass_sd", "tau21", "tau32", "n_constituents", "girth", "ptd")
WIDE, NARROW = "ap_fixed<32,16>", "ap_fixed<18,8>"


@pytest.fixture(scope="module")
def features(toptag_file):
    """Standardised observables (as a trained run feeds them), labels (1 = top), 3-class labels."""
    from colliderlab.data.h5 import read_h5
    from colliderlab.features.highlevel import ObservablesConfig

    jets = read_h5(toptag_file)
    x = ObservablesConfig(names=NAMES).compute(jets)["x"]
    y = (jets.label == jets.label_names.index("top")).astype(int)
    # third class: QCD jets above the QCD median mass (0: light QCD, 1: heavy QCD, 2: top)
    heavy = x[:, 0] > np.median(x[y == 0, 0])
    y3 = np.where(y == 1, 2, heavy.astype(int))
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    return x, y, y3


@pytest.fixture(scope="module")
def binary_bdt(features):
    x, y, _ = features
    return BDTClassifier(BDTConfig(n_estimators=20, max_depth=3), NAMES).fit(x, y)


@pytest.fixture(scope="module")
def narrow(binary_bdt, tmp_path_factory):
    out = tmp_path_factory.mktemp("conifer") / "narrow"
    return convert_bdt(binary_bdt, ConiferConfig(precision=NARROW, output_dir=str(out)))


@pytest.mark.slow
def test_wide_precision_reproduces_xgboost_margins(binary_bdt, features, tmp_path):
    x, y, _ = features
    handle = convert_bdt(binary_bdt, ConiferConfig(precision=WIDE, output_dir=str(tmp_path / "p")))
    scores = emulate(handle, x)
    assert scores.shape == (len(x),) and scores.dtype == np.float64
    assert (tmp_path / "p" / "colliderlab_bdt.json").exists()
    report = bdt_parity(binary_bdt, handle, x, y)
    # truncation of 20 leaves + intercept to 2^-16 steps: < 21 * 1.5e-5
    assert report["max_abs_diff"] < 1e-3, report
    assert report["decision_agreement"] > 0.99
    assert abs(report["auc_difference"]) < 1e-3
    assert report["input_out_of_range_fraction"] == 0.0
    # the intercept conifer adds is xgboost's (measured), close to conifer's own reading
    base = handle.base_score
    assert base["source"] == "measured" and base["objective"] == "binary:logistic"
    assert base["used"] == base["measured_intercept"]
    assert abs(base["measured_intercept"][0] - base["conifer_init_predict"][0]) < 1e-4
    assert handle.splits["exact"] and handle.splits["thresholds_out_of_range"] == 0


def test_18_8_keeps_decisions_and_auc(binary_bdt, narrow, features):
    x, y, _ = features
    report = bdt_parity(binary_bdt, narrow, x, y)
    assert report["precision"] == {"input": NARROW, "threshold": NARROW, "score": NARROW}
    assert report["decision_agreement"] > 0.99
    assert abs(report["auc_conifer"] - report["auc_xgboost"]) < 0.01
    assert report["auc_xgboost"] > 0.8
    assert report["score_lsb"] == 2.0**-10
    # bit-level: where no comparison flips, conifer = xgboost margin up to the truncation of the
    # 20 leaf values and the intercept to 2^-10 steps (inputs and thresholds are truncated alike)
    diff = np.abs(emulate(narrow, x) - binary_bdt._model.predict(x, output_margin=True))
    assert np.mean(diff <= 21 * 2.0**-10) > 0.95
    assert np.median(diff) < 21 * 2.0**-10
    assert narrow.base_score["used"] == narrow.base_score["measured_intercept"]


def test_multiclass_has_one_ensemble_and_score_per_class(features, tmp_path):
    x, _, y3 = features
    bdt = BDTClassifier(BDTConfig(n_estimators=10, max_depth=3)).fit(x, y3)
    handle = convert_bdt(bdt, ConiferConfig(precision=NARROW, output_dir=str(tmp_path / "mc")))
    assert handle.n_classes == handle.n_outputs == 3
    scores = emulate(handle, x)
    assert scores.shape == (len(x), 3)
    report = bdt_parity(bdt, handle, x, y3)
    assert report["decision_agreement"] > 0.99
    assert abs(report["auc_difference"]) < 0.01
    # xgboost 3 stores multi-class intercepts as margins: the measured ones are used
    assert np.all(np.isfinite(handle.base_score["used"]))
    res = bdt_resources(handle, estimates=False)
    assert res["n_trees"] == 10 and res["n_ensembles_trees"] == 30


def test_resources_count_the_trees(binary_bdt, narrow):
    res = bdt_resources(narrow)
    assert res["n_trees"] == 20 and res["n_outputs"] == 1
    assert res["n_nodes"] == binary_bdt.n_params()
    assert 1 <= res["max_depth"] <= 3
    assert res["comparisons_per_inference"] == res["n_splits"] == res["n_nodes"] - res["n_leaves"]
    assert res["comparisons_sequential_max"] <= 20 * 3
    assert "xilinxhls" in res["conifer_estimates"] or "error" in res["conifer_estimates"]


def test_bad_configs_and_inputs_are_named():
    valid = "unknown conifer backend 'vhdl'; valid backends: cpp, xilinxhls, vivadohls"
    with pytest.raises(ValueError, match=valid):
        ConiferConfig(backend="vhdl")
    with pytest.raises(ValueError, match="precision = 'fixed<8>'"):
        ConiferConfig(precision="fixed<8>")
    with pytest.raises(ValueError, match="input_precision == threshold_precision"):
        ConiferConfig(input_precision="ap_fixed<16,6>", threshold_precision="ap_fixed<18,8>")
    with pytest.raises(ValueError, match="project_name"):
        ConiferConfig(backend="xilinxhls", project_name="bdt")
    assert fixed_point_range("ap_fixed<18,8>") == (-128.0, 128.0 - 2.0**-10, 2.0**-10)
    assert fixed_point_range("ap_ufixed<8,4,AP_RND,AP_SAT>") == (0.0, 16.0 - 2.0**-4, 2.0**-4)
    assert fixed_point_range("float") is None


def test_emulate_checks_shapes(narrow, features):
    x = features[0]
    with pytest.raises(ValueError, match=r"shape \(N, 7\)"):
        emulate(narrow, x[:, :3])
    assert emulate(narrow, x[:0]).shape == (0,)


def test_missing_json_header_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("JSON_ROOT", str(tmp_path))
    with pytest.raises(ToolchainError, match="apt-get install nlohmann-json3-dev"):
        check_toolchain("cpp")


def test_export_of_a_trained_run(toptag_file, tmp_path):
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    cfg = experiment_from_dict({
        "name": "bdt-conifer",
        "data": {"path": toptag_file, "cache_dir": str(tmp_path / "cache")},
        "representation": {"kind": "observables", "names": list(NAMES)},
        "model": {"name": "bdt", "options": {"n_estimators": 20, "max_depth": 3}},
    })
    run_dir = tmp_path / "run"
    run_experiment(cfg, run_dir, progress=False, plots=False)
    summary = export_bdt_run(run_dir, data=toptag_file, precision=NARROW)
    out = run_dir / "export" / "conifer"
    assert json.loads((out / "conifer.json").read_text()) == json.loads(json.dumps(summary))
    assert (out / "colliderlab_bdt.json").exists()
    parity = summary["parity"]
    assert parity["n_jets"] > 200 and parity["decision_agreement"] > 0.99
    assert abs(parity["auc_difference"]) < 0.01
    assert summary["resources"]["n_trees"] == summary["conifer"]["n_rounds"] <= 20
    # the same through the command line, options as --set; a torch-only format is refused
    from colliderlab.cli import main

    assert main(["export", str(run_dir), "--to", "conifer", "--data", toptag_file,
                 "--set", f"precision={NARROW}", "--n-jets", "100"]) == 0
    assert json.loads((out / "conifer.json").read_text())["parity"]["n_jets"] == 100
    assert main(["export", str(run_dir), "--to", "onnx"]) == 2


@pytest.mark.slow
def test_hls_project_emulates_identically_to_cpp(binary_bdt, narrow, features, tmp_path):
    x = features[0]
    hls = convert_bdt(binary_bdt, ConiferConfig(backend="vivadohls", precision=NARROW,
                                                output_dir=str(tmp_path / "hls")))
    assert (tmp_path / "hls" / "firmware" / "parameters.h").exists()
    assert (tmp_path / "hls" / "build_hls.tcl").exists()
    np.testing.assert_array_equal(emulate(hls, x), emulate(narrow, x))


@pytest.mark.slow
def test_double_precision_needs_exact_thresholds(features, tmp_path):
    x, y, _ = features
    bdt = BDTClassifier(BDTConfig(n_estimators=50, max_depth=4)).fit(x, y)
    exact = convert_bdt(bdt, ConiferConfig(precision="double", output_dir=str(tmp_path / "a")))
    assert bdt_parity(bdt, exact, x, y)["max_abs_diff"] < 1e-5
