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
