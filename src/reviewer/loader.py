"""Packages as a torch Dataset and DataLoader (seed 000 §9).

One interface over both package layouts of :mod:`reviewer.package`: a folder
of npy+json packages or WebDataset tar shards. Batches are dicts with
``features`` (B, max_seq_len, D) float32, ``mask`` (B, max_seq_len) bool,
``item_id`` and ``meta`` lists. Also reachable as ``reviewer.package.PackageDataset``
and ``reviewer.package.make_loader`` (imported lazily, so that importing
:mod:`reviewer.package` does not import torch).
"""

from __future__ import annotations

import logging
import tarfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from reviewer.errors import PackageError
from reviewer.package import SUFFIXES, Package, _package_from_members, _split_member, find_shards, read_package

log = logging.getLogger(__name__)


def _unkey(key: str) -> str:
    """Inverse of :func:`reviewer.package.shard_key`."""
    return key.replace("%2E", ".").replace("%25", "%")


class _PackageIndex:
    """Where every package of a source lives: an npy+json folder or tar shards (headers only)."""

    def __init__(self, source: str | Path | Sequence[str | Path]) -> None:
        self.npy_dir: Path | None = None
        self.entries: list[tuple[str, Any]] = []
        if not isinstance(source, (list, tuple)) and Path(source).is_dir() and any(Path(source).glob("*_meta.json")):
            self.npy_dir = Path(source)
            ids = sorted(p.name.removesuffix("_meta.json") for p in self.npy_dir.glob("*_meta.json"))
            self.entries = [(i, None) for i in ids]
            return
        shards = find_shards(source)
        if not shards:
            raise PackageError(f"no packages in {str(source)!r}: expected *_meta.json files or *.tar shards")
        for shard in shards:
            if not shard.is_file():
                raise PackageError(f"shard {str(shard)!r} does not exist")
            groups: dict[str, dict[str, tuple[int, int]]] = {}
            try:
                with tarfile.open(shard, "r") as tar:
                    for info in tar:
                        parts = _split_member(info.name) if info.isfile() else None
                        if parts:
                            groups.setdefault(parts[0], {})[parts[1]] = (info.offset_data, info.size)
            except tarfile.TarError as exc:
                raise PackageError(f"shard {str(shard)!r} is not a readable tar file: {exc}") from exc
            for key, members in groups.items():
                if len(members) != len(SUFFIXES):
                    raise PackageError(f"{shard.name}: sample {key!r} has {sorted(members)}, expected {list(SUFFIXES)}")
                self.entries.append((_unkey(key), (shard, members)))
        ids = [e[0] for e in self.entries]
        if len(set(ids)) != len(ids):
            raise PackageError(f"duplicate item ids across the shards of {str(source)!r}")

    def load(self, i: int) -> Package:
        item_id, where = self.entries[i]
        if self.npy_dir is not None:
            return read_package(self.npy_dir, item_id)
        shard, members = where
        blobs = {}
        with open(shard, "rb") as f:
            for suffix, (offset, size) in members.items():
                f.seek(offset)
                blobs[suffix] = f.read(size)
        return _package_from_members(blobs, f"{shard.name}:{item_id}")


class PackageDataset(Dataset):
    """Packages as a map-style torch Dataset.

    Parameters
    ----------
    source : str, Path or list of paths
        A folder of ``*_meta.json`` packages, a folder of ``*.tar`` shards, one
        shard, or a list of shards. Shards are indexed by their tar headers;
        an item is read with one seek per member.

    Items are dicts: ``features`` (max_seq_len, D) float32 tensor, ``mask``
    (max_seq_len,) bool tensor, ``item_id`` str, ``meta`` dict.
    """

    def __init__(self, source: str | Path | Sequence[str | Path]) -> None:
        self.index = _PackageIndex(source)
        log.debug("package dataset over %s: %d items", source, len(self.index.entries))

    def __len__(self) -> int:
        return len(self.index.entries)

    @property
    def item_ids(self) -> list[str]:
        return [e[0] for e in self.index.entries]

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"package index {i} out of range for {len(self)} packages")
        pkg = self.index.load(i % len(self))
        return {
            "features": torch.from_numpy(np.ascontiguousarray(pkg.features, dtype=np.float32)),
            "mask": torch.from_numpy(pkg.mask.astype(bool)),
            "item_id": pkg.item_id,
            "meta": pkg.meta,
        }


def collate_packages(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack dataset items: features (B, L, D) float32, mask (B, L) bool, item_id and meta lists."""
    shapes = {tuple(b["features"].shape) for b in batch}
    if len(shapes) != 1:
        ids = [b["item_id"] for b in batch]
        raise PackageError(f"packages in one batch differ in shape {sorted(shapes)} (items {ids}): mixed feature sets?")
    return {
        "features": torch.stack([b["features"] for b in batch]),
        "mask": torch.stack([b["mask"] for b in batch]),
        "item_id": [b["item_id"] for b in batch],
        "meta": [b["meta"] for b in batch],
    }


def make_loader(
    source: PackageDataset | str | Path | Sequence[str | Path],
    *,
    batch_size: int = 16,
    shuffle: bool = False,
    num_workers: int = 0,
    seed: int | None = None,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader over packages yielding :func:`collate_packages` dicts.

    Parameters
    ----------
    source : PackageDataset or anything it accepts
    seed : int, optional
        Fixes the shuffling order.
    """
    dataset = source if isinstance(source, PackageDataset) else PackageDataset(source)
    generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
        collate_fn=collate_packages, generator=generator, drop_last=drop_last,
    )  # fmt: skip
