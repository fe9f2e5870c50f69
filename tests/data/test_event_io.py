"""Event-level files (issue #6): round trip, weights, the SM cocktail and resuming a killed run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from colliderlab.data import event_io  # noqa: E402
from colliderlab.data.errors import DataFormatError  # noqa: E402
from colliderlab.data.event_io import cocktail, generate_events, read_events  # noqa: E402
from colliderlab.physics.sm_events import FEATURE_NAMES, EventConfig  # noqa: E402

CONFIG = EventConfig(mpi=False, seed=5, chunk_events=100)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, tuple[str, dict]]:
    """W and Z files of a few dozen triggered events, and a W file through the lepton filter."""
    d = tmp_path_factory.mktemp("events")
    out = {}
    for name, process, cfg in (
        ("w_lnu", "w_lnu", CONFIG),
        ("z_ll", "z_ll", CONFIG),
        (
            "w_filtered",
            "w_lnu",
            EventConfig(mpi=False, seed=5, chunk_events=100, filter_processes=("w_lnu",)),
        ),
    ):
        path = d / f"{name}.h5"
        out[name] = (str(path), generate_events(path, process, 25, cfg, progress=False))
    return out


def test_round_trip_and_bookkeeping(files) -> None:
    path, summary = files["w_lnu"]
    ev = read_events(path)
    n = len(ev["features"])
    assert n == summary["n_events"] >= 25
    assert ev["features"].dtype == np.float32 and ev["features"].shape == (n, len(FEATURE_NAMES))
    assert ev["feature_names"] == FEATURE_NAMES
    assert ev["process"] == "w_lnu"
    assert ev["electrons"].shape == (n, 4, 5) and ev["muons"].shape == (n, 4, 5)
    assert ev["jets"].shape == (n, 10, 6) and ev["met"].shape == (n, 2)
    assert ev["n_generated"] == ev["n_filtered"] == summary["n_generated"]
    assert ev["n_generated"] % CONFIG.chunk_events == 0
    assert ev["filter_efficiency"] == 1.0
    assert ev["trigger_efficiency"] == pytest.approx(n / ev["n_filtered"])
    assert ev["sigma_pb"] == pytest.approx(summary["sigma_pb"]) == pytest.approx(ev["sigma_gen_pb"])
    assert 1e4 < ev["sigma_pb"] < 1e5  # W -> l nu (e, mu, tau) at 13 TeV, LO: ~5e4 pb
    assert ev["config"]["seed"] == CONFIG.seed
    # every stored event fired the trigger: an isolated lepton above 23 GeV
    lead = np.maximum(ev["electrons"][:, 0, 0], ev["muons"][:, 0, 0])
    assert (lead > 23.0).all()


def test_filtered_sample_carries_sigma_times_filter_efficiency(files) -> None:
    plain, filt = read_events(files["w_lnu"][0]), read_events(files["w_filtered"][0])
    assert 0.1 < filt["filter_efficiency"] < 0.9
    assert filt["filter_efficiency"] == pytest.approx(filt["n_filtered"] / filt["n_generated"])
    assert filt["sigma_pb"] == pytest.approx(filt["sigma_gen_pb"] * filt["filter_efficiency"])
    assert filt["trigger_efficiency"] > plain["trigger_efficiency"]
    # the product is what matters and agrees between the two ways of making the sample
    ratio = (filt["sigma_pb"] * filt["trigger_efficiency"]) / (
        plain["sigma_pb"] * plain["trigger_efficiency"]
    )
    assert 0.6 < ratio < 1.6


def test_cocktail_fractions_reproduce_sigma_times_trigger_efficiency(files) -> None:
    paths = {"w_lnu": files["w_lnu"][0], "z_ll": files["z_ll"][0]}
    sums = {k: files[k][1] for k in paths}
    w = {k: s["sigma_pb"] * s["trigger_efficiency"] for k, s in sums.items()}
    mix = cocktail(paths, seed=1)
    assert mix["process_names"] == ("w_lnu", "z_ll")
    for k in paths:
        assert mix["fractions"][k] == pytest.approx(w[k] / sum(w.values()))
    counts = np.bincount(mix["process"], minlength=2)
    assert counts.tolist() == [mix["counts"]["w_lnu"], mix["counts"]["z_ll"]]
    n = len(mix["process"])
    assert mix["features"].shape == (n, len(FEATURE_NAMES)) and mix["features"].dtype == np.float32
    np.testing.assert_allclose(
        counts / n, [mix["fractions"]["w_lnu"], mix["fractions"]["z_ll"]], atol=1.0 / n + 1e-9
    )
    # the scarcest process is used up entirely at the largest possible size
    have = {k: len(read_events(p)["features"]) for k, p in paths.items()}
    assert any(mix["counts"][k] == have[k] for k in paths)
    small = cocktail(paths, 20, seed=1)
    assert len(small["process"]) == 20
    np.testing.assert_array_equal(small["features"], cocktail(paths, 20, seed=1)["features"])
    with pytest.raises(ValueError, match="needs more"):
        cocktail(paths, 10 * n)
    with pytest.raises(ValueError, match="holds process 'w_lnu'"):
        cocktail({"z_ll": paths["w_lnu"]})


def test_bad_arguments_raise(files, tmp_path) -> None:
    with pytest.raises(ValueError, match="valid processes: w_lnu, z_ll, ttbar, qcd"):
        generate_events(tmp_path / "x.h5", "wjets", 10, CONFIG, progress=False)
    with pytest.raises(FileExistsError):
        generate_events(files["w_lnu"][0], "w_lnu", 10, CONFIG, progress=False)
    bogus = tmp_path / "bogus.h5"
    import h5py

    with h5py.File(bogus, "w") as f:
        f.attrs["format"] = "colliderlab-dijet"
    with pytest.raises(DataFormatError, match="not a colliderlab-events file"):
        read_events(bogus)


def test_resume_after_a_killed_run(tmp_path, monkeypatch) -> None:
    real = event_io._run_chunk
    calls: list[int] = []

    def killed_after_first(config, process, chunk, path):
        if chunk >= 1:
            raise KeyboardInterrupt("killed")
        calls.append(chunk)
        return real(config, process, chunk, path)

    path = tmp_path / "z.h5"
    monkeypatch.setattr(event_io, "_run_chunk", killed_after_first)
    with pytest.raises(KeyboardInterrupt):
        generate_events(path, "z_ll", 60, CONFIG, progress=False)
    assert not path.exists() and (tmp_path / "z.h5.parts" / "z_ll-000000.npz").exists()

    def counting(config, process, chunk, path):
        calls.append(chunk)
        return real(config, process, chunk, path)

    monkeypatch.setattr(event_io, "_run_chunk", counting)
    summary = generate_events(path, "z_ll", 60, CONFIG, progress=False)
    assert summary["resumed_chunks"] == 1
    assert calls[0] == 0 and 0 not in calls[1:]  # chunk 0 was not generated again
    assert not (tmp_path / "z.h5.parts").exists()
    # identical to an uninterrupted run
    fresh = generate_events(tmp_path / "z2.h5", "z_ll", 60, CONFIG, progress=False)
    np.testing.assert_array_equal(
        read_events(path)["features"], read_events(fresh["path"])["features"]
    )
    assert summary["n_generated"] == fresh["n_generated"]


def test_generation_stops_at_max_generated_or_max_seconds(tmp_path) -> None:
    by_count = generate_events(
        tmp_path / "a.h5", "z_ll", 10_000, CONFIG, progress=False, max_generated=100
    )
    assert by_count["chunks"] == 1 and by_count["n_generated"] == 100
    assert by_count["n_events"] == len(read_events(tmp_path / "a.h5")["features"]) < 100
    by_time = generate_events(
        tmp_path / "b.h5", "z_ll", 10_000, CONFIG, progress=False, max_seconds=0
    )
    assert by_time["chunks"] == 1
    np.testing.assert_array_equal(
        read_events(tmp_path / "a.h5")["features"], read_events(tmp_path / "b.h5")["features"]
    )


def test_weighted_cocktail_uses_every_event(files) -> None:
    paths = {"w_lnu": files["w_lnu"][0], "z_ll": files["z_ll"][0]}
    mix = cocktail(paths, weighted=True)
    have = {k: len(read_events(p)["features"]) for k, p in paths.items()}
    n = sum(have.values())
    assert len(mix["weights"]) == len(mix["process"]) == n
    assert mix["counts"] == have
    for i, k in enumerate(mix["process_names"]):
        assert mix["weights"][mix["process"] == i].sum() == pytest.approx(mix["fractions"][k] * n)
    assert (cocktail(paths)["weights"] == 1.0).all()
    with pytest.raises(ValueError, match="weighted cocktail takes every event"):
        cocktail(paths, 10, weighted=True)
