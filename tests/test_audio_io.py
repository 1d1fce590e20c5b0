import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from reviewer.audio_io import Audio, content_hash, iter_audio_blocks, load_audio, probe_duration
from reviewer.errors import InvalidMediaError


@pytest.mark.parametrize("ext,fmt", [("wav", None), ("flac", None), ("ogg", "OGG"), ("mp3", "MP3")])
def test_decodes_soundfile_formats_to_mono_float32(tmp_path, ext, fmt):
    sr = 44100
    t = np.arange(sr * 2) / sr
    y = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32)
    p = tmp_path / f"x.{ext}"
    sf.write(p, y, sr, format=fmt)
    a = load_audio(p, sr=16000)
    assert a.y.dtype == np.float32 and a.y.ndim == 1 and a.sr == 16000
    assert abs(a.duration - 2.0) < 0.06
    assert 0.1 < np.sqrt(np.mean(a.y**2)) < 0.3
    assert a.content_hash == content_hash(p)


def test_first_n_seconds_keeps_source_duration(wav_file):
    p = wav_file(duration=8.0)
    a = load_audio(p, sr=16000, max_seconds=3.0)
    assert abs(a.duration - 3.0) < 1e-3
    assert abs(a.source_duration - 8.0) < 0.01
    assert a.truncated


def test_blocks_are_exact_and_concatenate_to_whole(wav_file):
    p = wav_file(duration=25.0)
    blocks = list(iter_audio_blocks(p, sr=16000, block_seconds=10.0))
    assert [b.size for b in blocks[:-1]] == [160000, 160000]
    whole = load_audio(p, sr=16000).y
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-6)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_video_through_ffmpeg(tmp_path, wav_file):
    wav = wav_file(duration=3.0)
    mp4 = tmp_path / "v.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=3", "-i", str(wav),
         "-shortest", "-c:v", "libx264", "-c:a", "aac", str(mp4)],
        check=True,
    )
    a = load_audio(mp4, sr=16000)
    assert abs(a.duration - 3.0) < 0.1
    assert abs(probe_duration(mp4) - 3.0) < 0.1


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_video_without_audio_is_a_clear_error(tmp_path):
    mp4 = tmp_path / "silent_video.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-c:v", "libx264", str(mp4)], check=True)
    with pytest.raises(InvalidMediaError, match="no audio stream"):
        load_audio(mp4)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(InvalidMediaError, match=r"empty.*0 bytes"):
        load_audio(p)


def test_text_file_is_not_media(tmp_path):
    p = tmp_path / "notes.mp3"
    p.write_text("this is not audio at all\n" * 100)
    with pytest.raises(InvalidMediaError, match="notes.mp3"):
        load_audio(p)


def test_corrupt_wav_header(tmp_path, wav_file):
    p = wav_file(duration=1.0)
    data = bytearray(p.read_bytes())
    data[:12] = b"\x00" * 12
    p.write_bytes(bytes(data))
    with pytest.raises(InvalidMediaError, match="a.wav"):
        load_audio(p)


def test_zero_length_audio(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros((0,), dtype=np.float32), 16000)
    with pytest.raises(InvalidMediaError, match="zero"):
        load_audio(p)


def test_missing_file():
    with pytest.raises(InvalidMediaError, match="does not exist"):
        load_audio("/nonexistent/file.wav")


def test_audio_from_array_mixes_channels():
    a = Audio.from_array(np.ones((100, 2), dtype=np.float32), 1000)
    assert a.y.shape == (100,) and a.duration == pytest.approx(0.1)
