"""The model registry holds models only: loading every family imports no training, export or
command-line module (checked in a fresh interpreter, so earlier tests cannot hide an import)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

SRC = Path(__file__).resolve().parents[2] / "src"

CODE = """
import json, sys
from colliderlab.models.registry import list_models
names = list_models()
bad = sorted(m for m in sys.modules
             if m.split(".")[:2] in (["colliderlab", "train"], ["colliderlab", "export"], ["colliderlab", "cli"]))
print(json.dumps({"models": names, "bad": bad}))
"""


def test_loading_every_family_imports_no_train_export_or_cli():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(SRC), "PATH": "", "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"dnn", "part", "jet_image_ae", "anomaly_ae", "calo_flow"} <= set(res["models"])
    assert res["bad"] == [], f"the model registry imported {res['bad']}"


def test_family_modules_reach_no_train_export_or_cli():
    """Statically too (imports inside functions count): no import chain leads from a module the
    registry loads to the trainer, the exporters or the CLI."""
    grimp = pytest.importorskip("grimp")
    from colliderlab.models import FAMILIES

    graph = grimp.build_graph("colliderlab")
    targets = [m for m in graph.modules if m.split(".")[:2] in (["colliderlab", "train"], ["colliderlab", "export"],
                                                                ["colliderlab", "cli"])]
    for fam in FAMILIES:
        module = fam if "." in fam else f"colliderlab.models.{fam}"
        for target in targets:
            chain = graph.find_shortest_chain(importer=module, imported=target)
            assert chain is None, f"{module} reaches {target}: {' -> '.join(chain)}"
