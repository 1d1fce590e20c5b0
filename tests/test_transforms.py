"""PCA + scaler fitted on the train split, NaN handling, artifacts with digests (seed 000 §6, §8, §11)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reviewer.aggregate import SegmentTable, aggregate
from reviewer.config import TransformConfig
from reviewer.errors import PackageError, ValidationError
from reviewer.features.base import FrameFeatures
from reviewer.segments import make_segments
from reviewer.transforms import FittedTransforms, apply_transforms, fit_transforms, load, per_file_normalise

HOP_S = 0.032


def make_table(duration: float, *, seed: int, clap: bool = True, gain: float = 1.0) -> SegmentTable:
    rng = np.random.default_rng(seed)
    t = np.arange(0, duration, HOP_S)
    n = t.size
    f0 = (rng.random(n) * 200 + 100).astype(np.float32)
    f0[rng.random(n) < 0.3] = np.nan
    tracks = {
        "rms": FrameFeatures("rms", t, (gain * rng.random(n)).astype(np.float32)),
        "f0": FrameFeatures("f0", t, f0),
        "snr_db": FrameFeatures("snr_db", t, (rng.random(n) * 30).astype(np.float32)),
        "mfcc": FrameFeatures("mfcc", t, rng.normal(size=(n, 20)).astype(np.float32) * 10),
    }
    if clap:
        basis = rng.normal(size=(3, 32))
        latent = np.repeat(rng.normal(size=(n // 30 + 1, 3)), 30, axis=0)[:n]
        tracks["clap"] = FrameFeatures("clap", t, (latent @ basis + 0.01 * rng.normal(size=(n, 32))).astype(np.float32))
    else:
        tracks["clap"] = FrameFeatures.missing_track("clap", "no model")
    return aggregate(tracks, make_segments(duration), embedding_dims={"clap": 32})


@pytest.fixture(scope="module")
def train_tables() -> list[SegmentTable]:
    return [make_table(60.0 + 10 * i, seed=i, gain=1 + i) for i in range(4)]


CONFIG = TransformConfig(pca_dims={"clap": 8, "wav2vec": 64})


def test_scaled_train_features_have_zero_mean_unit_variance(train_tables):
    fitted = fit_transforms(train_tables, CONFIG)
    x = np.concatenate([apply_transforms(t, fitted)[0] for t in train_tables])
    cols = fitted.columns_out
    for name in ("rms_mean", "f0_mean", "spectral_centroid_mean", "clap_pca_0", "mfcc_mean_3", "snr_db"):
        j = cols.index(name)
        if name == "spectral_centroid_mean":  # never extracted: all zeros, flag set
            assert (x[:, j] == 0).all() and (x[:, cols.index("spectral_centroid_missing")] == 1).all()
            continue
        assert abs(x[:, j].mean()) < 1e-4, name
        assert x[:, j].std() == pytest.approx(1.0, abs=1e-3), name
    assert x.dtype == np.float32 and np.isfinite(x).all()


def test_columns_out_and_pca_clipping(train_tables):
    fitted = fit_transforms(train_tables, CONFIG)
    cols = fitted.columns_out
    assert [c for c in cols if c.startswith("clap_pca_")] == [f"clap_pca_{i}" for i in range(8)]
    assert not any(c.startswith("clap_mean_") for c in cols)
    assert cols[-len(fitted.flag_groups) :] == tuple(f"{g}_missing" for g in fitted.flag_groups)
    assert "wav2vec" not in fitted.pca_info  # no columns anywhere: nothing to fit
    assert fitted.pca_info["clap"]["n_components"] == 8
    assert fitted.pca_info["clap"]["explained_variance"] > 0.9
    few = fit_transforms([make_table(4.5, seed=9)], TransformConfig(pca_dims={"clap": 128}))
    assert few.pca_info["clap"] == {"requested": 128, "n_components": 2, "input_dim": 32, "n_rows": 2, "explained_variance": pytest.approx(1.0)}


def test_missing_group_becomes_zero_with_flag(train_tables):
    fitted = fit_transforms(train_tables, CONFIG)
    table = make_table(30.0, seed=7, clap=False)
    x, cols = apply_transforms(table, fitted)
    assert x.shape == (len(table), len(cols))
    assert (x[:, [cols.index(f"clap_pca_{i}") for i in range(8)]] == 0).all()
    assert (x[:, cols.index("clap_missing")] == 1).all()
    assert (x[:, cols.index("rms_missing")] == 0).all()


def test_per_file_normalisation_removes_gain():
    a, b = make_table(60.0, seed=3, gain=1.0), make_table(60.0, seed=3, gain=10.0)
    va, vb = per_file_normalise(a, ["rms_mean"]), per_file_normalise(b, ["rms_mean"])
    j = a.columns.index("rms_mean")
    np.testing.assert_allclose(va[:, j], vb[:, j], atol=1e-4)
    assert not np.allclose(a.values[:, j], b.values[:, j])


def test_scaler_ignores_validation_rows(train_tables):
    """Fitted on train only: a very different item does not move the scaler."""
    fitted = fit_transforms(train_tables, CONFIG)
    other = make_table(60.0, seed=11)
    refit = fit_transforms(train_tables, CONFIG)
    apply_transforms(other, fitted)
    np.testing.assert_allclose(fitted.scaler.mean_, refit.scaler.mean_)


def test_robust_scaler(train_tables):
    fitted = fit_transforms(train_tables, TransformConfig(pca_dims={"clap": 4}, scaler_type="RobustScaler"))
    x, cols = apply_transforms(train_tables[0], fitted)
    assert np.isfinite(x).all() and type(fitted.scaler).__name__ == "RobustScaler"


def test_save_load_round_trip(tmp_path, train_tables):
    fitted = fit_transforms(train_tables, CONFIG)
    digest = fitted.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pca_clap.joblib", "scaler.joblib", "transforms.json"]
    meta = json.loads((tmp_path / "transforms.json").read_text())
    assert meta["digest"] == digest and len(digest) == 64
    assert set(meta["artifacts"]) == {"pca_clap.joblib", "scaler.joblib"}
    loaded = FittedTransforms.load(tmp_path)
    assert loaded.digest == digest and loaded.columns_out == fitted.columns_out
    a, _ = apply_transforms(train_tables[1], fitted)
    b, _ = apply_transforms(train_tables[1], loaded)
    np.testing.assert_array_equal(a, b)


def test_load_detects_tampering(tmp_path, train_tables):
    fit_transforms(train_tables, CONFIG).save(tmp_path)
    with open(tmp_path / "pca_clap.joblib", "ab") as f:
        f.write(b"x")
    with pytest.raises(PackageError, match="pca_clap.joblib.*does not match"):
        load(tmp_path)
    (tmp_path / "pca_clap.joblib").unlink()
    with pytest.raises(PackageError, match="missing"):
        load(tmp_path)
    meta = json.loads((tmp_path / "transforms.json").read_text())
    meta["n_train_rows"] = 1
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(PackageError, match="overall digest mismatch"):
        load(tmp_path)
    with pytest.raises(PackageError, match="not a transforms directory"):
        load(tmp_path / "nowhere")


def test_bad_input():
    with pytest.raises(ValidationError, match="at least one train"):
        fit_transforms([], CONFIG)
