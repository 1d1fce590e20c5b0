"""Session 6 speed steps: each fast path equals the code it replaced, bit for bit, on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.detect import ssm


def _ranks_reference(S: np.ndarray) -> np.ndarray:
    """combine_affinities' rank normalisation before session 6 (a stable argsort of the floats)."""
    flat = S.ravel()
    r = np.empty(flat.size, np.float32)
    r[np.argsort(flat, kind="stable")] = np.linspace(0.0, 1.0, flat.size, dtype=np.float32)
    return r.reshape(S.shape)


def _smooth_reference(S: np.ndarray, width: int) -> np.ndarray:
    """diagonal_smooth before session 6 (window counts recomputed per matrix)."""
    if width <= 1:
        return S.astype(np.float32)
    m = S.shape[0]
    h0, h1 = width // 2, width - 1 - width // 2
    P = np.pad(S.astype(np.float32), ((h0, h1), (h0, h1)))
    ones = np.pad(np.ones((m, m), np.float32), ((h0, h1), (h0, h1)))
    acc = np.zeros((m, m), np.float32)
    cnt = np.zeros((m, m), np.float32)
    for d in range(width):
        acc += P[d:d + m, d:d + m]
        cnt += ones[d:d + m, d:d + m]
    return acc / np.maximum(cnt, 1.0)


@pytest.mark.parametrize("seed", range(6))
def test_rank_normalise_equals_stable_argsort_ranks(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 90))
    S = rng.standard_normal((m, m)).astype(np.float32)
    # many ties (coarse quantisation, a symmetric matrix), signed zeros, extremes and NaNs
    S = np.round(S * rng.choice([2.0, 8.0, 1000.0])) / 8.0
    S = ((S + S.T) / 2).astype(np.float32)
    flat = S.ravel()
    pick = rng.choice(flat.size, size=min(flat.size, 12), replace=False)
    flat[pick[:3]] = -0.0
    flat[pick[3:5]] = 0.0
    flat[pick[5:6]] = np.inf
    flat[pick[6:7]] = -np.inf
    if seed % 2:
        flat[pick[7:9]] = np.nan
        flat[pick[9:10]] = -np.float32(np.nan)
    flat[pick[10:12]] = np.float32(1e-45) * np.array([1, -1], np.float32)  # subnormals either side of 0
    got = ssm.rank_normalise(S)
    want = _ranks_reference(S)
    assert got.dtype == np.float32 and got.shape == S.shape
    assert np.array_equal(got, want)


def test_rank_normalise_float64_falls_back_to_the_same_ranks():
    S = np.random.default_rng(7).integers(0, 5, size=(30, 30)).astype(np.float64)
    assert np.array_equal(ssm.rank_normalise(S), _ranks_reference(S))


def test_combine_affinities_matches_the_reference_mix():
    rng = np.random.default_rng(3)
    a, b, c = (np.round(rng.random((40, 40), dtype=np.float32) * 20) / 20 for _ in range(3))
    got = ssm.combine_affinities(a, b, chroma_weight=0.75, loudness_S=c, loudness_weight=0.2)
    want = 0.75 * _ranks_reference(a) + 0.25 * _ranks_reference(b)
    want = 0.8 * want + 0.2 * _ranks_reference(c)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("m,width", [(1, 3), (5, 8), (37, 1), (37, 2), (64, 9), (120, 16)])
def test_diagonal_smooth_equals_reference(m, width):
    rng = np.random.default_rng(m * 100 + width)
    for _ in range(2):  # the second call reuses the cached window counts
        S = rng.random((m, m)).astype(np.float64 if width % 2 else np.float32)
        got = ssm.diagonal_smooth(S, width)
        assert got.dtype == np.float32
        assert np.array_equal(got, _smooth_reference(S, width))
