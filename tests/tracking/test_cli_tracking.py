"""``colliderlab tracking simulate|train|reconstruct|evaluate`` end to end on a tiny sample."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from colliderlab.cli import main
from colliderlab.data.trackml import list_events, read_event


def test_simulate_train_reconstruct_evaluate(tmp_path, capsys):
    data = tmp_path / "sample"
    assert main(["tracking", "simulate", "--out", str(data), "--events", "4", "--seed", "3"]) == 0
    assert list_events(data) == [1000, 1001, 1002, 1003] and (data / "detectors.csv").is_file()
    # a killed job resumes: a lost event is made again, identical; another config is refused
    before = read_event(data, 1002)
    for f in data.glob("event000001002-*"):
        f.unlink()
    assert main(["tracking", "simulate", "--out", str(data), "--events", "4", "--seed", "3"]) == 0
    pd.testing.assert_frame_equal(read_event(data, 1002).hits, before.hits)
    assert main(["tracking", "simulate", "--out", str(data), "--events", "4", "--seed", "4"]) == 2
    assert "not adding events" in capsys.readouterr().err

    run = tmp_path / "run"
    assert main(["tracking", "train", "--data", str(data), "--out", str(run), "--epochs", "1", "--filter-epochs", "1",
                 "--hidden", "16", "--iterations", "2", "--val-events", "1", "--threads", "1"]) == 0
    capsys.readouterr()
    out = tmp_path / "tracks"
    assert main(["tracking", "reconstruct", "--data", str(data), "--run", str(run), "--out", str(out),
                 "--max-events", "2"]) == 0
    tracks = pd.read_csv(out / "event000001000-tracks.csv")
    assert list(tracks.columns) == ["hit_id", "track_id"] and len(tracks) == read_event(data, 1000).n_hits
    assert set(json.loads((out / "timing.json").read_text())["seconds"]) == {"1000", "1001"}
    capsys.readouterr()
    summary_file = tmp_path / "eval.json"
    assert main(["tracking", "evaluate", "--data", str(data), "--run", str(run), "--max-events", "2",
                 "--out", str(summary_file)]) == 0
    summary = json.loads(summary_file.read_text())
    assert summary["n_events"] == 2 and 0 <= summary["efficiency"] <= 1 and len(summary["events"]) == 2
    assert set(summary["seconds_per_event"]) == {"graph", "filter", "gnn", "build", "total"}
    capsys.readouterr()
    assert main(["tracking", "evaluate", "--data", str(data), "--method", "baseline", "--max-events", "2",
                 "--out", str(summary_file)]) == 0
    baseline = json.loads(summary_file.read_text())
    assert baseline["method"] == "baseline" and baseline["efficiency"] > 0.9 and baseline["fake_rate"] < 0.05


def test_bad_requests_are_refused(tmp_path, capsys):
    assert main(["tracking", "evaluate", "--data", str(tmp_path), "--method", "gnn", "--run", str(tmp_path)]) == 2
    assert "no TrackML events" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tracking", "simulate", "--out", str(tmp_path), "--card"])
    assert main(["tracking", "simulate", "--out", str(tmp_path / "x"), "--events", "1", "--process", "higgs"]) == 2
    assert "ttbar" in capsys.readouterr().err and not (tmp_path / "x").exists()
