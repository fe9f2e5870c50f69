"""Calorimeter shower files: CaloChallenge layout (round trip, public layout), CaloGAN files,
atomic and resumable writing, clear errors."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from colliderlab.data import calo_io, calo_sim
from colliderlab.data.calo_io import (
    CaloChallengeWriter,
    read_calochallenge,
    read_calogan,
    write_calochallenge,
)
from colliderlab.data.calo_sim import simulate_to_file
from colliderlab.data.errors import DataFormatError
from colliderlab.physics.calo import CALO_GEOMETRIES, CaloShowers, simulate


@pytest.fixture(scope="module")
def calogan_showers() -> CaloShowers:
    e = simulate("calogan", "e-", 6, rng=1)
    pi0 = simulate("calogan", "pi0", 5, angle=(0.0, 0.2), rng=2)
    return CaloShowers.concatenate([e, pi0])


def _assert_same(a: CaloShowers, b: CaloShowers) -> None:
    np.testing.assert_allclose(a.incident_energy, b.incident_energy, rtol=1e-12)
    np.testing.assert_allclose(a.showers, b.showers, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(a.particle, b.particle)
    np.testing.assert_array_equal(a.angle, b.angle)
    np.testing.assert_allclose(a.overflow, b.overflow, rtol=1e-6, atol=1e-12)
    assert a.geometry == b.geometry and a.layer_shapes == b.layer_shapes


# --------------------------------------------------------------------------------------------
# CaloChallenge layout
# --------------------------------------------------------------------------------------------
def test_calochallenge_round_trip_in_mev(tmp_path, calogan_showers):
    s = calogan_showers
    path = write_calochallenge(tmp_path / "showers.h5", s, provenance={"seed": 1})
    with h5py.File(path, "r") as f:
        assert f["incident_energies"].shape == (11, 1) and f["showers"].shape == (11, 504)
        np.testing.assert_allclose(f["incident_energies"][:, 0], s.incident_energy * 1000)
        np.testing.assert_allclose(f["showers"][:], s.showers * 1000, rtol=1e-6)
        assert f.attrs["units"] == "MeV" and f.attrs["geometry"] == "calogan"
        assert '"seed": 1' in f.attrs["provenance"] and "moliere_radius" in f.attrs["provenance"]
    back = read_calochallenge(path)
    _assert_same(s, back)
    assert list(back.particle_names[:6]) == ["e-"] * 6 and back.particle_names[-1] == "pi0"
    part = read_calochallenge(path, start=3, stop=7)
    np.testing.assert_array_equal(part.showers, back.showers[3:7])


def test_reads_public_calochallenge_layout(tmp_path):
    # dataset 2 of the CaloChallenge: 45 layers x 16 angular x 9 radial bins, MeV, no attrs
    n, shapes = 4, ((16, 9),) * 45
    rng = np.random.default_rng(0)
    showers = rng.exponential(5.0, (n, 6480)) * (rng.random((n, 6480)) < 0.2)
    path = tmp_path / "dataset_2_1.hdf5"
    with h5py.File(path, "w") as f:
        f["incident_energies"] = np.array([[1e3], [1e4], [1e5], [1e6]])
        f["showers"] = showers
    s = read_calochallenge(path, layer_shapes=shapes)
    np.testing.assert_allclose(s.incident_energy, [1, 10, 100, 1000])
    np.testing.assert_allclose(s.showers, showers / 1000, rtol=1e-6)
    assert s.geometry == "unknown" and s.layer(44).shape == (n, 16, 9)
    np.testing.assert_array_equal(s.particle, 0)
    assert s.overflow is None
    with pytest.raises(ValueError, match="layer_shapes"):
        read_calochallenge(path).layer(0)
    with pytest.raises(DataFormatError, match=r"expected \(4, 504\) for geometry 'calogan'"):
        read_calochallenge(path, geometry="calogan")


def test_calochallenge_errors_name_what_is_wrong(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["incident_energies"] = np.ones((3, 1))
    with pytest.raises(
        DataFormatError, match=r"missing dataset\(s\) \['showers'\].*\(N, n_voxels\)"
    ):
        read_calochallenge(path)
    with h5py.File(path, "w") as f:
        f["incident_energies"] = np.ones((3, 2))
        f["showers"] = np.ones((3, 25))
    with pytest.raises(
        DataFormatError, match=r"'incident_energies' has shape \(3, 2\), expected \(3, 1\)"
    ):
        read_calochallenge(path)
    with h5py.File(path, "w") as f:
        f["incident_energies"] = np.ones((3, 1))
        f["showers"] = np.ones((2, 25))
    with pytest.raises(DataFormatError, match=r"'showers' has shape \(2, 25\)"):
        read_calochallenge(path)
    bad = np.ones((3, 25))
    bad[2, 7] = np.nan
    with h5py.File(path, "w") as f:
        f["incident_energies"] = np.ones((3, 1))
        f["showers"] = bad
    with pytest.raises(DataFormatError, match=r"'showers' contains 1 NaN.*row 2, index \(7,\)"):
        read_calochallenge(path, geometry="cms")
    read_calochallenge(path, geometry="cms", stop=2)  # the rows before are fine
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(DataFormatError, match="not a readable HDF5"):
        read_calochallenge(text)
    with pytest.raises(FileNotFoundError):
        read_calochallenge(tmp_path / "missing.h5")


def test_writer_is_atomic(tmp_path, calogan_showers):
    path = tmp_path / "out.h5"
    with pytest.raises(RuntimeError, match="boom"):
        with CaloChallengeWriter(path, "calogan") as w:
            w.append(calogan_showers)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    write_calochallenge(path, calogan_showers)
    with pytest.raises(FileExistsError):
        write_calochallenge(path, calogan_showers)
    with pytest.raises(ValueError, match="504"):
        with CaloChallengeWriter(tmp_path / "other.h5", "calogan") as w:
            w.append(simulate("cms", "e-", 2, rng=0))


# --------------------------------------------------------------------------------------------
# CaloGAN files
# --------------------------------------------------------------------------------------------
def _write_calogan(path, layers, energy, overflow=None) -> None:
    with h5py.File(path, "w") as f:
        for k, arr in enumerate(layers):
            f[f"layer_{k}"] = arr
        f["energy"] = energy
        if overflow is not None:
            f["overflow"] = overflow


def test_read_calogan_public_layout(tmp_path):
    rng = np.random.default_rng(3)
    n = 5
    layers = [
        rng.exponential(50.0, (n, *shape)).astype(np.float32) for shape in calo_io.CALOGAN_LAYERS
    ]
    energy = rng.uniform(1, 100, (n, 1)).astype(np.float32)
    overflow = rng.exponential(10.0, (n, 3)).astype(np.float32)
    path = tmp_path / "eplus.hdf5"
    _write_calogan(path, layers, energy, overflow)
    s = read_calogan(path)
    assert s.geometry == "calogan" and s.showers.shape == (n, 504) and s.showers.dtype == np.float32
    assert s.layer_shapes == CALO_GEOMETRIES["calogan"].layer_shapes
    for k in range(3):
        np.testing.assert_allclose(s.layer(k), layers[k] / 1000, rtol=1e-6)  # MeV -> GeV
    np.testing.assert_allclose(s.incident_energy, energy[:, 0])  # already GeV
    np.testing.assert_allclose(s.overflow, overflow / 1000, rtol=1e-6)
    assert set(s.particle_names) == {"e+"} and np.all(s.angle == 0)
    assert (
        list(read_calogan(path, particle="gamma", start=1, stop=3).particle_names) == ["gamma"] * 2
    )
    renamed = tmp_path / "sample.h5"
    _write_calogan(renamed, layers, energy)  # no overflow: zeros
    other = read_calogan(renamed)
    assert set(other.particle_names) == {"unknown"} and np.all(other.overflow == 0)


def test_simulated_calogan_geometry_uses_the_calogan_cell_numbering(tmp_path):
    s = simulate("calogan", "e+", 8, rng=4)
    path = tmp_path / "eplus_sim.hdf5"
    _write_calogan(
        path,
        [s.layer(k) * 1000 for k in range(3)],
        s.incident_energy[:, None],
        s.overflow * 1000,
    )
    back = read_calogan(path)
    np.testing.assert_allclose(back.showers, s.showers, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(back.total_energy(), s.total_energy(), rtol=1e-5)


def test_calogan_errors_name_what_is_wrong(tmp_path):
    n = 4
    good = [np.zeros((n, *shape)) for shape in calo_io.CALOGAN_LAYERS]
    path = tmp_path / "gamma.hdf5"
    _write_calogan(path, [good[0], np.zeros((n, 12, 11)), good[2]], np.ones((n, 1)))
    with pytest.raises(
        DataFormatError, match=r"'layer_1' has shape \(4, 12, 11\), expected \(4, 12, 12\)"
    ):
        read_calogan(path)
    _write_calogan(path, good[:2], np.ones((n, 1)))
    with pytest.raises(DataFormatError, match=r"\['layer_2'\].*'layer_2' \(N, 12, 6\) MeV"):
        read_calogan(path)
    nan = [g.copy() for g in good]
    nan[0][3, 1, 40] = np.nan
    _write_calogan(path, nan, np.ones((n, 1)))
    with pytest.raises(DataFormatError, match=r"'layer_0' contains 1 NaN.*row 3, index \(1, 40\)"):
        read_calogan(path)


# --------------------------------------------------------------------------------------------
# chunked, resumable simulation
# --------------------------------------------------------------------------------------------
_RUN = dict(geometry="cms", particles=["e-", "pi+"], n_per_particle=30, chunk=10, seed=5)


def test_simulate_to_file_writes_particle_major_rows(tmp_path):
    path = simulate_to_file(tmp_path / "run.h5", **_RUN, progress=False)
    s = read_calochallenge(path)
    assert len(s) == 60 and s.geometry == "cms"
    assert list(s.particle) == [11] * 30 + [211] * 30
    assert np.all((s.incident_energy >= 1) & (s.incident_energy <= 100))
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left
    again = read_calochallenge(simulate_to_file(tmp_path / "again.h5", **_RUN, progress=False))
    np.testing.assert_array_equal(s.showers, again.showers)  # depends only on the arguments
    with pytest.raises(FileExistsError):
        simulate_to_file(path, **_RUN, progress=False)


def _documented(geometry, particles, n_per_particle, chunk, seed, **kwargs) -> CaloShowers:
    """What simulate_to_file promises: chunk i (file order) simulated with SeedSequence(seed, spawn_key=(i,))."""
    pieces = []
    for p in particles:
        for a in range(0, n_per_particle, chunk):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(len(pieces),)))
            pieces.append(simulate(geometry, p, min(chunk, n_per_particle - a), rng=rng, **kwargs))
    return CaloShowers.concatenate(pieces)


def test_simulate_to_file_matches_the_documented_seeds(tmp_path):
    """The file holds, bit for bit, the showers of the documented per-chunk seeds, as written by
    the serial loop before chunks became tasks (MeV: float64 x 1000, stored float32)."""
    run = dict(geometry="calogan", particles=["gamma", "pi+"], n_per_particle=25, chunk=10, seed=11,
               energy=(5.0, 50.0), angle=(0.0, 0.1))
    ref = _documented(**run)
    path = simulate_to_file(tmp_path / "run.h5", **run, progress=False)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["incident_energies"][:], ref.incident_energy[:, None] * 1000.0)
        np.testing.assert_array_equal(f["showers"][:], (ref.showers.astype(np.float64) * 1000.0).astype(np.float32))
        np.testing.assert_array_equal(f["overflow"][:], (ref.overflow.astype(np.float64) * 1000.0).astype(np.float32))
        np.testing.assert_array_equal(f["particle"][:], ref.particle)
        np.testing.assert_array_equal(f["angle"][:], ref.angle)
        assert f["showers"].chunks == (10, ref.showers.shape[1])
        prov = json.loads(f.attrs["provenance"])
        assert prov["seed"] == 11 and prov["chunk"] == 10 and "run_spec" not in f.attrs


def test_simulate_to_file_resumes_after_a_kill(tmp_path, monkeypatch, capsys):
    reference = read_calochallenge(simulate_to_file(tmp_path / "ref.h5", **_RUN, progress=False))
    real, calls = calo_sim._simulate_chunk, []
    die_after = {"n": 4}

    def dying(plan, stream, k, part):
        if len(calls) >= die_after["n"]:
            raise KeyboardInterrupt  # killed during the 5th of 6 chunks
        calls.append((stream, k))
        return real(plan, stream, k, part)

    path, parts = tmp_path / "run.h5", tmp_path / "run.h5.parts"
    monkeypatch.setattr(calo_sim, "_simulate_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        simulate_to_file(path, **_RUN, progress=False)
    assert not path.exists() and len(list(parts.glob("*.npz"))) == 4
    calls.clear()
    die_after["n"] = 100
    simulate_to_file(path, **_RUN, progress=True)  # resumes: only the two missing chunks are simulated
    assert len(calls) == 2
    assert "showers" in capsys.readouterr().err  # the tqdm bar
    _assert_same(reference, read_calochallenge(path))
    assert not parts.exists()
    # an unreadable part is simulated again; resume=False starts over
    with pytest.raises(KeyboardInterrupt):
        die_after["n"] = len(calls) + 4
        simulate_to_file(path, **_RUN, progress=False, overwrite=True)
    part = sorted(parts.glob("particle0-*.npz"))[0]
    part.write_bytes(b"PK garbage")
    calls.clear()
    die_after["n"] = 100
    simulate_to_file(path, **_RUN, progress=False, overwrite=True)
    assert calls == [("particle0", 0), ("particle0", 2), ("particle1", 2)]  # the unreadable part, the missing ones
    _assert_same(reference, read_calochallenge(path))
    calls.clear()
    simulate_to_file(path, **_RUN, progress=False, overwrite=True, resume=False)
    assert len(calls) == 6
