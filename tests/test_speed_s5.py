"""Session 5 speed work on the alignment: the fast paths give the results of the computations they replace."""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.detect import align

SR = align.SR


def _tune(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Harmonic notes (0.25 s each) over a kick on every other note."""
    n = int(seconds * SR)
    y = np.zeros(n, np.float32)
    t = np.arange(int(0.25 * SR)) / SR
    env = np.exp(-t * 6)
    scale = np.array([0, 2, 3, 5, 7, 8, 10, 12, 14, 15])
    for k, start in enumerate(range(0, n - t.size, t.size)):
        f = 220.0 * 2 ** (scale[rng.integers(scale.size)] / 12)
        y[start : start + t.size] += (sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3)) * env).astype(np.float32)
        if k % 2 == 0:
            y[start : start + 400] += (rng.standard_normal(400) * np.exp(-np.arange(400) / 60)).astype(np.float32)
    return 0.1 * y / (np.sqrt(np.mean(y**2)) + 1e-9)


def _noise(rng: np.random.Generator, seconds: float, level: float = 0.02) -> np.ndarray:
    return (level * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def _silence(seconds: float) -> np.ndarray:
    return (1e-5 * np.random.default_rng(0).standard_normal(int(seconds * SR))).astype(np.float32)


@pytest.fixture(scope="module")
def pair():
    """Two episodes sharing a theme (B's copy 2 % faster, quieter), with silences (zero profile rows) in both."""
    from scipy import signal

    rng = np.random.default_rng(21)
    theme = _tune(np.random.default_rng(22), 24.0)
    fast = signal.resample_poly(theme, 50, 51).astype(np.float32) * 0.4
    a = np.concatenate([_noise(rng, 8), _silence(3), theme, _silence(2), _tune(rng, 10), _noise(rng, 6)])
    b = np.concatenate([_silence(4), _tune(rng, 6), fast, _silence(6), _noise(rng, 9)])
    return align.spectral_profile(a, SR), align.spectral_profile(b, SR)


def _exact_scores(fc, p, base, offs, q):
    zb = align._sample(p, (base[None, :] + offs[:, None]).ravel(), q=q).reshape(offs.size, base.size, -1)
    return np.einsum("ij,oij->o", fc, zb) / base.size


def test_offset_scores_are_the_exact_scores_within_their_bound(pair):
    pa, pb = pair
    fa = align._central(pa.fine)
    n = pb.fine.shape[0]
    rng = np.random.default_rng(3)
    worst = 0.0
    for k in range(60):
        q = float(rng.uniform(0.95, 1.06))
        core = np.sort(rng.choice(fa.shape[0], size=int(rng.integers(4, 300)), replace=False))
        # B positions along a diagonal, some of them off either end of B (rows outside are zero)
        start = float(rng.uniform(-40, n + 20)) if k % 3 == 0 else float(rng.uniform(0, n - 1))
        base = start + (core - core[0]) * q + float(rng.uniform(0, 1))
        step = 1 if k % 2 else 2
        w = int(rng.integers(2, 20))
        offs = np.arange(-w, w + 1, step)
        got, bound = align._offset_scores(fa[core], pb, base, offs, q=q)
        want = _exact_scores(fa[core], pb, base, offs, q)
        assert got.shape == want.shape == bound.shape
        assert np.all(np.abs(got - want) <= bound), (k, np.max(np.abs(got - want) - bound))
        worst = max(worst, float(np.max(np.abs(got - want))))
    assert worst < align.SCORE_TOL / 4  # the bound has a wide margin over the actual error
    assert worst > 0.0  # a different summation: not bit-identical, hence the exact tie-break


def _exhaustive(monkeypatch):
    """Make every ratio of refine's search a near-tie: the search runs the exact computation on all of them."""
    monkeypatch.setattr(align, "_offset_scores",
                        lambda fc, p, base, offs, *, q: (np.zeros(offs.size), np.full(offs.size, np.inf)))


def test_refine_equals_the_exhaustive_exact_search(pair, monkeypatch):
    pa, pb = pair
    cfg = align.AlignConfig()
    coarse = align.coarse_matches(pa, pb, config=cfg)
    assert coarse, "the shared theme must give coarse matches"
    # the coarse matches, and the same matches moved onto silences / off the ends (ties at zero similarity)
    cases = list(coarse)
    for m in coarse[:3]:
        for shift in (-20.0, 15.0, pb.duration - m.b_start - 2.0):
            cases.append(align.Match(m.a_start, m.a_end, m.b_start + shift, m.b_end + shift, m.ratio, m.score))
    kw = [dict(), dict(search=align.SUB_SEARCH, ratio_search=align.SUB_RATIO, ratio_step=0.01, frames=60, search_step=2),
          dict(search=0.25)]
    fast = [align.refine(pa, pb, m, config=cfg, **k) for m in cases for k in kw]
    fast_pairs = align.match_pair(pa, pb, config=cfg)
    _exhaustive(monkeypatch)
    slow = [align.refine(pa, pb, m, config=cfg, **k) for m in cases for k in kw]
    assert fast == slow
    assert align.match_pair(pa, pb, config=cfg) == fast_pairs
    assert any(abs(m.ratio - 50 / 51) < 0.011 and m.length > 15 for m in fast_pairs), fast_pairs


def _normalise_reference(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-6)).astype(np.float32)


def _shifted_reference(x: np.ndarray, q: float) -> np.ndarray:
    """The old band-shifted profile: every row blended between neighbouring bands, then normalised."""
    k = x.shape[1]
    src = np.arange(align.MARGIN, k - align.MARGIN) - align.BPO * np.log2(q)
    j0 = np.clip(np.floor(src).astype(int), 0, k - 1)
    j1 = np.clip(j0 + 1, 0, k - 1)
    v = (src - j0).astype(np.float32)
    return _normalise_reference(x[:, j0] * (1 - v) + x[:, j1] * v)


def test_shifted_profile_is_bitwise_the_blend_it_replaces(pair):
    _, pb = pair
    for q in (1.0, 0.97, 1.0201, 1.0612):
        want = _shifted_reference(pb.fine, q)
        got = align._shifted(pb, q)
        assert got.dtype == np.float32 and np.array_equal(got, want)


def test_normalise_in_place_is_bitwise_the_copying_one():
    rng = np.random.default_rng(5)
    for order in ("C", "F"):
        x = np.asarray(rng.standard_normal((300, 59)), dtype=np.float32, order=order)
        x[7] = 0.0
        want = _normalise_reference(x)
        assert np.array_equal(align._normalise(x.copy(order=order)), want)
        y = x.copy(order=order)
        assert np.array_equal(align._normalise(y, inplace=True), want)
    x64 = rng.standard_normal((50, 20))
    assert np.array_equal(align._normalise(x64), _normalise_reference(x64))


@pytest.mark.parametrize("n", [5, align.SHIFT_BLOCK + 1, 3 * align.SHIFT_BLOCK + 7, 4 * align.SHIFT_BLOCK])
def test_shifted_rows_computed_by_blocks_are_bitwise_the_whole_matrix(n):
    rng = np.random.default_rng(n)
    fine = align._normalise(rng.standard_normal((n, 63)).astype(np.float32))
    fine[rng.random(n) < 0.1] = 0.0
    for q in (0.981, 1.0, 1.043):
        want = _shifted_reference(fine, q)
        sh = align._ShiftedRows(fine, q)
        for lo in rng.integers(-3, n + 3, size=6):  # a few windows in random order, some off the ends
            sh.rows(lo, lo + int(rng.integers(1, 40)))
        done = np.repeat(sh.done, align.SHIFT_BLOCK)[:n]
        assert np.array_equal(sh.x[done], want[done])
        nn = np.einsum("ij,ij->i", want, want)
        nb = np.append(np.einsum("ij,ij->i", want[:-1], want[1:]), nn[-1])
        assert np.allclose(sh.nn[done], nn[done], atol=1e-6) and np.allclose(sh.nb[done], nb[done], atol=1e-6)
        assert np.array_equal(sh.rows(0, n).x, want) and sh.done.all()
