"""FastJet's banner: at most once per run, never on stdout (``--json`` outputs stay pure JSON)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("fastjet")

SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing as mp
    import awkward as ak, fastjet, vector
    from colliderlab.physics.clustering import cluster_sequence

    def cluster(_=None):
        vector.register_awkward()
        ev = ak.Array([[{"px": 10.0, "py": 2.0, "pz": 3.0, "E": 11.0},
                        {"px": 9.0, "py": 2.5, "pz": 3.1, "E": 10.0}]], with_name="Momentum4D")
        cs = cluster_sequence(ev, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4))
        return len(cs.inclusive_jets()[0])

    if __name__ == "__main__":
        n = [cluster(), cluster()]
        with mp.get_context("spawn").Pool(2) as pool:
            n += pool.map(cluster, range(2))
        print(json.dumps({"jets": n}))
    """
)


def test_banner_once_on_stderr_never_on_stdout(tmp_path):
    script = tmp_path / "cluster.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    assert json.loads(out.stdout) == {"jets": [1, 1, 1, 1]}  # stdout is pure JSON
    assert out.stderr.count("FastJet release") == 1  # main process only; workers stay silent
