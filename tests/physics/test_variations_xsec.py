"""Generator variations (Vincia, scale and Lund variations) and Pythia cross sections in provenance."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from colliderlab.data.errors import DataFormatError
from colliderlab.data.h5 import read_cross_sections, read_h5, read_h5_attrs, write_h5
from colliderlab.physics.processes import GenConfig, get_process
from colliderlab.physics.variations import VARIATIONS, get_variation, shower_settings


def test_cross_sections_stored_and_read_back(toptag_file):
    xs = read_cross_sections(toptag_file)
    assert set(xs) == {"qcd", "top"}
    top, qcd = xs["top"], xs["qcd"]
    # ttbar with pT-hat 500-700 GeV at 14 TeV is O(1 pb); QCD 2->2 in the same window O(1 nb).
    assert 0.2 < top.sigma_pb < 20 and 0 < top.sigma_err_pb < 0.5 * top.sigma_pb
    assert qcd.sigma_pb > 100 * top.sigma_pb
    for x in (top, qcd):
        assert x.filter_efficiency == pytest.approx(x.n_selected / x.n_events)
        assert x.n_selected >= 150 and x.expected(1.0) == pytest.approx(x.effective_pb * 1000)
        assert x.sigma_pb == pytest.approx(sum(p["sigma_pb"] for p in x.per_process.values()))
    assert {p["name"] for p in top.per_process.values()} == {"g g -> t tbar", "q qbar -> t tbar"}
    prov = read_h5_attrs(toptag_file)["provenance"]
    assert prov["generator_variation"]["shower"] == "simple"


def test_chunk_cross_sections_do_not_depend_on_history():
    """Chunk 1's sums are the same whether its Pythia made chunk 0 first or not, and summing the
    chunks of one instance gives Pythia's own cumulative cross section."""
    from colliderlab.physics import generator
    from colliderlab.physics.xsec import combine

    config = GenConfig(mpi=False, chunk_events=40, seed=7)
    generator._PYTHIAS.clear()
    c0 = generator.generate_chunk("top", config, 0)
    c1 = generator.generate_chunk("top", config, 1)
    py = generator._pythia(tuple(get_process("top").pythia_settings(config)))
    info = py.infoPython()
    total = combine([c0.xsec, c1.xsec], 80, 1)
    assert total.sigma_pb == pytest.approx(info.sigmaGen() * 1e9, rel=1e-9)
    assert total.sigma_err_pb == pytest.approx(info.sigmaErr() * 1e9, rel=1e-6)
    generator._PYTHIAS.clear()
    alone = generator.generate_chunk("top", config, 1)
    for code, d in c1.xsec.items():
        assert alone.xsec[code]["n_tried"] == d["n_tried"]
        assert alone.xsec[code]["sum_w"] == pytest.approx(d["sum_w"], rel=1e-9)


def test_file_without_cross_sections_is_read_and_says_so(tmp_path, toptag_jets):
    old = tmp_path / "old.h5"
    write_h5(old, toptag_jets[:20])
    with h5py.File(old, "r+") as f:  # what a schema-1 file looks like
        f.attrs["schema_version"] = 1
    assert len(read_h5(old)) == 20
    with pytest.raises(DataFormatError, match="no cross sections.*schema_version 1"):
        read_cross_sections(old)


def test_vincia_sample_generates_and_records_its_shower(tmp_path):
    from colliderlab.data.generate import generate_dataset

    out = tmp_path / "vincia.h5"
    config = GenConfig(mpi=False, chunk_events=30, seed=3, shower="vincia", n_particles=60)
    generate_dataset(("top",), config, 10, out, progress=False)
    jets = read_h5(out)
    assert len(jets) == 10 and jets.mask.sum(axis=1).min() > 5
    var = read_h5_attrs(out)["provenance"]["generator_variation"]
    assert var["shower"] == "vincia" and "PartonShowers:model = 2" in var["pythia_settings"]
    assert read_cross_sections(out)["top"].sigma_pb > 0


def test_unknown_shower_and_variation_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid showers: simple, vincia") as e:
        GenConfig(shower="dire")
    assert "removed" in str(e.value)
    with pytest.raises(ValueError, match="valid variations: nominal, fsr-up"):
        GenConfig(variation="fsr-way-up")


def test_cli_names_the_valid_showers(tmp_path, capsys):
    from colliderlab.cli import main

    assert main(["generate", "top", "--n-jets", "5", "--out", str(tmp_path / "x.h5"), "--shower", "herwig"]) == 2
    assert "valid showers: simple, vincia" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_variation_settings():
    assert shower_settings("simple", "fsr-up") == ["PartonShowers:model = 1", "TimeShower:renormMultFac = 4"]
    assert "SpaceShower:renormMultFac = 0.25" in shower_settings("simple", "isr-down")
    assert "Vincia:renormMultFacEmitF = 0.25" in shower_settings("vincia", "fsr-down")
    assert get_variation("lund-b-up").settings("simple") == ["StringZ:bLund = 1.08"]
    assert all(v.settings("vincia") is not None for v in VARIATIONS.values())


def test_fsr_scale_variation_changes_the_radiation():
    """A lower alpha_s scale (fsr-down, larger alpha_s) gives QCD jets more constituents than fsr-up."""
    from colliderlab.physics.generator import generate_chunk

    n = {}
    for var in ("fsr-down", "fsr-up"):
        config = GenConfig(mpi=False, chunk_events=300, seed=11, variation=var, n_particles=150)
        jets = generate_chunk("qcd", config, 0).batch
        n[var] = jets.mask.sum(axis=1)
    diff = n["fsr-down"].mean() - n["fsr-up"].mean()
    err = np.hypot(n["fsr-down"].std() / np.sqrt(len(n["fsr-down"])), n["fsr-up"].std() / np.sqrt(len(n["fsr-up"])))
    assert diff > 3 * err, (n["fsr-down"].mean(), n["fsr-up"].mean(), err)


def test_inspect_turns_cross_sections_into_expected_jets(toptag_file, capsys):
    import json

    from colliderlab.cli import main

    assert main(["inspect", toptag_file, "--lumi", "2", "--json"]) == 0
    xs = json.loads(capsys.readouterr().out)["cross_sections"]
    top = read_cross_sections(toptag_file)["top"]
    assert xs["top"]["expected"] == pytest.approx(top.sigma_pb * top.filter_efficiency * 2000.0)
    assert main(["inspect", toptag_file, "--lumi", "-1"]) == 2
