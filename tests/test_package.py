"""Packages (seed 000 §8-9, §14): npy+json round trip, shards, DataLoader batches, bad input."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest

from reviewer.aggregate import SegmentTable, aggregate
from reviewer.config import PipelineConfig, SelectionConfig
from reviewer.errors import PackageError, ValidationError
from reviewer.features.base import FrameFeatures
from reviewer.package import Package, ShardWriter, build_package, iter_shard, read_package, shard_key, write_package
from reviewer.segments import make_segments
from reviewer.selection import select_segments

HOP_S = 0.032
SEL = SelectionConfig(max_seq_len=16, k_start=2, k_end=2)


def make_table(duration: float, *, seed: int = 0) -> SegmentTable:
    rng = np.random.default_rng(seed)
    t = np.arange(0, duration, HOP_S)
    tracks = {"rms": FrameFeatures("rms", t, rng.random(t.size).astype(np.float32)),
              "f0": FrameFeatures("f0", t, (rng.random(t.size) * 200).astype(np.float32))}  # fmt: skip
    return aggregate(tracks, make_segments(duration))


def make_package(item_id: str = "ep01.mp3", duration: float = 60.0, *, seed: int = 0, d: int = 5) -> Package:
    table = make_table(duration, seed=seed)
    feats = np.random.default_rng(seed).normal(size=(len(table), d)).astype(np.float32)
    sel = select_segments(table, SEL)
    return build_package(item_id, table, sel, feats, [f"f{i}" for i in range(d)], config=PipelineConfig(),
                         artifact_digests={"scaler.joblib": "ab" * 32}, transforms_digest="cd" * 32)  # fmt: skip


def test_build_package_shapes_and_meta():
    table = make_table(60.0)
    feats = np.arange(len(table) * 3, dtype=np.float32).reshape(len(table), 3)
    sel = select_segments(table, SEL)
    pkg = build_package("ep01", table, sel, feats, ["a", "b", "c"], config=PipelineConfig())
    assert pkg.features.shape == (16, 3) and pkg.features.dtype == np.float32
    assert pkg.mask.dtype == np.uint8 and pkg.mask.sum() == 16
    np.testing.assert_array_equal(pkg.features, feats[sel.indices])
    meta = pkg.meta
    for key in ("video_id", "duration", "selection_strategy", "segments", "feature_file", "mask_file", "feature_dim"):
        assert key in meta
    assert meta["video_id"] == "ep01" and meta["duration"] == 60.0 and meta["feature_dim"] == 3
    assert meta["selection_strategy"] == "boundary_importance"
    assert meta["segments"][0] == {"index": 0, "start": 0.0, "end": 3.0}
    assert meta["feature_file"] == "ep01_features.npy" and meta["mask_file"] == "ep01_mask.npy"
    assert meta["chosen_indices"] == sel.indices.tolist() and len(meta["reasons"]) == 16
    assert meta["reasons"][0]["reason"] == "boundary_start"
    assert meta["feature_names"] == ["a", "b", "c"]
    assert meta["config_digest"] == PipelineConfig().digest() and meta["schema_version"] == 1
    assert meta["created_at"].endswith("+00:00")
    json.dumps(meta)  # JSON-able


def test_short_item_is_padded():
    table = make_table(4.0)  # 2 segments
    sel = select_segments(table, SEL)
    pkg = build_package("short", table, sel, np.ones((len(table), 4), np.float32), list("abcd"))
    assert pkg.mask.tolist() == [1, 1] + [0] * 14
    assert (pkg.features[2:] == 0).all() and (pkg.features[:2] == 1).all()
    assert pkg.meta["selection_strategy"] == "all"


def test_npy_round_trip(tmp_path):
    pkg = make_package()
    paths = write_package(pkg, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep01.mp3_features.npy", "ep01.mp3_mask.npy", "ep01.mp3_meta.json"]
    assert set(paths) == {"features", "mask", "meta"}
    back = read_package(tmp_path, "ep01.mp3")
    np.testing.assert_array_equal(back.features, pkg.features)
    np.testing.assert_array_equal(back.mask, pkg.mask)
    assert back.meta == pkg.meta


def test_read_package_rejects_broken_packages(tmp_path):
    pkg = make_package("ep02")
    write_package(pkg, tmp_path)
    with pytest.raises(PackageError, match="no package 'nope'"):
        read_package(tmp_path, "nope")
    np.save(tmp_path / "ep02_features.npy", np.zeros((16, 4), np.float32))
    with pytest.raises(PackageError, match=r"features shape \(16, 4\) does not match meta \(max_seq_len=16, feature_dim=5\)"):
        read_package(tmp_path, "ep02")
    write_package(pkg, tmp_path)
    np.save(tmp_path / "ep02_mask.npy", np.ones(16, np.uint8) * 0)
    with pytest.raises(PackageError, match="mask must be 1 for the 16 segments"):
        read_package(tmp_path, "ep02")
    (tmp_path / "ep02_mask.npy").unlink()
    with pytest.raises(PackageError, match="ep02_mask.npy is missing"):
        read_package(tmp_path, "ep02")
    (tmp_path / "ep02_meta.json").write_text("{not json")
    with pytest.raises(PackageError, match="not valid JSON"):
        read_package(tmp_path, "ep02")


def test_build_package_bad_input():
    table = make_table(30.0)
    sel = select_segments(table, SEL)
    good = np.zeros((len(table), 2), np.float32)
    with pytest.raises(ValidationError, match="item id 'a/b'"):
        build_package("a/b", table, sel, good, ["x", "y"])
    with pytest.raises(ValidationError, match=r"features must have shape \(N=19, D\)"):
        build_package("a", table, sel, good[:5], ["x", "y"])
    with pytest.raises(ValidationError, match="1 column names for 2 feature columns"):
        build_package("a", table, sel, good, ["x"])
    other = select_segments(make_table(60.0), SEL)
    with pytest.raises(ValidationError, match="selection was made over 39 segments"):
        build_package("a", table, other, good, ["x", "y"])


def test_float16_packages():
    table = make_table(30.0)
    pkg = build_package("h", table, select_segments(table, SEL), np.ones((len(table), 2)), ["x", "y"], dtype="float16")
    assert pkg.features.dtype == np.float16 and pkg.meta["dtype"] == "float16"


def test_shard_round_trip_and_webdataset(tmp_path):
    pkgs = [make_package(f"item{i}.wav", 30.0 + 5 * i, seed=i) for i in range(5)]
    with ShardWriter(tmp_path, shard_size=2) as writer:
        for p in pkgs:
            writer.write(p)
    assert [s.name for s in writer.shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert not list(tmp_path.glob(".*"))  # no temp files left
    with tarfile.open(writer.shards[0]) as tar:
        expected = [f"{shard_key(f'item{i}.wav')}.{s}" for i in (0, 1) for s in ("features.npy", "mask.npy", "meta.json")]
        assert tar.getnames() == expected and expected[0] == "item0%2Ewav.features.npy"
    back = [p for s in writer.shards for p in iter_shard(s)]
    assert [p.item_id for p in back] == [p.item_id for p in pkgs]
    for a, b in zip(pkgs, back):
        np.testing.assert_array_equal(a.features, b.features)
        np.testing.assert_array_equal(a.mask, b.mask)
    import webdataset as wds

    samples = list(wds.WebDataset([str(s) for s in writer.shards], shardshuffle=False, empty_check=False))
    assert len(samples) == 5
    assert {"features.npy", "mask.npy", "meta.json"} <= set(samples[0])
    assert json.loads(samples[3]["meta.json"])["video_id"] == "item3.wav"


def test_shard_writer_rejects_duplicates(tmp_path):
    with ShardWriter(tmp_path, shard_size=10) as writer:
        writer.write(make_package("a"))
        with pytest.raises(ValidationError, match="already in these shards"):
            writer.write(make_package("a"))
    with pytest.raises(ValidationError, match="shard_size must be >= 1"):
        ShardWriter(tmp_path, shard_size=0)


@pytest.mark.parametrize("layout", ["npy", "shards"])
def test_dataset_and_loader_batches(tmp_path, layout):
    from reviewer.package import PackageDataset, make_loader

    pkgs = [make_package(f"it{i}", 20.0 + 10 * i, seed=i) for i in range(5)]
    if layout == "npy":
        for p in pkgs:
            write_package(p, tmp_path)
    else:
        with ShardWriter(tmp_path, shard_size=3) as w:
            for p in pkgs:
                w.write(p)
    ds = PackageDataset(tmp_path)
    import torch

    assert isinstance(ds, torch.utils.data.Dataset) and len(ds) == 5
    assert sorted(ds.item_ids) == [f"it{i}" for i in range(5)]
    item = ds[0]
    assert item["features"].dtype == torch.float32 and item["mask"].dtype == torch.bool
    batches = list(make_loader(ds, batch_size=2))
    assert [b["features"].shape for b in batches] == [(2, 16, 5), (2, 16, 5), (1, 16, 5)]
    assert batches[0]["mask"].shape == (2, 16) and batches[0]["mask"].dtype == torch.bool
    assert sum(len(b["item_id"]) for b in batches) == 5
    by_id = {p.item_id: p for p in pkgs}
    for b in batches:
        for j, iid in enumerate(b["item_id"]):
            np.testing.assert_array_equal(b["features"][j].numpy(), by_id[iid].features)
            assert b["mask"][j].sum().item() == by_id[iid].mask.sum()
    a = [i for b in make_loader(tmp_path, batch_size=2, shuffle=True, seed=3) for i in b["item_id"]]
    c = [i for b in make_loader(tmp_path, batch_size=2, shuffle=True, seed=3) for i in b["item_id"]]
    assert a == c and sorted(a) == sorted(by_id)


def test_dataset_bad_sources(tmp_path):
    from reviewer.package import PackageDataset, make_loader

    with pytest.raises(PackageError, match="no packages in"):
        PackageDataset(tmp_path)
    (tmp_path / "bad.tar").write_bytes(b"not a tar file at all" * 50)
    with pytest.raises(PackageError, match="not a readable tar file"):
        PackageDataset(tmp_path / "bad.tar")
    other = tmp_path / "mixed"
    write_package(make_package("x", d=5), other)
    write_package(make_package("y", d=7), other)
    with pytest.raises(PackageError, match="differ in shape"):
        next(iter(make_loader(other, batch_size=2)))
