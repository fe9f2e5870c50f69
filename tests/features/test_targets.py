"""Regression targets and their transforms (relative targets for calibration-style heads)."""

from __future__ import annotations

import numpy as np
import pytest

from colliderlab.features.targets import TARGET_TRANSFORMS, TargetTransform, target_values


def _p4(e: np.ndarray) -> np.ndarray:
    p4 = np.zeros((len(e), 4))
    p4[:, 0] = e
    return p4


def test_relative_targets_invert_exactly():
    rng = np.random.default_rng(0)
    e_vis = rng.uniform(1.0, 100.0, 50)
    e_inc = e_vis * rng.normal(1.05, 0.05, 50)
    for kind in TARGET_TRANSFORMS:
        tf = TargetTransform.for_target("incident_energy", kind)
        r = tf.reference_values(_p4(e_vis), _p4(e_inc))
        y = tf.forward(e_inc[:, None], r)  # (J, 1), as regression labels are
        assert y.shape == (50, 1)
        np.testing.assert_allclose(tf.inverse(y, r)[:, 0], e_inc, rtol=1e-12)
    tf = TargetTransform.for_target("incident_energy", "log_ratio")
    assert tf.reference == "visible_energy"  # the measured counterpart by default
    y = tf.forward(e_inc, tf.reference_values(_p4(e_vis), _p4(e_inc)))
    np.testing.assert_allclose(y, np.log(e_inc / e_vis))  # what the head learns: a relative calibration
    assert TargetTransform.for_target("truth_pt", "ratio").reference == "jet_pt"


@pytest.mark.parametrize("kind", ["ratio", "log_ratio"])
def test_sigma_propagation_matches_a_numerical_derivative(kind):
    tf = TargetTransform.for_target("incident_energy", kind)
    r = np.array([2.0, 30.0])
    y = tf.forward(np.array([2.2, 31.0]), r)
    s_y = np.array([0.01, 0.002]) * (1.0 if kind == "log_ratio" else y)
    h = 1e-6
    numeric = (tf.inverse(y + h, r) - tf.inverse(y - h, r)) / (2 * h) * s_y
    np.testing.assert_allclose(tf.inverse_sigma(y, s_y, r), numeric, rtol=1e-6)
    # none: the head's sigma is already in the target's units
    np.testing.assert_array_equal(TargetTransform().inverse_sigma(y, s_y, None), s_y)


def test_bad_transforms_list_the_valid_choices():
    with pytest.raises(ValueError, match="choose one of none, ratio, log_ratio"):
        TargetTransform.for_target("incident_energy", "relative")
    with pytest.raises(ValueError, match="needs a measured reference.*visible_energy"):
        TargetTransform("ratio", "incident_energy")  # a truth quantity is no reference
    with pytest.raises(ValueError, match="no default reference.*jet_pt"):
        TargetTransform.for_target("jet_eta", "ratio")
    with pytest.raises(ValueError, match="needs a relative target transform"):
        TargetTransform("none", "visible_energy")
    with pytest.raises(KeyError, match="valid targets"):
        TargetTransform.for_target("energy", "ratio")
    tf = TargetTransform.for_target("incident_energy", "ratio")
    with pytest.raises(ValueError, match="must be positive.*first: index 1"):
        tf.reference_values(_p4(np.array([1.0, 0.0])), _p4(np.array([1.0, 1.0])))


def test_the_data_section_checks_the_transform():
    from colliderlab.train.experiment import experiment_from_dict

    base = {"path": "x.h5", "target": "incident_energy"}
    assert experiment_from_dict({"data": base}).data.target_transform == "none"  # the default: unchanged
    with pytest.raises(ValueError, match="in 'data'.*choose one of none, ratio, log_ratio"):
        experiment_from_dict({"data": {**base, "target_transform": "logratio"}})
    with pytest.raises(ValueError, match="in 'data'.*need data.target"):
        experiment_from_dict({"data": {"path": "x.h5", "target_transform": "ratio"}})


def test_visible_energy_is_the_measured_energy():
    p4 = _p4(np.array([3.0, 40.0]))
    np.testing.assert_array_equal(target_values("visible_energy", p4, np.zeros((2, 4))), [3.0, 40.0])
