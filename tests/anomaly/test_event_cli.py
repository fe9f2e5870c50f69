"""`colliderlab anomaly events`: the event-level workflow from files, through the command line."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from colliderlab.cli import main  # noqa: E402
from colliderlab.data.event_io import generate_events  # noqa: E402
from colliderlab.physics.sm_events import EventConfig  # noqa: E402


def test_cli_runs_the_event_workflow_and_names_bad_input(tmp_path, capsys):
    config = EventConfig(mpi=False, seed=9, chunk_events=100)
    files = {}
    for process, n in (("w_lnu", 60), ("z_ll", 30), ("a_4l", 30)):
        files[process] = tmp_path / f"{process}.h5"
        generate_events(files[process], process, n, config, progress=False)
    out = tmp_path / "run"
    args = ["anomaly", "events", "--sm", f"w_lnu={files['w_lnu']},z_ll={files['z_ll']}",
            "--signals", f"a_4l={files['a_4l']}", "--out-dir", str(out), "--epochs", "2", "--no-trigger"]
    assert main([*args, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics["data"]["cocktail_fractions"]) == {"w_lnu", "z_ll"}
    assert abs(sum(metrics["data"]["cocktail_fractions"].values()) - 1.0) < 1e-9
    assert "a_4l" in metrics["auc"] and (out / "metrics.json").exists()
    assert main(["anomaly", "events", "--sm", "w_lnu", "--signals", f"a_4l={files['a_4l']}",
                 "--out-dir", str(out)]) == 2
    assert "name=FILE" in capsys.readouterr().err


def test_cli_runs_on_adc2021_objects(tmp_path, capsys):
    """The same workflow on the 57 object numbers of the ADC2021 layout, from our files and from
    ADC2021-layout files written by `colliderlab anomaly to-adc`."""
    from colliderlab.data.adc2021 import read_adc2021

    config = EventConfig(mpi=False, seed=19, chunk_events=100)
    files = {}
    for process, n in (("w_lnu", 60), ("a_4l", 30)):
        files[process] = tmp_path / f"{process}.h5"
        generate_events(files[process], process, n, config, progress=False)
    common = ["--signals", f"a_4l={files['a_4l']}", "--epochs", "2", "--no-trigger", "--json"]
    assert main(["anomaly", "events", "--sm", f"w_lnu={files['w_lnu']}", "--inputs", "objects",
                 "--out-dir", str(tmp_path / "objects"), *common]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["data"]["inputs"] == "objects" and "a_4l" in metrics["auc"]
    # A -> 4 leptons has more lepton slots filled than W -> l nu: the supervised BDT sees it
    assert metrics["auc"]["a_4l"]["bdt"] > 0.9

    adc = {}
    for process in files:
        adc[process] = tmp_path / f"{process}_adc.h5"
        assert main(["anomaly", "to-adc", str(files[process]), str(adc[process])]) == 0
    capsys.readouterr()
    assert read_adc2021(adc["a_4l"]).shape[1:] == (19, 4)
    assert main(["anomaly", "events", "--adc-background", str(adc["w_lnu"]), "--signals", f"a_4l={adc['a_4l']}",
                 "--epochs", "2", "--no-trigger", "--json", "--out-dir", str(tmp_path / "adc")]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["data"]["n_background"] == len(read_adc2021(adc["w_lnu"]))
    assert metrics["auc"]["a_4l"]["bdt"] > 0.9
    assert main(["anomaly", "events", "--adc-background", str(files["w_lnu"]), "--signals",
                 f"a_4l={adc['a_4l']}", "--out-dir", str(tmp_path / "bad")]) == 2
    assert "no 'Particles'" in capsys.readouterr().err
