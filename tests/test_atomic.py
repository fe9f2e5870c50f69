"""Files written whole or not at all."""

from __future__ import annotations

import pytest

from colliderlab.atomic import replacing, write_json, write_text


def test_replacing_renames_on_success_and_removes_on_error(tmp_path):
    path = tmp_path / "a.txt"
    write_text(path, "old")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]
    with replacing(path, keep_suffix=True) as tmp:
        assert tmp.suffix == ".txt" and tmp.name.startswith(".a.tmp-")
        tmp.write_text("new")
    assert path.read_text() == "new"
    assert list(tmp_path.iterdir()) == [path]


def test_write_json_numpy_values(tmp_path):
    import numpy as np

    p = write_json(tmp_path / "m.json", {"auc": np.float32(0.5), "n": np.int64(3), "x": np.arange(2)})
    assert p.read_text() == '{\n  "auc": 0.5,\n  "n": 3,\n  "x": [\n    0,\n    1\n  ]\n}\n'
