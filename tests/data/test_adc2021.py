"""The ADC2021 layout (arXiv:2107.02157): our events convert exactly, files round-trip, bad files are named."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from colliderlab.data.adc2021 import (  # noqa: E402
    INPUT_NAMES,
    N_SLOTS,
    particle_inputs,
    read_adc2021,
    to_particles,
    write_adc2021,
)
from colliderlab.data.errors import DataFormatError  # noqa: E402
from colliderlab.data.event_io import generate_events, read_events  # noqa: E402
from colliderlab.physics.sm_events import EventConfig  # noqa: E402


@pytest.fixture(scope="module")
def ttbar(tmp_path_factory):
    """A few dozen triggered ttbar events (leptons, several jets, MET)."""
    path = tmp_path_factory.mktemp("adc") / "ttbar.h5"
    generate_events(path, "ttbar", 30, EventConfig(mpi=False, seed=11, chunk_events=100), progress=False)
    return read_events(path)


def test_our_events_fill_the_adc_slots(ttbar):
    p = to_particles(ttbar)
    n = len(ttbar["features"])
    assert p.shape == (n, N_SLOTS, 4) and len(INPUT_NAMES) == 57 == particle_inputs(p).shape[1]
    np.testing.assert_array_equal(p[:, 0, 0], ttbar["met"][:, 0])  # slot 0: MET, eta 0, class 1
    assert np.all(p[:, 0, 1] == 0) and np.all(p[:, 0, 3] == 1)
    for lo, hi, cls, key in ((1, 5, 2, "electrons"), (5, 9, 3, "muons"), (9, 19, 4, "jets")):
        block = p[:, lo:hi]
        filled = block[..., 0] > 0
        assert np.all(block[..., 3][filled] == cls) and np.all(block[~filled] == 0)
        np.testing.assert_allclose(block[..., :3], np.where(filled[..., None], ttbar[key][:, : hi - lo, :3], 0))
        assert np.all(np.diff(block[..., 0], axis=1) <= 0)  # pT-ordered, padding last
    # the single-lepton trigger: every event has an electron or a muon above 23 GeV
    assert np.all(np.maximum(p[:, 1, 0], p[:, 5, 0]) > 23.0)
    assert (p[:, 9:, 0] > 0).sum(1).mean() > 2.5  # ttbar: ~4 quarks, about 3 jets above threshold


def test_files_round_trip_and_read_in_slices(ttbar, tmp_path):
    p = to_particles(ttbar)
    write_adc2021(tmp_path / "ours.h5", p)
    np.testing.assert_array_equal(read_adc2021(tmp_path / "ours.h5"), p)
    # a file as the public ones are written: float64 Particles and byte-string names, by h5py alone
    with h5py.File(tmp_path / "public.h5", "w") as f:
        f["Particles"] = p.astype(np.float64)
        f["Particles_Names"] = np.array([b"Pt", b"Eta", b"Phi", b"Class"])
        f["Particles_Classes"] = np.array([b"MET_class_1", b"Four_Ele_class_2", b"Four_Mu_class_3",
                                           b"Ten_Jet_class_4"])
    np.testing.assert_array_equal(read_adc2021(tmp_path / "public.h5", max_events=5, start=3), p[3:8])


def test_bad_files_and_arrays_are_named(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["jets"] = np.zeros((3, 4))
    with pytest.raises(DataFormatError, match="no 'Particles'"):
        read_adc2021(tmp_path / "other.h5")
    with h5py.File(tmp_path / "shape.h5", "w") as f:
        f["Particles"] = np.zeros((3, 18, 4))
    with pytest.raises(DataFormatError, match=r"\(N, 19, 4\)"):
        read_adc2021(tmp_path / "shape.h5")
    bad = np.zeros((4, N_SLOTS, 4))
    bad[2, 7, 1] = np.nan
    with h5py.File(tmp_path / "nan.h5", "w") as f:
        f["Particles"] = bad
    with pytest.raises(DataFormatError, match="first at event 2, slot 7, column Eta"):
        read_adc2021(tmp_path / "nan.h5")
    with pytest.raises(ValueError, match=r"\(N, 19, 4\)"):
        write_adc2021(tmp_path / "x.h5", np.zeros((2, 19, 3)))
    assert not (tmp_path / "x.h5").exists()
    with pytest.raises(ValueError, match=r"events\['jets'\]"):
        to_particles({"met": np.ones((2, 2)), "electrons": np.zeros((2, 4, 5)), "muons": np.zeros((2, 4, 5)),
                      "jets": np.zeros((2, 4, 6))})
