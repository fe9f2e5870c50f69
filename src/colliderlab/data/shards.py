"""Sharded jet samples: many colliderlab HDF5 files, one manifest, one master file that reads as one.

Layout of a sample written to ``OUT.h5``::

    OUT.h5                       master file: HDF5 virtual datasets over every shard (no copy)
    OUT.h5.shards/manifest.json  settings, sample id, and per shard: file, jets (per class), bytes, sha256
    OUT.h5.shards/shard-000000.h5, shard-000001.h5, ...   ordinary colliderlab jet files

Each shard is a complete colliderlab jet file (:mod:`colliderlab.data.h5`) that also carries the
root attribute ``shard`` = JSON ``{"sample_id": ..., "index": k}``; a worker writes it under a
temporary name and renames it when it is whole. The master file has the same datasets and root
attributes as any colliderlab file, so every reader reads the whole sample through it, plus the
attribute ``sharded`` = JSON ``{"manifest": <path relative to the master>, "sample_id": ...}``.

An HDF5 virtual dataset whose source file is missing reads fill values (zeros) without an error.
So every open of a master file first checks the shards against the manifest
(:func:`check_shards`): each must exist, have the recorded size in bytes, and name this sample and
its own index; a shard of another sample (another manifest) is refused. The sha256 recorded for
each shard is checked in full by :func:`verify_sample` (``full=True``), which generation runs
before it reuses a shard and ``colliderlab shards verify`` runs on demand.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing, write_json
from colliderlab.data.errors import DataFormatError
from colliderlab.jets import JetBatch

__all__ = [
    "MANIFEST_FORMAT",
    "Manifest",
    "JET_SHARDS",
    "ShardInfo",
    "ShardKind",
    "ShardedSample",
    "check_shards",
    "file_sha256",
    "is_sharded",
    "open_sample",
    "shard_name",
    "shards_dir",
    "verify_sample",
    "write_master",
    "write_shard",
    "shard_file",
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


#: Sharded jet samples (this module).
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


def write_shard(path: str | os.PathLike, batch: JetBatch, *, sample_id: str, index: int, n_particles: int,
                label_names: Sequence[str], provenance: Mapping[str, Any] | None = None,
                extra: Mapping[str, Any] | None = None) -> ShardInfo:
    """Write ``batch`` as shard ``index`` of sample ``sample_id`` (atomically) and describe it."""
    from colliderlab.data.h5 import H5Writer

    path = Path(path)
    label_names = tuple(label_names)
    with H5Writer(path, n_particles=n_particles, label_names=label_names, overwrite=True,
                  attrs={"provenance": dict(provenance or {}),
                         "shard": {"sample_id": sample_id, "index": int(index)}}) as w:
        w.append(JetBatch(**batch.arrays(), label_names=label_names, fields=batch.fields))
    counts = np.bincount(batch.label, minlength=len(label_names))[: len(label_names)]
    return ShardInfo(index=int(index), file=path.name, n=len(batch), n_per_class=[int(c) for c in counts],
                     bytes=path.stat().st_size, sha256=file_sha256(path), extra=dict(extra or {}))


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
    return "sharded" in attrs


def _master_link(master: Path, attrs: Mapping[str, Any], link: str = "sharded") -> tuple[Path, str]:
    raw = attrs[link]
    try:
        link = json.loads(raw)
        return (master.parent / link["manifest"]).parent, str(link["sample_id"])
    except (ValueError, KeyError, TypeError):
        raise DataFormatError(master, f"attribute {link}={raw!r} is not a JSON manifest link") from None


def check_shards(master: str | os.PathLike, attrs: Mapping[str, Any], *, full: bool = False,
                 kind: ShardKind = JET_SHARDS) -> Manifest:
    """Check the shards behind master file ``master`` (root attributes ``attrs``) against its
    manifest; returns the manifest. ``kind``: jet samples (default) or another kind of shards.

    Raises:
        DataFormatError: naming the master file and every missing, resized, foreign or (with
            ``full``) corrupt shard; reading on would give zeros in their place.
    """
    master = Path(master)
    folder, sample_id = _master_link(master, attrs, kind.link)
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


def _tail(name: str, p: int) -> tuple[int, ...]:
    """Shape after the jet axis of dataset ``name`` in a file of ``p`` particle slots."""
    return {"p4": (p, 4), "jet_p4": (4,), "truth_p4": (4,), "label": (), "truth_pdg": ()}.get(name, (p,))


def write_master(master: str | os.PathLike, manifest: Manifest, *, provenance: Mapping[str, Any] | None = None,
                 attrs: Mapping[str, Any] | None = None) -> Path:
    """Write the master file of ``manifest``'s shards (virtual datasets, relative source paths),
    atomically, and mark the manifest complete."""
    import h5py

    from colliderlab.data.h5 import _DTYPES, _FIELDS, FORMAT, SCHEMA_VERSION, _fields

    master = Path(master)
    folder = shards_dir(master)
    shards = sorted(manifest.shards, key=lambda s: s.index)
    n_total, p = sum(s.n for s in shards), manifest.n_particles
    fields = None
    for s in shards:
        with h5py.File(folder / s.file, "r") as f:
            carried = _fields(folder / s.file, f)
        fields = carried if fields is None else fields & carried
    rel = os.path.relpath(folder, master.parent)
    with replacing(master) as tmp:
        with h5py.File(tmp, "w", libver=("v110", "latest")) as f:
            for name in _FIELDS:
                tail = _tail(name, p)
                layout = h5py.VirtualLayout(shape=(n_total, *tail), dtype=_DTYPES[name])
                row = 0
                for s in shards:
                    if s.n:
                        src = h5py.VirtualSource(f"{rel}/{s.file}", name, shape=(s.n, *tail))
                        layout[row : row + s.n] = src
                    row += s.n
                f.create_virtual_dataset(name, layout, fillvalue=0)
            f.attrs.update({
                "format": FORMAT,
                "schema_version": SCHEMA_VERSION,
                "label_names": np.bytes_(json.dumps(manifest.label_names).encode()),
                "fields": np.bytes_(json.dumps(sorted(fields or ())).encode()),
                "n_jets": n_total,
                "n_particles": p,
                "provenance": json.dumps(dict(provenance or {}), default=str),
                "sharded": json.dumps({"manifest": f"{rel}/{MANIFEST}", "sample_id": manifest.sample_id}),
                "n_shards": len(shards),
                **{k: (v if isinstance(v, (int, float, str)) else json.dumps(v, default=str))
                   for k, v in (attrs or {}).items()},
            })
    manifest.complete = True
    manifest.save(folder)
    return master


@dataclass
class ShardedSample:
    """A sharded sample opened for reading: its master file, folder, manifest and shard paths."""

    master: Path
    folder: Path
    manifest: Manifest

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(self.manifest.label_names)

    @property
    def shards(self) -> list[tuple[Path, int]]:
        """``(path, n_jets)`` per shard, in shard order."""
        return [(self.folder / s.file, s.n) for s in sorted(self.manifest.shards, key=lambda s: s.index)]

    def __len__(self) -> int:
        return self.manifest.n_jets


def open_sample(path: str | os.PathLike, *, full: bool = False) -> ShardedSample:
    """Open the sharded sample whose master file is ``path`` (checked as :func:`check_shards`)."""
    import h5py

    from colliderlab.data.formats._common import check_exists

    master = check_exists(path)
    with h5py.File(master, "r") as f:
        attrs = dict(f.attrs)
    if not is_sharded(attrs):
        raise DataFormatError(master, "not the master file of a sharded sample (no 'sharded' attribute)")
    manifest = check_shards(master, attrs, full=full)
    return ShardedSample(master=master, folder=_master_link(master, attrs)[0], manifest=manifest)


def verify_sample(path: str | os.PathLike) -> ShardedSample:
    """:func:`open_sample` with every shard's sha256 recomputed and compared with the manifest."""
    return open_sample(path, full=True)


def shard_file(src: str | os.PathLike, out: str | os.PathLike, *, shard_jets: int,
               repeat: int = 1, overwrite: bool = False) -> ShardedSample:
    """Cut an existing jet file (any registered format) into a sharded sample of ``shard_jets``
    jets per shard, streamed (one shard in memory at a time). ``repeat`` > 1 writes the file's
    jets that many times over (benchmarks of streaming at scale from a small generated sample;
    the copies are identical jets)."""
    import shutil

    from colliderlab.data.formats import iter_jets

    out, src = Path(out), Path(src)
    folder = shards_dir(out)
    if out.exists() or folder.exists():
        if not overwrite:
            raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
        out.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    first = next(iter_jets(src, chunk_size=1))
    settings = {"source": str(src.resolve()), "shard_jets": int(shard_jets), "repeat": int(repeat)}
    manifest = Manifest.new(settings, first.label_names, first.n_particles)
    k = 0
    for _ in range(repeat):
        for batch in _rebatch(iter_jets(src, chunk_size=shard_jets), shard_jets):
            info = write_shard(folder / shard_name(k), batch, sample_id=manifest.sample_id, index=k,
                               n_particles=manifest.n_particles, label_names=manifest.label_names)
            manifest.shards.append(info)
            k += 1
    manifest.save(folder)
    write_master(out, manifest, provenance={"sharded_from": str(src)})
    return open_sample(out)


def _rebatch(batches: Iterable[JetBatch], size: int) -> Iterable[JetBatch]:
    pending: list[JetBatch] = []
    n = 0
    for b in batches:
        pending.append(b)
        n += len(b)
        while n >= size:
            merged = JetBatch.concatenate(pending)
            yield merged[:size]
            rest = merged[size:]
            pending, n = ([rest] if len(rest) else []), len(rest)
    if n:
        yield JetBatch.concatenate(pending)
