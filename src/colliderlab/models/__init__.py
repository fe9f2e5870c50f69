"""Models: one family per file, registered in :mod:`.registry` (torch is imported lazily)."""

from __future__ import annotations

import importlib

__all__ = ["FAMILIES", "load_families"]

# Modules whose import registers torch models (taggers here, generators in colliderlab.generative,
# anomaly scorers in colliderlab.anomaly);
# imported on first registry use.
FAMILIES = (
    "dnn",
    "cnn",
    "rnn",
    "recnn",
    "pfn",
    "interaction_net",
    "mpnn",
    "particlenet",
    "part",
    "calo_cnn",
    "calo_cnn3d",
    "colliderlab.generative.flow",
    "colliderlab.generative.fm",
    "colliderlab.generative.gan",
    "colliderlab.generative.vae",
    "colliderlab.anomaly.event_ae",
    "colliderlab.anomaly.jet_ae",
)


def load_families() -> None:
    """Import every model family so that it registers itself (idempotent)."""
    for fam in FAMILIES:
        module = fam if "." in fam else f"colliderlab.models.{fam}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:  # a family not written yet, or torch missing
            if err.name != module:
                raise
