"""Embedding extractors: missing markers without a model, and the real local loading path
with tiny randomly initialised transformers models saved into a temporary folder."""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.audio_io import Audio
from reviewer.config import AudioConfig, FeaturesConfig
from reviewer.features.embeddings import emotion_row, pool_to_grid
from reviewer.features.run import extract_tracks
from reviewer.settings import Settings

SR = 16000


def _settings(tmp_path, **paths) -> Settings:
    return Settings(home=tmp_path, data_dir=tmp_path / "data", db_url="sqlite://", **paths)


def _audio(seconds: float, *, seed: int = 0) -> Audio:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    return Audio.from_array(y.astype(np.float32), SR)


def _run(audio, settings, names, *, block_seconds=300.0):
    return extract_tracks(
        audio, audio_config=AudioConfig(block_seconds=block_seconds), features_config=FeaturesConfig(), settings=settings, names=names
    )


@pytest.mark.parametrize("name", ["wav2vec", "clap", "whisper", "emotion"])
def test_missing_without_configured_model(tmp_path, name):
    res = _run(_audio(2.0), _settings(tmp_path), [name])
    track = res.tracks[name]
    assert track.is_missing
    assert f"REVIEWER_{name.upper()}_PATH" in track.missing
    assert track.values.size == 0


def test_missing_when_folder_holds_no_model(tmp_path):
    bad = tmp_path / "empty_model"
    bad.mkdir()
    res = _run(_audio(2.0), _settings(tmp_path, wav2vec_path=bad), ["wav2vec"])
    assert res.tracks["wav2vec"].is_missing
    assert "cannot load" in res.tracks["wav2vec"].missing


def test_missing_when_path_is_not_a_folder(tmp_path):
    res = _run(_audio(2.0), _settings(tmp_path, whisper_path=tmp_path / "nope"), ["whisper"])
    assert "is not a folder" in res.tracks["whisper"].missing


def test_pool_to_grid_means_cells():
    states = np.arange(10, dtype=np.float32)[:, None]  # 10 states of 0.1 s from t=0.2
    times, values = pool_to_grid(states, t_first=0.2, step=0.1, cell=0.5, t_end=1.2)
    np.testing.assert_allclose(times, [0.25, 0.75, 1.25])
    np.testing.assert_allclose(values[:, 0], [1.0, 5.0, 8.5])


def test_emotion_row_never_invents_dimensions():
    row = emotion_row(np.array([2.0, 0.0, 0.0]), ["happy", "sad", "angry"])
    assert np.isnan(row[0]) and np.isnan(row[1])
    assert 0.33 < row[2] <= 1.0
    row = emotion_row(np.array([0.4, -0.2]), ["valence", "arousal"])
    np.testing.assert_allclose(row[:2], [0.4, -0.2], rtol=1e-6)
    assert np.isnan(row[2])


@pytest.fixture(scope="module")
def tiny_wav2vec(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    cfg = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8, 8, 8, 8, 8, 8, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        vocab_size=10,
    )
    path = tmp_path_factory.mktemp("tiny_wav2vec")
    Wav2Vec2Model(cfg).save_pretrained(path)
    Wav2Vec2FeatureExtractor(sampling_rate=SR, do_normalize=True).save_pretrained(path)
    return path


def test_wav2vec_loads_local_tiny_model(tmp_path, tiny_wav2vec):
    settings = _settings(tmp_path, wav2vec_path=tiny_wav2vec)
    res = _run(_audio(12.3), settings, ["wav2vec"])
    tr = res.tracks["wav2vec"]
    assert not tr.is_missing, tr.missing
    assert tr.values.shape[1] == 16
    np.testing.assert_allclose(np.diff(tr.times), 0.5)
    assert tr.times[0] == pytest.approx(0.25)
    assert tr.times[-1] < 12.3
    assert len(tr.times) in (24, 25)
    assert np.isfinite(tr.values).all()
    assert tr.meta["model"]


def test_wav2vec_blocks_match_whole_file(tmp_path, tiny_wav2vec):
    settings = _settings(tmp_path, wav2vec_path=tiny_wav2vec)
    audio = _audio(25.0, seed=3)
    whole = _run(audio, settings, ["wav2vec"]).tracks["wav2vec"]
    blocks = _run(audio, settings, ["wav2vec"], block_seconds=10.0).tracks["wav2vec"]
    np.testing.assert_allclose(blocks.times, whole.times)
    assert blocks.values.shape == whole.values.shape


def test_whisper_loads_local_tiny_model(tmp_path):
    torch = pytest.importorskip("torch")
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    torch.manual_seed(0)
    cfg = WhisperConfig(
        vocab_size=100,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_mel_bins=80,
        max_source_positions=1500,
        max_target_positions=32,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    path = tmp_path / "tiny_whisper"
    WhisperModel(cfg).save_pretrained(path)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(path)
    res = _run(_audio(4.2), _settings(tmp_path, whisper_path=path), ["whisper"])
    tr = res.tracks["whisper"]
    assert not tr.is_missing, tr.missing
    assert tr.values.shape == (9, 16)  # 4.2 s → cells [0, 0.5), ..., [4.0, 4.5)
    assert np.isfinite(tr.values).all()


def test_clap_loads_local_tiny_model(tmp_path):
    torch = pytest.importorskip("torch")
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    torch.manual_seed(0)
    audio_cfg = ClapAudioConfig(
        hidden_size=32,
        depths=[1, 1],
        num_attention_heads=[2, 2],
        patch_embeds_hidden_size=16,
        enable_fusion=True,
        projection_dim=8,
        num_mel_bins=64,
        spec_size=256,
        window_size=8,
    )
    text_cfg = ClapTextConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, projection_dim=8)
    cfg = ClapConfig(text_config=text_cfg.to_dict(), audio_config=audio_cfg.to_dict(), projection_dim=8)
    path = tmp_path / "tiny_clap"
    ClapModel(cfg).save_pretrained(path)
    ClapFeatureExtractor(feature_size=64, max_length_s=3).save_pretrained(path)
    res = _run(_audio(6.0), _settings(tmp_path, clap_path=path), ["clap"])
    tr = res.tracks["clap"]
    assert not tr.is_missing, tr.missing
    np.testing.assert_allclose(tr.times, [1.5, 3.0, 4.5])
    assert tr.values.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(tr.values, axis=1), 1.0, rtol=1e-4)


def test_emotion_loads_local_tiny_classifier(tmp_path, tiny_wav2vec):
    torch = pytest.importorskip("torch")
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    cfg = Wav2Vec2Config.from_pretrained(tiny_wav2vec)
    cfg.num_labels = 3
    cfg.id2label = {0: "happy", 1: "sad", 2: "angry"}
    cfg.label2id = {v: k for k, v in cfg.id2label.items()}
    cfg.classifier_proj_size = 8
    path = tmp_path / "tiny_emotion"
    Wav2Vec2ForSequenceClassification(cfg).save_pretrained(path)
    Wav2Vec2FeatureExtractor(sampling_rate=SR).save_pretrained(path)
    tr = _run(_audio(4.5), _settings(tmp_path, emotion_path=path), ["emotion"]).tracks["emotion"]
    assert not tr.is_missing, tr.missing
    np.testing.assert_allclose(tr.times, [1.5, 3.0])
    assert tr.values.shape == (2, 3)
    assert np.isnan(tr.values[:, :2]).all()  # a categorical model has no valence/arousal: never invented
    assert ((tr.values[:, 2] >= 1 / 3) & (tr.values[:, 2] <= 1)).all()
    assert tr.labels == ("valence", "arousal", "dominant_confidence")
