"""Nets, checkpoints and the registry: shapes with masks, exact rebuilds, refusals, windowed scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reviewer.aggregate import SegmentTable
from reviewer.config import TransformConfig
from reviewer.errors import ConfigError, PackageError, ValidationError
from reviewer.models.audio_transformer import POOLINGS, POS_ENCODINGS, AudioTransformer, AudioTransformerConfig
from reviewer.models.checkpoint import build_net, check_feature_names, load_checkpoint, model_inputs, save_checkpoint
from reviewer.models.crnn import CRNN, CRNNConfig
from reviewer.models.registry import load_active_scorer, load_scorer, window_starts
from reviewer.models.scorer import SegmentScorer
from reviewer.segments import make_segments
from reviewer.transforms import fit_transforms


def synth_table(duration: float, *, seed: int = 0, columns: tuple[str, ...] = ("rms_mean", "voiced_fraction", "x1")) -> SegmentTable:
    segs = make_segments(duration, 3.0, 1.5)
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((len(segs), len(columns))).astype(np.float32)
    groups = {c: (c,) for c in columns}
    return SegmentTable(segments=segs, columns=columns, values=values, groups=groups,
                        missing=np.zeros((len(segs), len(columns)), bool), missing_reasons={c: None for c in columns})


@pytest.mark.parametrize("pos", POS_ENCODINGS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_transformer_shapes_and_padding_invariance(pos, pooling):
    torch.manual_seed(0)
    net = AudioTransformer(AudioTransformerConfig(input_dim=6, d_model=32, n_heads=4, max_seq_len=24, pos_encoding=pos,
                                                  pooling=pooling, heads=("intro", "chorus"), track_regression=True)).eval()
    x = torch.randn(2, 20, 6)
    mask = torch.ones(2, 20, dtype=torch.bool)
    mask[1, 13:] = False
    out = net(x, mask)
    assert out["segment"].shape == (2, 20, 2) and out["track"].shape == (2,)
    alone = net(x[1:2, :13])
    torch.testing.assert_close(out["segment"][1, :13], alone["segment"][0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out["track"][1], alone["track"][0], atol=1e-5, rtol=1e-4)
    x2 = x.clone()
    x2[1, 13:] = 1e3  # garbage in padded steps changes nothing
    torch.testing.assert_close(net(x2, mask)["segment"][1, :13], out["segment"][1, :13], atol=1e-5, rtol=1e-4)


def test_crnn_shapes_and_padding_invariance():
    torch.manual_seed(0)
    net = CRNN(CRNNConfig(input_dim=6, conv_channels=8, gru_hidden=8, max_seq_len=32)).eval()
    x = torch.randn(3, 20, 6)
    mask = torch.ones(3, 20, dtype=torch.bool)
    mask[2, 7:] = False
    out = net(x, mask)["segment"]
    assert out.shape == (3, 20, 1)
    torch.testing.assert_close(out[2, :7], net(x[2:3, :7])["segment"][0], atol=1e-6, rtol=1e-5)


def test_bad_inputs_and_configs_are_refused():
    net = AudioTransformer(AudioTransformerConfig(input_dim=4, d_model=16, n_heads=2, max_seq_len=8))
    with pytest.raises(ValidationError, match="shape"):
        net(torch.randn(1, 5, 3))
    with pytest.raises(ValidationError, match="max_seq_len"):
        net(torch.randn(1, 9, 4))
    with pytest.raises(ValidationError, match="at least one real segment"):
        net(torch.randn(1, 5, 4), torch.zeros(1, 5, dtype=torch.bool))
    with pytest.raises(ConfigError, match="divisible"):
        AudioTransformerConfig(input_dim=4, d_model=10, n_heads=3)
    with pytest.raises(ConfigError, match="kernel_size"):
        CRNNConfig(input_dim=4, kernel_size=4)
    with pytest.raises(ValidationError, match="prefix"):
        CRNN(CRNNConfig(input_dim=4))(torch.randn(1, 4, 4), torch.tensor([[True, False, True, True]]))


def _checkpoint(tmp_path, arch="transformer", net_cfg=None, max_seq_len=16, overlap=4):
    tables = [synth_table(60.0, seed=i) for i in range(3)]
    tf = fit_transforms(tables, TransformConfig(pca_dims={}, per_file_columns=()))
    x, names = model_inputs(tables[0], tf, time_features=True)
    cfg = {"input_dim": x.shape[1], "max_seq_len": max_seq_len, "heads": ["intro"], **(net_cfg or {})}
    torch.manual_seed(1)
    net = build_net(arch, cfg)
    inputs = {"segment_len": 3.0, "hop": 1.5, "max_seq_len": max_seq_len, "overlap": overlap, "sequence": "windows",
              "time_features": True}
    out = save_checkpoint(tmp_path / "ck", net=net, arch=arch, task="intro", transforms=tf, feature_names=names,
                          config_digest="abc", inputs=inputs, model_version="intro-test-1", metrics={"f1": np.float32(0.5)})
    return out, net, tables


@pytest.mark.parametrize("arch,net_cfg", [("transformer", {"d_model": 32, "n_heads": 4}), ("crnn", {"conv_channels": 8})])
def test_checkpoint_round_trip_rebuilds_identical_outputs(tmp_path, arch, net_cfg):
    out, net, tables = _checkpoint(tmp_path, arch, net_cfg)
    loaded = load_checkpoint(out)
    assert loaded.checkpoint.metrics == {"f1": 0.5} and loaded.checkpoint.config_digest == "abc"
    assert (out / "model.pt").stat().st_size < 5 * 1024 * 1024
    x = torch.randn(2, 16, loaded.checkpoint.net_config["input_dim"])
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.net(x)["segment"], net(x)["segment"], atol=0, rtol=0)


def test_scorer_scores_every_segment_of_long_items(tmp_path):
    out, net, tables = _checkpoint(tmp_path, max_seq_len=16, overlap=4)
    scorer = load_scorer(out)
    assert isinstance(scorer, SegmentScorer) and scorer.task == "intro" and scorer.model_version == "intro-test-1"
    assert load_scorer(out / "model.pt") is scorer  # cached by path
    long_table = synth_table(100.0, seed=5)  # 65 segments > 16
    p = scorer.score(long_table)
    assert p.shape == (len(long_table),) and p.dtype == np.float32
    assert np.all((p >= 0) & (p <= 1)) and np.isfinite(p).all()
    short = synth_table(12.0, seed=6)
    assert scorer.score(short).shape == (len(short),)


def test_window_starts_cover_everything():
    for n in (1, 16, 17, 40, 65):
        starts = window_starts(n, 16, 4)
        covered = np.zeros(n, bool)
        for s in starts:
            covered[s : s + 16] = True
        assert covered.all() and starts[-1] + min(16, n) == n


def test_mismatched_tables_are_refused(tmp_path):
    out, _, _ = _checkpoint(tmp_path)
    scorer = load_scorer(out)
    with pytest.raises(ValidationError, match="lacks"):
        scorer.score(synth_table(30.0, columns=("rms_mean", "voiced_fraction", "x2")))
    # extra columns are ignored: the net reads the transform outputs only
    assert scorer.score(synth_table(30.0, columns=("rms_mean", "voiced_fraction", "x1", "x3"))).shape == (19,)
    names = scorer.model.checkpoint.feature_names
    with pytest.raises(ValidationError, match="feature names do not match"):
        check_feature_names(names[::-1], scorer.model.checkpoint)
    with pytest.raises(ValidationError, match="feature names do not match"):
        check_feature_names(names[:-1], scorer.model.checkpoint)
    segs = make_segments(30.0, 5.0, 2.5)
    cols = ("rms_mean", "voiced_fraction", "x1")
    other = SegmentTable(segments=segs, columns=cols, values=np.zeros((len(segs), 3), np.float32),
                         groups={c: (c,) for c in cols}, missing=np.zeros((len(segs), 3), bool),
                         missing_reasons={c: None for c in cols})
    with pytest.raises(ValidationError, match="segment_len"):
        scorer.score(other)


def test_tampered_checkpoint_is_refused(tmp_path):
    out, _, _ = _checkpoint(tmp_path)
    with pytest.raises(PackageError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nowhere")
    (out / "transforms" / "transforms.json").write_text("{}", encoding="utf-8")
    with pytest.raises(PackageError):
        load_checkpoint(out)


def test_registry_returns_none_without_active_model(settings):
    from reviewer import store

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    assert load_active_scorer("intro", engine=engine, settings=settings) is None
    with store.session_scope(engine) as s:
        store.add_model_version(session=s, task="intro", name="transformer", version="v1",
                                path=str(settings.models_dir / "gone"), activate=True)
    assert load_active_scorer("intro", engine=engine, settings=settings) is None  # checkpoint missing → None
