"""``colliderlab stats``: a trained run on its own Pythia sample, through the CLI, to pyhf results."""

from __future__ import annotations

import json

import pytest

pyhf = pytest.importorskip("pyhf")

FAST = {"epochs": 1, "batch_size": 32, "lr": 2e-3, "progress": False, "patience": 0, "max_steps": 3}


@pytest.fixture(scope="module")
def fisher_run(toptag_file, tmp_path_factory):
    from colliderlab.train.experiment import experiment_from_dict, run_experiment

    tmp = tmp_path_factory.mktemp("stats-run")
    cfg = experiment_from_dict({
        "name": "stats-fisher", "data": {"path": toptag_file, "cache_dir": str(tmp / "cache"),
                                         "val_fraction": 0.3, "test_fraction": 0.3},
        "representation": {"kind": "observables", "names": ["tau32", "tau21", "n_constituents", "mass_sd"]},
        "model": {"name": "fisher", "preset": "lite"}, "trainer": FAST,
    })
    run_experiment(cfg, tmp / "run", progress=False, plots=False)
    return tmp / "run"


ARGS = ["--bins", "3", "--range", "0", "300", "--min-mc-background", "20", "--lumi", "0.001",
        "--xsec", "qcd=100000", "--xsec", "top=20000"]


def test_stats_run_writes_a_summary_a_pyhf_workspace_and_plots(fisher_run, toptag_file, tmp_path, capsys):
    from colliderlab.cli import main

    out = tmp_path / "stats"
    assert main(["stats", "run", str(fisher_run), *ARGS, "--out-dir", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((out / "summary.json").read_text())
    assert printed["fit"] == summary["fit"] and "workspace" not in printed
    assert summary["data"] == toptag_file and summary["working_point"]["chosen_on"] == "validation"
    # the run's own test split: 30% of the 300 jets
    assert summary["efficiencies"]["nominal"]["n_jets"] == 90
    assert summary["yields"]["top"] > 0 and summary["fit"]["limit_expected"][0] > 0
    ws = pyhf.Workspace(json.loads((out / "workspace.json").read_text()))
    assert ws.model().config.poi_name == "mu"
    assert {p.name for p in out.glob("*.png")} == {"cls_scan.png", "significance_vs_cut.png", "templates.png"}
    assert main(["stats", "fit", str(out / "workspace.json")]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert fitted["expected"][2] == pytest.approx(summary["fit"]["limit_expected"][2], rel=1e-2)


def test_stats_run_refuses_what_it_cannot_do(fisher_run, toptag_jets, tmp_path, capsys):
    from colliderlab.cli import main
    from colliderlab.data.h5 import write_h5

    # a sample without the jet four-vector has no jet mass: refused, naming the field
    few = toptag_jets[:40]
    few.fields = frozenset({"p4", "mask", "label"})
    write_h5(tmp_path / "no_jet_p4.h5", few)
    assert main(["stats", "run", str(fisher_run), "--data", str(tmp_path / "no_jet_p4.h5"), *ARGS]) == 2
    assert "carries no jet_p4" in capsys.readouterr().err
    assert main(["stats", "run", str(fisher_run), "--discriminant", "mjj", *ARGS]) == 2
    assert "valid: mass, pt, mass_constituents" in capsys.readouterr().err
    assert main(["stats", "run", str(fisher_run), "--signal", "higgs", *ARGS]) == 2
    assert "'higgs' is not one of the run's classes" in capsys.readouterr().err
