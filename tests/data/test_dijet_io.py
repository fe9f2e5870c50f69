"""Dijet sample files: resumable generation gives the same file as an uninterrupted run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pythia8mc")

from colliderlab.data import dijet_io  # noqa: E402
from colliderlab.data.dijet_io import generate_dijets, read_dijets  # noqa: E402
from colliderlab.data.errors import DataFormatError  # noqa: E402
from colliderlab.physics.dijet import DijetConfig  # noqa: E402

CONFIG = DijetConfig(chunk_events=12, mpi=False)


def test_generation_resumes_after_a_kill_and_matches_a_fresh_run(tmp_path, monkeypatch):
    fresh = generate_dijets(tmp_path / "a.h5", "qcd", 15, CONFIG, progress=False)
    a = read_dijets(tmp_path / "a.h5")
    assert len(a["jet_p4"]) == fresh["n_events"] == 15
    assert a["attrs"]["n_generated"] == CONFIG.chunk_events * fresh["chunks"] >= 15
    assert set(a) >= {"mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2"}
    assert not (tmp_path / "a.h5.parts").exists()

    # a run killed after its first chunk: that chunk's part is on disk, no final file
    real, calls = dijet_io._run_chunk, []

    def killed_after_first(config, kind, chunk, path):
        if chunk >= 1:
            raise KeyboardInterrupt("killed")
        calls.append(chunk)
        return real(config, kind, chunk, path)

    monkeypatch.setattr(dijet_io, "_run_chunk", killed_after_first)
    with pytest.raises(KeyboardInterrupt):
        generate_dijets(tmp_path / "b.h5", "qcd", 15, CONFIG, progress=False)
    assert not (tmp_path / "b.h5").exists() and (tmp_path / "b.h5.parts" / "qcd-000000.npz").exists()
    monkeypatch.setattr(dijet_io, "_run_chunk", real)
    resumed = generate_dijets(tmp_path / "b.h5", "qcd", 15, CONFIG, progress=False)
    assert resumed["resumed_chunks"] == 1 and resumed["n_generated"] == fresh["n_generated"]
    b = read_dijets(tmp_path / "b.h5")
    np.testing.assert_array_equal(a["jet_p4"], b["jet_p4"])
    np.testing.assert_array_equal(a["tau"], b["tau"])
    # Pythia's cross section travels with the file, the same for the resumed run
    xa, xb = a["attrs"]["cross_section"], b["attrs"]["cross_section"]
    assert 1 < xa["sigma_pb"] < 100 and 0 < xa["sigma_err_pb"] < xa["sigma_pb"]  # QCD 2->2, pT-hat > 1.1 TeV: O(10 pb)
    assert xa["filter_efficiency"] == pytest.approx(xa["n_selected"] / a["attrs"]["n_generated"])
    assert xb["sigma_pb"] == pytest.approx(xa["sigma_pb"], rel=1e-9)


def test_dijet_files_refuse_bad_input(tmp_path):
    with pytest.raises(ValueError, match="valid kinds"):
        generate_dijets(tmp_path / "x.h5", "ttbar", 10, CONFIG, progress=False)
    (tmp_path / "y.h5").write_bytes(b"")
    with pytest.raises(FileExistsError):
        generate_dijets(tmp_path / "y.h5", "qcd", 10, CONFIG, progress=False)
    import h5py

    with h5py.File(tmp_path / "z.h5", "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(DataFormatError, match="colliderlab-dijet"):
        read_dijets(tmp_path / "z.h5")
