"""The manifest of a sharded sample and the checks of its shards against it (no HDF5 writing here,
so that :mod:`colliderlab.data.h5` can check a master file on open; see :mod:`colliderlab.data.shards`)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from colliderlab.atomic import write_json
from colliderlab.data.errors import DataFormatError

__all__ = [
    "MANIFEST",
    "MANIFEST_FORMAT",
    "JET_SHARDS",
    "Manifest",
    "ShardInfo",
    "ShardKind",
    "check_shards",
    "file_sha256",
    "is_sharded",
    "master_link",
    "shard_name",
    "shard_problems",
    "shards_dir",
]

MANIFEST_FORMAT = "colliderlab-shards-1"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ShardKind:
    """How a kind of sharded file is tied together (jets here; scores in
    :mod:`colliderlab.train.score_shards`).

    Attributes:
        link: root attribute of the master file: JSON ``{"manifest": <relative path>, "sample_id": ...}``.
        attr: root attribute of each shard: JSON ``{"sample_id": ..., "index": k}``.
        format: the manifest's ``format`` entry.
        redo: what the message of an unusable shard tells the reader to do.
    """

    link: str = "sharded"
    attr: str = "shard"
    format: str = MANIFEST_FORMAT
    redo: str = "Regenerate with the same command (only those shards are recomputed)"


#: Sharded jet samples.
JET_SHARDS = ShardKind()


def shards_dir(master: str | os.PathLike) -> Path:
    """The folder holding the shards and manifest of the sample whose master file is ``master``."""
    master = Path(master)
    return master.with_name(master.name + ".shards")


def shard_name(index: int) -> str:
    return f"shard-{index:06d}.h5"


def file_sha256(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ShardInfo:
    """One shard as the manifest records it.

    Attributes:
        index: shard number k.
        file: file name inside the shards folder.
        n: jets in the shard.
        n_per_class: jets per class (label order).
        bytes: file size.
        sha256: hex digest of the file.
        extra: what the writer adds (e.g. per-class chunk statistics of a generated sample).
    """

    index: int
    file: str
    n: int
    n_per_class: list[int]
    bytes: int
    sha256: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ShardInfo:
        return cls(index=int(d["index"]), file=str(d["file"]), n=int(d["n"]),
                   n_per_class=[int(x) for x in d["n_per_class"]], bytes=int(d["bytes"]),
                   sha256=str(d["sha256"]), extra=dict(d.get("extra", {})))


@dataclass
class Manifest:
    """A sample's manifest (``OUT.h5.shards/manifest.json``).

    ``sample_id`` is a digest of ``settings``: shards carry it, and a shard carrying another is
    refused. ``complete`` is set when every shard is written and the master file exists.
    """

    sample_id: str
    settings: dict[str, Any]
    label_names: list[str]
    n_particles: int
    shards: list[ShardInfo] = field(default_factory=list)
    complete: bool = False
    format: str = MANIFEST_FORMAT

    @staticmethod
    def digest(settings: Mapping[str, Any]) -> str:
        blob = json.dumps(settings, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:24]

    @classmethod
    def new(cls, settings: Mapping[str, Any], label_names: Sequence[str], n_particles: int) -> Manifest:
        settings = json.loads(json.dumps(settings, default=str))  # tuples -> lists, as read back
        return cls(sample_id=cls.digest(settings), settings=settings, label_names=list(label_names),
                   n_particles=int(n_particles))

    def save(self, folder: str | os.PathLike) -> Path:
        d = asdict(self)
        d["shards"] = [asdict(s) for s in sorted(self.shards, key=lambda s: s.index)]
        return write_json(Path(folder) / MANIFEST, d, indent=1)

    @classmethod
    def load(cls, folder: str | os.PathLike, *, fmt: str = MANIFEST_FORMAT) -> Manifest:
        """The manifest in ``folder``; ``fmt``: the format it must have (another kind's is refused)."""
        path = Path(folder) / MANIFEST
        try:
            d = json.loads(path.read_text())
            if d.get("format") != fmt:
                raise ValueError(f"format={d.get('format')!r}, expected {fmt!r}")
            return cls(sample_id=str(d["sample_id"]), settings=dict(d["settings"]),
                       label_names=[str(x) for x in d["label_names"]], n_particles=int(d["n_particles"]),
                       shards=[ShardInfo.from_dict(s) for s in d["shards"]], complete=bool(d["complete"]),
                       format=fmt)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataFormatError(path, f"not a readable shard manifest: {e}") from None

    @property
    def n_jets(self) -> int:
        return sum(s.n for s in self.shards)

    def n_per_class(self) -> list[int]:
        out = [0] * len(self.label_names)
        for s in self.shards:
            out = [a + b for a, b in zip(out, s.n_per_class, strict=True)]
        return out


def _shard_identity(path: Path, attr: str = "shard") -> dict[str, Any] | None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get(attr)
        return json.loads(raw) if raw is not None else None
    except (OSError, ValueError):
        return None


def _shard_problem(folder: Path, info: ShardInfo, sample_id: str, full: bool, attr: str) -> str | None:
    """Why shard ``info`` is unusable (None when it is fine)."""
    path = folder / info.file
    if not path.is_file():
        return f"shard {info.file} is missing"
    size = path.stat().st_size
    if size != info.bytes:
        return f"shard {info.file} has {size} bytes, the manifest records {info.bytes}"
    ident = _shard_identity(path, attr)
    if ident is None:
        return f"shard {info.file} is not a readable shard (no {attr!r} attribute)"
    if ident.get("sample_id") != sample_id:
        return (f"shard {info.file} belongs to sample {ident.get('sample_id')!r}, not to this manifest's "
                f"{sample_id!r} (shards of another manifest are refused)")
    if ident.get("index") != info.index:
        return f"shard {info.file} says it is shard {ident.get('index')}, the manifest says {info.index}"
    if full and file_sha256(path) != info.sha256:
        return f"shard {info.file} does not match its sha256 in the manifest (corrupt or replaced)"
    return None


def shard_problems(folder: str | os.PathLike, manifest: Manifest, *, full: bool = False,
                   kind: ShardKind = JET_SHARDS) -> dict[int, str]:
    """Shard index -> what is wrong with it, for every unusable shard of ``manifest``."""
    folder = Path(folder)
    out = {}
    for info in manifest.shards:
        problem = _shard_problem(folder, info, manifest.sample_id, full, kind.attr)
        if problem is not None:
            out[info.index] = problem
    return out


def is_sharded(attrs: Mapping[str, Any]) -> bool:
    """Whether root attributes ``attrs`` are those of a master file."""
    return JET_SHARDS.link in attrs


def master_link(master: Path, attrs: Mapping[str, Any], link: str = "sharded") -> tuple[Path, str]:
    """The shards folder and sample id a master file (root attributes ``attrs``) points to."""
    raw = attrs[link]
    try:
        target = json.loads(raw)
        return (master.parent / target["manifest"]).parent, str(target["sample_id"])
    except (ValueError, KeyError, TypeError):
        raise DataFormatError(master, f"attribute {link}={raw!r} is not a JSON manifest link") from None


def check_shards(master: str | os.PathLike, attrs: Mapping[str, Any], *, full: bool = False,
                 kind: ShardKind = JET_SHARDS) -> Manifest:
    """Check the shards behind master file ``master`` (root attributes ``attrs``) against its
    manifest; returns the manifest.

    Raises:
        DataFormatError: naming the master file and every missing, resized, foreign or (with
            ``full``) corrupt shard; reading on would give zeros in their place.
    """
    master = Path(master)
    folder, sample_id = master_link(master, attrs, kind.link)
    try:
        manifest = Manifest.load(folder, fmt=kind.format)
    except FileNotFoundError:
        raise DataFormatError(master, f"its shard manifest {folder / MANIFEST} is missing") from None
    if manifest.sample_id != sample_id:
        raise DataFormatError(master, f"the manifest in {folder} is for sample {manifest.sample_id!r}, the "
                                      f"master file for {sample_id!r} (mixed manifests are refused)")
    problems = shard_problems(folder, manifest, full=full, kind=kind)
    if problems:
        listed = "; ".join(problems[k] for k in sorted(problems)[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise DataFormatError(master, f"{len(problems)} of {len(manifest.shards)} shards in {folder} are "
                                      f"unusable: {listed}{more}. {kind.redo}")
    return manifest


