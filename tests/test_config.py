import pytest

from reviewer.config import PipelineConfig, load_config
from reviewer.errors import ConfigError


def test_defaults_are_seed_000():
    c = PipelineConfig()
    assert (c.segments.segment_len, c.segments.hop) == (3.0, 1.5)
    assert (c.selection.max_seq_len, c.selection.k_start, c.selection.k_end) == (128, 16, 16)
    assert c.selection.importance_weights == {"rms": 0.6, "voiced_fraction": 0.4}
    assert c.transforms.pca_dims["clap"] == 128 and c.transforms.pca_dims["wav2vec"] == 64
    assert c.transforms.scaler_type == "StandardScaler"
    assert c.features.asr_confidence_threshold == 0.3
    assert c.package.storage_format == "npy+json" and c.package.dtype == "float32"


def test_toml_round_trip_and_digest_changes(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[segments]\nsegment_len = 5.0\nhop = 2.5\n[selection]\nmax_seq_len = 64\n")
    c = load_config(p)
    assert c.segments.segment_len == 5.0 and c.selection.max_seq_len == 64
    assert c.digest() != PipelineConfig().digest()
    assert PipelineConfig.from_dict(c.to_dict()) == c


def test_unknown_key_is_rejected(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[segments]\nsegment_length = 5.0\n")
    with pytest.raises(ConfigError, match="segments.segment_length"):
        load_config(p)


def test_unknown_section_is_rejected(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[segmentz]\nhop = 1\n")
    with pytest.raises(ConfigError, match="segmentz"):
        load_config(p)


def test_bad_values_name_the_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[selection]\nk_start = 100\nk_end = 100\n")
    with pytest.raises(ConfigError, match="k_start"):
        load_config(p)
