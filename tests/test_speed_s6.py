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


def _sync_reference(times, values, *, duration, resolution=0.5):
    """sync_frames before session 6 (np.add.at, then a per-step loop)."""
    times = np.asarray(times, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim == 1:
        vals = vals[:, None]
    m = max(1, int(np.ceil(duration / resolution - 1e-9)))
    idx = np.clip((times / resolution).astype(np.int64), 0, m - 1)
    out = np.zeros((m, vals.shape[1]))
    cnt = np.zeros(m)
    ok = np.all(np.isfinite(vals), axis=1)
    np.add.at(out, idx[ok], vals[ok])
    np.add.at(cnt, idx[ok], 1.0)
    for i in range(m):
        if cnt[i] > 0:
            out[i] /= cnt[i]
        elif i > 0:
            out[i] = out[i - 1]
    return np.arange(m) * resolution, out


@pytest.mark.parametrize("seed", range(40))
def test_sync_frames_equals_reference(seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, 2500)), int(rng.choice([1, 12, 20]))
    times = rng.random(n) * rng.uniform(1, 200)
    if seed % 3:
        times = np.sort(times)
    if seed % 5 == 0:
        times *= 0.3  # the grid's end has no frames: steps copied forward
    values = rng.standard_normal((n, d)).astype(np.float32)
    if d == 1 and seed % 2:
        values = values[:, 0]
    if seed % 4 == 0:
        values.reshape(n, -1)[rng.integers(0, n, 5), 0] = np.nan  # dropped frames
    dur, res = float(rng.uniform(0.5, 250)), float(rng.choice([0.25, 0.5, 1.0]))
    g0, p0 = _sync_reference(times, values, duration=dur, resolution=res)
    g1, p1 = ssm.sync_frames(times, values, duration=dur, resolution=res)
    assert np.array_equal(g0, g1) and p0.shape == p1.shape
    assert np.array_equal(p0, p1)


def _chroma_reference(chroma: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    X = chroma - chroma.mean(axis=1, keepdims=True) * 0.5
    X = np.maximum(X, 0.0)
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-8)
    best_S = np.full((X.shape[0],) * 2, -1.0, np.float32)
    best_k = np.zeros((X.shape[0],) * 2, np.int8)
    for k in range(12):
        Sk = _smooth_reference(np.clip(X @ np.roll(X, k, axis=1).T, 0.0, 1.0), width)
        if k:
            Sk *= 0.97
        upd = Sk > best_S
        best_S[upd] = Sk[upd]
        best_k[upd] = k if k <= 6 else k - 12
    return best_S, best_k


def test_chroma_affinity_equals_reference():
    rng = np.random.default_rng(11)
    base = rng.random((24, 12))
    chroma = np.concatenate([base, np.roll(base, 2, axis=1), rng.random((30, 12)), base])  # a key change
    S, k = ssm.chroma_affinity(chroma, width=4)
    S0, k0 = _chroma_reference(chroma, 4)
    assert np.array_equal(S, S0) and np.array_equal(k, k0)
    assert (k == 2).any()


def _novelty_reference(S: np.ndarray, *, half: int) -> np.ndarray:
    """novelty before session 6 (one window at a time; the kernel and padding unchanged)."""
    m = S.shape[0]
    half, K, P = ssm.novelty_kernel(S, half)
    nov = np.array([float(np.sum(P[i:i + 2 * half, i:i + 2 * half] * K)) for i in range(m)])
    nov = np.maximum(nov, 0.0)
    return nov / nov.max() if nov.max() > 0 else nov


@pytest.mark.parametrize("seed", range(12))
def test_novelty_equals_reference(seed):
    rng = np.random.default_rng(seed)
    m, half = int(rng.integers(2, 400)), int(rng.integers(1, 12))
    S = rng.random((m, m)).astype(np.float32 if seed % 2 else np.float64)
    S[: m // 3, : m // 3] += 1.0  # a section boundary
    got, want = ssm.novelty(S, half=half), _novelty_reference(S, half=half)
    assert got.shape == (m,) and np.array_equal(got, want)


def test_rank_normalise_same_size_twice_gives_fresh_equal_ranks():
    rng = np.random.default_rng(5)
    a, b = (rng.random((25, 25), dtype=np.float32) for _ in range(2))
    ra, rb = ssm.rank_normalise(a), ssm.rank_normalise(b)  # the second reuses the cached rank values
    ra[:] = 0.0  # a caller may write into its ranks
    assert np.array_equal(rb, _ranks_reference(b))
    assert np.array_equal(ssm.rank_normalise(a), _ranks_reference(a))
