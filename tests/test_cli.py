"""The command line: generate, inspect (every format), list, and its error messages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from colliderlab.cli import main


def test_generate_then_inspect_json(tmp_path, capsys):
    out = tmp_path / "cli.h5"
    rc = main(["generate", "w,qcd", "--n-jets", "12", "--out", str(out), "--seed", "4", "--no-mpi",
               "--chunk-events", "60", "--n-particles", "64", "--detector", "cms-like", "--quiet", "--workers", "1"])
    assert rc == 0 and out.exists()
    capsys.readouterr()
    assert main(["inspect", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["n_jets"] == 24 and s["labels"] == {"w": 12, "qcd": 12}
    q = s["mass_quantiles"]["w"]
    assert q["q25"] <= q["q50"] <= q["q75"] and 60 < q["q50"] < 100
    assert s["format"] == "colliderlab-sharded"


def test_inspect_reads_the_public_toptag_format(tmp_path, capsys, toptag_jets):
    pd = pytest.importorskip("pandas")
    b = toptag_jets[:40]
    cols = {}
    for i in range(200):
        for j, name in enumerate(("E", "PX", "PY", "PZ")):
            cols[f"{name}_{i}"] = b.p4[:, i, j].astype(np.float32)
    df = pd.DataFrame(cols)
    for j, name in enumerate(("truthE", "truthPX", "truthPY", "truthPZ")):
        df[name] = b.truth_p4[:, j]
    df["is_signal_new"] = (np.asarray(b.label_names)[b.label] == "top").astype(int)
    path = tmp_path / "test.h5"
    df.to_hdf(path, key="table", format="table")
    assert main(["inspect", str(path), "--json", "--plot", str(tmp_path / "p.png")]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["format"] == "toptag" and s["n_jets"] == 40
    assert s["labels"]["top"] == int(df["is_signal_new"].sum())
    assert 140 < s["mass_quantiles"]["top"]["q50"] < 200
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_errors_are_clear_and_nothing_is_lost(tmp_path, capsys):
    assert main(["generate", "top,bogus", "--n-jets", "5", "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert "unknown process 'bogus'" in err and "valid processes" in err and "qcd" in err
    assert main(["generate", "--preset", "nope", "--n-jets", "5", "--out", str(tmp_path / "x.h5")]) == 2
    assert "valid presets" in capsys.readouterr().err
    assert main(["generate", "qcd", "--n-jets", "5", "--out", str(tmp_path / "x.h5"), "--detector", "hubble"]) == 2
    assert "atlas-like" in capsys.readouterr().err
    existing = tmp_path / "keep.h5"
    existing.write_bytes(b"precious")
    assert main(["generate", "qcd", "--n-jets", "5", "--out", str(existing)]) == 2
    assert "overwrite" in capsys.readouterr().err and existing.read_bytes() == b"precious"
    assert main(["inspect", str(existing)]) == 2
    assert "keep.h5" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "missing.h5")]) == 2
    assert "missing.h5" in capsys.readouterr().err


def test_list_shows_everything(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("top", "qcd", "higgs", "gluon", "toptag", "quark-gluon", "hls4ml", "atlas-like", "cms-like"):
        assert name in out
