"""Every model name resolves to one spec declaring its task(s) and backend (registry-driven)."""

from __future__ import annotations

import pytest

from colliderlab.models.baselines import BASELINE_SPECS, BASELINES
from colliderlab.models.registry import BACKENDS, TASKS, list_models, model_spec, resolve_model

NAMES = list_models() + sorted(BASELINES)


@pytest.mark.parametrize("name", NAMES)
def test_every_name_declares_a_task_and_a_backend(name):
    spec = resolve_model(name)
    assert spec.name == name
    assert spec.tasks and all(t in TASKS for t in spec.tasks) and spec.task == spec.tasks[0]
    assert spec.backend in BACKENDS
    assert spec.representations, "a default representation (the first one)"
    if name in BASELINES:
        assert spec is BASELINE_SPECS[name] and spec.backend != "torch" and spec.cls is BASELINES[name][1]
        assert len(spec.tasks) == 1  # a baseline is either a classifier or a regressor
    else:
        assert spec is model_spec(name) and spec.backend == "torch"
        # generators and anomaly scorers are the models trained on their own loss
        assert (spec.task in ("generator", "scorer")) == (name in list_models(generative=True))


def test_declarations_match_what_the_models_are():
    assert resolve_model("pfn").tasks == ("classifier", "regressor")
    assert resolve_model("calo_flow").tasks == ("generator",)
    assert resolve_model("jet_image_ae").tasks == ("scorer",)
    assert (resolve_model("bdt").task, resolve_model("bdt").backend) == ("classifier", "xgboost")
    assert (resolve_model("bdt_regression").task, resolve_model("bdt_regression").backend) == ("regressor", "xgboost")
    assert resolve_model("fisher").backend == "sklearn" and resolve_model("cut_based").backend == "numpy"
    assert resolve_model("efp_linear").representations[0] == "efp"
    with pytest.raises(KeyError, match=r"unknown model 'nope'; valid models: .*pfn.*; baselines: .*bdt"):
        resolve_model("nope")


def test_the_trainer_has_a_handler_for_every_declaration():
    pytest.importorskip("torch")
    from colliderlab.train.tasks import BACKENDS as FITS
    from colliderlab.train.tasks import TASKS as HANDLERS

    assert set(FITS) == set(BACKENDS)
    declared = {t for n in NAMES for t in resolve_model(n).tasks}
    # anomaly scorers are trained by colliderlab.anomaly, not by experiments
    assert declared - {"scorer"} <= set(HANDLERS) and "scorer" not in HANDLERS
