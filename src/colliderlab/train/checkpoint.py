"""Checkpoints that cannot run code: weights in safetensors, everything else in JSON.

A checkpoint is named by a *stem* (``RUN/checkpoint_best``, ``OUT/ae``) and is two files::

    STEM.safetensors   the model's state_dict: tensors only (storage shared between entries,
                       as in tied weights, is cloned apart); its header holds ``format`` and
                       ``checkpoint_id``
    STEM.json          ``format``, ``checkpoint_id`` and the metadata: model name and config,
                       representation, standardizer statistics, class names, task, target,
                       quantization, trainer config, epoch, step, history ...

The trainer's resume state (optimiser, scheduler, GradScaler and RNG states) is
``RUN/resume_state.pt``: tensors and plain containers only, read with
``torch.load(weights_only=True)``; numpy's and Python's RNG states are stored as a tensor and
lists so that it accepts them. Every file is written atomically (:mod:`colliderlab.atomic`).

``checkpoint_id`` is drawn afresh at every save and written into every file of that save: a run
killed between two writes leaves files that disagree, which loading never mixes. The trainer
saves with ``keep_previous``: the files about to be replaced are first linked into
``RUN/.previous/``, and loading falls back to the consistent previous save (with a message) when
the current files disagree, so a run killed at any point of a save resumes.

Nothing here unpickles, except :func:`convert_legacy`: checkpoints of format
``colliderlab-checkpoint-1`` were one pickled ``STEM.pt`` each, and unpickling a file can run any
code it carries. Loading refuses them with :class:`LegacyCheckpointError`, whose message names
the file and the command that converts it (``colliderlab convert-run RUN``), to be run on files
the user trusts.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import write_json, write_safetensors, write_torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "LEGACY_FORMAT",
    "RESUME_STATE",
    "CheckpointError",
    "LegacyCheckpointError",
    "new_checkpoint_id",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_exists",
    "load_weights",
    "save_model",
    "load_model",
    "save_resume_state",
    "save_training_state",
    "discard_previous",
    "load_training_state",
    "load_resume_state",
    "rng_state",
    "set_rng_state",
    "convert_legacy",
]

CHECKPOINT_FORMAT = "colliderlab-checkpoint-2"
LEGACY_FORMAT = "colliderlab-checkpoint-1"  # one pickled STEM.pt (refused; convert_legacy reads it)
RESUME_STATE = "resume_state.pt"
_SUFFIXES = (".safetensors", ".json", ".pt")
# entries of a legacy trainer checkpoint that are resume state, not metadata
_RESUME_KEYS = ("optimizer_states", "scheduler_states", "scaler_state", "rng")


class CheckpointError(ValueError):
    """A checkpoint that is missing a file, torn, of another format, or not what it claims."""


class LegacyCheckpointError(CheckpointError):
    """An old pickled checkpoint (``colliderlab-checkpoint-1``): never loaded, only converted."""


def _stem(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in _SUFFIXES else path


def _files(stem: Path) -> tuple[Path, Path]:
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def legacy_message(path: Path) -> str:
    """Why an old pickled checkpoint is refused, and the command that converts it."""
    return (
        f"{path} is a checkpoint in the old pickled format ({LEGACY_FORMAT}); colliderlab no longer "
        "loads pickles, because unpickling a file can run any code it carries. If you trust where "
        f"this run comes from, convert it once with: colliderlab convert-run {path.parent}"
    )


# ------------------------------------------------------------------------------ model checkpoints


def _plain_tensors(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """CPU, contiguous tensors with no storage shared between two entries (safetensors' rules):
    a tied weight is stored twice and tied again by ``load_state_dict``."""
    import torch

    out, seen = {}, set()
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"state_dict entry {key!r} is a {type(value).__name__}, not a tensor; checkpoints hold tensors only"
            )
        t = value.detach().cpu().contiguous()
        ptr = t.untyped_storage().data_ptr()
        if t.numel() and ptr in seen:
            t = t.clone()
        seen.add(ptr)
        out[key] = t
    return out


PREVIOUS = ".previous"  # the files a keep_previous save replaced


def _previous(path: Path) -> Path:
    return path.parent / PREVIOUS / path.name


def _keep_previous(*paths: Path) -> None:
    """Link (or copy) the existing ``paths`` into ``.previous/`` before they are replaced: the
    replacement is atomic, so the old inode stays intact there."""
    for path in paths:
        if not path.exists():
            continue
        prev = _previous(path)
        prev.parent.mkdir(exist_ok=True)
        tmp = prev.with_name(f".{prev.name}.tmp-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        try:
            os.link(path, tmp)
        except OSError:  # a filesystem without hard links
            shutil.copy2(path, tmp)
        os.replace(tmp, prev)


def _file_id(path: Path) -> str | None:
    """The ``checkpoint_id`` a checkpoint file claims (None when unreadable)."""
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text()).get("checkpoint_id")
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("checkpoint_id")
    except Exception:  # a missing, torn or foreign file names no save
        return None


def _consistent_pair(weights: Path, info: Path) -> tuple[Path, Path] | None:
    """The newest (current or previous) weights and metadata files of one save, if any."""
    ids = {p: _file_id(p) for p in (weights, _previous(weights), info, _previous(info)) if p.exists()}
    for w in (weights, _previous(weights)):
        for i in (info, _previous(info)):
            if ids.get(w) is not None and ids.get(w) == ids.get(i):
                return w, i
    return None


def new_checkpoint_id() -> str:
    """A fresh ``checkpoint_id`` (to write a resume state before the checkpoint it belongs to)."""
    return uuid.uuid4().hex


def save_checkpoint(stem: str | os.PathLike, state_dict: Mapping[str, Any], meta: Mapping[str, Any],
                    *, keep_previous: bool = False, checkpoint_id: str | None = None) -> str:
    """Write ``STEM.safetensors`` (``state_dict``) and ``STEM.json`` (``meta``, JSON-serialisable),
    each atomically; with ``keep_previous`` the files they replace are kept in ``.previous/``.
    Returns the save's ``checkpoint_id`` (``checkpoint_id`` when given)."""
    stem = _stem(stem)
    weights, info = _files(stem)
    if keep_previous:
        _keep_previous(weights, info)
    cid = checkpoint_id or new_checkpoint_id()
    write_safetensors(weights, _plain_tensors(state_dict), {"format": CHECKPOINT_FORMAT, "checkpoint_id": cid})
    write_json(info, {**meta, "format": CHECKPOINT_FORMAT, "checkpoint_id": cid})
    return cid


def checkpoint_exists(stem: str | os.PathLike) -> bool:
    """Whether a checkpoint ``STEM`` exists (either of its files).

    Raises:
        LegacyCheckpointError: only the old pickled ``STEM.pt`` is there.
    """
    stem = _stem(stem)
    if any(p.exists() for p in _files(stem)):
        return True
    legacy = stem.with_name(stem.name + ".pt")
    if legacy.exists():
        raise LegacyCheckpointError(legacy_message(legacy))
    return False


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is not a colliderlab checkpoint's JSON metadata ({err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path} holds a JSON {type(meta).__name__}, not a checkpoint's metadata mapping")
    fmt = meta.get("format")
    if fmt != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {fmt!r} (written by colliderlab "
            f"{meta.get('colliderlab_version', 'unknown')}); this version reads {CHECKPOINT_FORMAT!r}: "
            "it is incompatible, retrain with this version"
        )
    return meta


def _read_pair(weights: Path, info: Path, device: Any) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """``(state_dict, meta, the weights' checkpoint_id)`` of one weights file and one metadata file."""
    from safetensors import safe_open

    meta = _read_meta(info)
    try:
        with safe_open(str(weights), framework="pt", device=str(device)) as f:
            header = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  (safe_open has no iteration)
    except Exception as err:  # safetensors raises its own error type for a corrupt or foreign file
        raise CheckpointError(f"{weights} is not a readable safetensors file ({type(err).__name__}: {err})") from None
    return state, meta, header.get("checkpoint_id")


def load_checkpoint(stem: str | os.PathLike, device: Any = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """Read checkpoint ``STEM``: ``(state_dict, meta)``, tensors on ``device``. When its two files
    come from different saves and ``.previous/`` holds a consistent one, that one is read.

    Raises:
        FileNotFoundError: no checkpoint ``STEM``.
        LegacyCheckpointError: only the old pickled ``STEM.pt`` is there (it is not opened).
        CheckpointError: a file is missing, unreadable, of another format, or from another save.
    """
    stem = _stem(stem)
    weights, info = _files(stem)
    if not checkpoint_exists(stem):
        raise FileNotFoundError(f"no checkpoint {weights.name} / {info.name} in {stem.parent}")
    missing = [p.name for p in (weights, info) if not p.exists()]
    if not missing:
        state, meta, cid = _read_pair(weights, info, device)
        if cid == meta.get("checkpoint_id"):
            return state, meta
    pair = _consistent_pair(weights, info)  # the current pair is torn: a complete previous save?
    if pair is None and missing:
        raise CheckpointError(f"checkpoint {stem} is incomplete: {', '.join(missing)} is missing")
    if pair is None:
        raise CheckpointError(
            f"{weights.name} and {info.name} in {stem.parent} come from different saves (a run killed while "
            "writing them?); use the other checkpoint or retrain"
        )
    from colliderlab.progress import write_line

    write_line(f"{stem}: its last save was interrupted; reading the previous one from {pair[0].parent}")
    return _read_pair(*pair, device)[:2]


def load_weights(model: Any, stem: str | os.PathLike, device: Any = "cpu") -> dict[str, Any]:
    """Load checkpoint ``STEM``'s weights into ``model`` (strictly); returns its metadata."""
    state, meta = load_checkpoint(stem, device)
    model.load_state_dict(state)
    return meta


def save_model(model: Any, path: str | os.PathLike, meta: Mapping[str, Any] | None = None) -> Path:
    """A registered model (``model_name`` and ``config``) as a checkpoint; :func:`load_model`
    rebuilds it. ``path``'s suffix (``.pt``, ``.safetensors``) is replaced. Returns the
    ``.safetensors`` path."""
    import dataclasses

    stem = _stem(path)
    stem.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(stem, model.state_dict(), {
        **(meta or {}), "model_name": model.model_name, "model_config": dataclasses.asdict(model.config),
    })
    return _files(stem)[0]


def load_model(path: str | os.PathLike, device: Any = "cpu") -> Any:
    """Inverse of :func:`save_model`: the model, in eval mode, on ``device``."""
    from colliderlab.models.registry import model_from_config

    state, meta = load_checkpoint(path, device)
    model = model_from_config(meta["model_name"], meta["model_config"])
    model.load_state_dict(state)
    return model.to(device).eval()


# ------------------------------------------------------------------------------ resume state


def rng_state() -> dict[str, Any]:
    """torch, numpy and Python RNG states as tensors and lists (``weights_only`` loads them)."""
    import torch

    return _plain_rng(torch.get_rng_state(), np.random.get_state(), random.getstate())


def _plain_rng(torch_state: Any, numpy_state: Any, python_state: Any) -> dict[str, Any]:
    import torch

    name, keys, pos, has_gauss, cached = numpy_state
    version, internal, gauss_next = python_state
    return {
        "torch": torch_state,
        "numpy": {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": [int(version), [int(v) for v in internal], gauss_next],
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    import torch

    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def save_resume_state(path: str | os.PathLike, state: Mapping[str, Any], checkpoint_id: str,
                      *, keep_previous: bool = False) -> Path:
    """Write the resume state of the checkpoint saved as ``checkpoint_id`` (tensors and plain
    containers only), atomically; with ``keep_previous`` the file it replaces goes to ``.previous/``."""
    if keep_previous:
        _keep_previous(Path(path))
    return write_torch(path, {**state, "format": CHECKPOINT_FORMAT, "checkpoint_id": checkpoint_id})


def _read_resume_state(path: Path, device: Any) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # the restricted unpickler refuses anything but tensors and containers
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path} is not a resume state colliderlab reads: it holds objects other than tensors and "
            f"plain containers, which are never unpickled ({first}); delete it and checkpoint_last.* to "
            "restart the run"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} resume state")
    return state


def load_resume_state(path: str | os.PathLike, checkpoint_id: str, device: Any = "cpu") -> dict[str, Any]:
    """Read the resume state saved with ``checkpoint_id`` (``path``, else the one kept in
    ``.previous/``) with ``torch.load(weights_only=True)``: tensors and plain containers, never
    arbitrary objects.

    Raises:
        CheckpointError: the file holds anything else, or belongs to another save than ``checkpoint_id``.
    """
    path = Path(path)
    if not path.exists() and not _previous(path).exists():
        raise CheckpointError(f"{path} is missing: the run cannot be resumed (delete checkpoint_last.* to restart it)")
    first = _read_resume_state(path, device) if path.exists() else None
    if first is not None and first.get("checkpoint_id") == checkpoint_id:
        return first
    if _previous(path).exists():
        state = _read_resume_state(_previous(path), device)
        if state.get("checkpoint_id") == checkpoint_id:
            return state
    raise CheckpointError(
        f"{path} belongs to another save than checkpoint_last (a run killed while writing them?); "
        "delete both to restart the run"
    )


def save_training_state(run_dir: str | os.PathLike, weights: Mapping[str, Any], meta: Mapping[str, Any],
                        resume_state: Mapping[str, Any], *, best: bool) -> str:
    """The trainer's save after an epoch: ``checkpoint_best`` (when ``best``), then the resume
    state, then ``checkpoint_last`` with the same ``checkpoint_id``; each keeps the files it replaces
    in ``.previous/``, so a kill at any point leaves one consistent save that
    :func:`load_training_state` finds. Returns the save's ``checkpoint_id``."""
    run_dir = Path(run_dir)
    if best:
        save_checkpoint(run_dir / "checkpoint_best", weights, meta, keep_previous=True)
    cid = new_checkpoint_id()
    save_resume_state(run_dir / RESUME_STATE, resume_state, cid, keep_previous=True)
    save_checkpoint(run_dir / "checkpoint_last", weights, meta, keep_previous=True, checkpoint_id=cid)
    return cid


def discard_previous(run_dir: str | os.PathLike) -> None:
    """Remove the saves kept in ``.previous/`` (a finished loop's last save is complete)."""
    shutil.rmtree(Path(run_dir) / PREVIOUS, ignore_errors=True)


def load_training_state(run_dir: str | os.PathLike, device: Any = "cpu") -> tuple[dict, dict, dict]:
    """``(weights, meta, resume_state)`` of the last complete save of :func:`save_training_state`."""
    weights, meta = load_checkpoint(Path(run_dir) / "checkpoint_last", device)
    return weights, meta, load_resume_state(Path(run_dir) / RESUME_STATE, meta["checkpoint_id"], device)


# ------------------------------------------------------------------------------ conversion


def convert_legacy(run_dir: str | os.PathLike, *, keep: bool = False) -> list[Path]:
    """Convert the old pickled checkpoints (``*.pt``) of ``run_dir`` to the current format.

    **This trusts the files**: it unpickles them (full ``torch.load``, not ``weights_only``), which runs
    any code they carry. Use it only on runs whose origin you trust. Trainer checkpoints
    (``checkpoint_best.pt``, ``checkpoint_last.pt``, with their resume state) and single-model
    files (``{"model", "config", "state"}``, e.g. anomaly scorers) are converted; the ``.pt``
    files are removed afterwards unless ``keep``.

    Returns:
        The ``.json`` files written.
    """
    import torch

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a directory")
    legacy = sorted(p for p in run_dir.glob("*.pt") if p.name != RESUME_STATE)
    if not legacy:
        raise FileNotFoundError(f"{run_dir} has no old-format checkpoint (*.pt) to convert")
    written = []
    for pt in legacy:
        ck = torch.load(pt, map_location="cpu", weights_only=False)  # trusted by the user: see the docstring
        if not isinstance(ck, dict):
            raise CheckpointError(f"{pt} holds a {type(ck).__name__}, not a colliderlab checkpoint")
        stem = pt.with_suffix("")
        if "model_state" in ck:
            if ck.get("format") != LEGACY_FORMAT:
                raise CheckpointError(f"{pt} has format {ck.get('format')!r}, not {LEGACY_FORMAT!r}; retrain it")
            meta = {k: v for k, v in ck.items() if k not in (*_RESUME_KEYS, "model_state", "format")}
            cid = save_checkpoint(stem, ck["model_state"], meta)
            if pt.name == "checkpoint_last.pt" and "optimizer_states" in ck:
                rng = ck["rng"]
                save_resume_state(run_dir / RESUME_STATE, {
                    "optimizer_states": ck["optimizer_states"], "scheduler_states": ck["scheduler_states"],
                    "scaler_state": ck["scaler_state"],
                    "rng": _plain_rng(rng["torch"], rng["numpy"], rng["python"]),
                }, cid)
        elif {"model", "config", "state"} <= set(ck):
            save_checkpoint(stem, ck["state"], {"model_name": ck["model"], "model_config": ck["config"]})
        else:
            raise CheckpointError(f"{pt} is not a colliderlab checkpoint (keys {sorted(map(str, ck))})")
        written.append(_files(stem)[1])
    if not keep:
        for pt in legacy:
            pt.unlink()
    return written
