"""Progress: bars only on a terminal, one line per stage elsewhere."""

from __future__ import annotations

import io

from colliderlab import progress as prog


def test_non_terminal_prints_one_line_per_stage(monkeypatch, capsys):
    monkeypatch.setattr(prog, "interactive", lambda: False)
    bar = prog.progress(range(5), desc="features", unit="block")
    assert isinstance(bar, prog.StageLine)
    assert list(bar) == [0, 1, 2, 3, 4]
    with prog.progress(total=100, desc="generate", unit="jet", initial=40) as b:
        b.update(60)
        b.set_postfix(generated=1234)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err  # one line per stage, no redraws
    assert err[0].startswith("features: 5 block in ")
    assert err[1].startswith("generate: 100 jet in ") and err[1].endswith("(generated=1234)")


def test_disabled_prints_nothing(monkeypatch, capsys):
    monkeypatch.setattr(prog, "interactive", lambda: False)
    assert list(prog.progress(range(3), desc="x", enabled=False)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_terminal_gets_a_tqdm_bar(monkeypatch):
    from tqdm.auto import tqdm

    monkeypatch.setattr(prog, "interactive", lambda: True)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    bar = prog.progress(total=3, desc="t")
    assert isinstance(bar, tqdm)
    bar.close()
