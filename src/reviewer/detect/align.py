"""Cross-episode alignment on a gain-, codec- and speed-tolerant spectral profile.

Two episodes share their opening theme even when one copy is quieter, faded,
passed through a lossy codec, shortened, talked over or played 1–3 % faster
(tape style: the pitch follows the speed). This module finds such shared
regions:

1. :func:`spectral_profile` — log energy in semitone bands (130 Hz – 3.8 kHz),
   each frame centred and L2-normalised (gain and fades cancel), minus the
   episode's long-term band profile (EQ / codec colour cancel). A *fine* profile
   at 50 ms and a *coarse* one at 0.5 s (mean of 10 fine frames).
2. :func:`match_pair` — for a grid of speed ratios ``q`` the second profile is
   resampled in time by ``q`` and shifted by ``12·log2(q)`` semitones (a tape
   speed change is a shift on a log-frequency axis), the coarse similarity
   matrix is smoothed along its diagonals and runs above a threshold become
   :class:`Match` records; each is then refined on the fine profile (offset,
   ratio, and both ends by a hysteresis walk along the matched diagonal).

Times are seconds from the start of each episode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from reviewer.detect.fingerprint import runs_in_diagonals
from reviewer.errors import ValidationError

log = logging.getLogger(__name__)

SR = 8000
N_FFT = 1024
HOP = 400  # 50 ms
COARSE = 10  # fine frames per coarse frame (0.5 s)
FMIN, FMAX = 130.0, 3800.0
BPO = 12  # bands per octave
MARGIN = 2  # extra bands each side so a shift of up to ±2 semitones stays inside


@dataclass(frozen=True)
class Profile:
    """The spectral profile of one episode (or its first N seconds).

    Attributes
    ----------
    fine : np.ndarray [shape=(n, K + 2·MARGIN), float32]
        Log band energies (semitone bands), frame-centred, long-term profile removed, 50 ms hop.
    coarse : np.ndarray [shape=(n // 10, K + 2·MARGIN), float32]
        Mean of 10 fine frames (0.5 s hop), same normalisation.
    level_db : np.ndarray [shape=(n,), float32]
        Frame energy in dB (for silences and musicality).
    flux : np.ndarray [shape=(n,), float32]
        Positive spectral flux (onset strength) per fine frame.
    duration : float
        Seconds of audio analysed.
    """

    fine: np.ndarray
    coarse: np.ndarray
    level_db: np.ndarray
    flux: np.ndarray
    duration: float
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def derived(self, key, make):
        """A representation derived from this profile, computed once (per episode, not per pair)."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    @property
    def hop(self) -> float:
        """Fine hop in seconds."""
        return HOP / SR

    @property
    def coarse_hop(self) -> float:
        """Coarse hop in seconds."""
        return HOP * COARSE / SR


@dataclass(frozen=True)
class Match:
    """One region shared by episodes A and B.

    ``b(t) = b_start + (t - a_start) · ratio`` maps A's time to B's inside the match.
    """

    a_start: float
    a_end: float
    b_start: float
    b_end: float
    ratio: float
    score: float

    @property
    def length(self) -> float:
        """Seconds on A's side."""
        return self.a_end - self.a_start

    def swapped(self) -> "Match":
        """The same match seen from B."""
        return Match(self.b_start, self.b_end, self.a_start, self.a_end, 1.0 / self.ratio, self.score)


def _band_matrix(sr: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangular semitone filters on the FFT bins: (K, n_fft // 2 + 1) and their centre frequencies."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    lo = FMIN * 2.0 ** (-MARGIN / BPO)
    n_bands = int(np.floor(BPO * np.log2(FMAX / FMIN))) + 1 + 2 * MARGIN
    centres = lo * 2.0 ** (np.arange(-1, n_bands + 1) / BPO)
    fb = np.zeros((n_bands, freqs.size), np.float32)
    for k in range(n_bands):
        l, c, r = centres[k], centres[k + 1], centres[k + 2]
        up = (freqs - l) / (c - l)
        down = (r - freqs) / (r - c)
        fb[k] = np.maximum(0.0, np.minimum(up, down))
        if fb[k].sum() == 0:  # narrower than one FFT bin: take the nearest bin
            fb[k, int(np.argmin(np.abs(freqs - c)))] = 1.0
        fb[k] /= fb[k].sum()
    return fb, centres[1:-1]


_FB = None


def _normalise(x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Rows centred and scaled to unit norm (float32); ``inplace`` reuses ``x`` (a float32 array the caller owns)."""
    if inplace and x.dtype == np.float32:
        x -= x.mean(axis=1, keepdims=True)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)
        return x
    x = x - x.mean(axis=1, keepdims=True)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-6)).astype(np.float32, copy=False)


def spectral_profile(y: np.ndarray, sr: int) -> Profile:
    """The alignment representation of one recording.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), float32]
        Mono samples; must be at :data:`SR` (8 kHz) — use ``load_audio(path, sr=align.SR)``.
    sr : int
        Sample rate in Hz (checked).

    Returns
    -------
    Profile
    """
    global _FB
    if sr != SR:
        raise ValidationError(f"spectral_profile needs audio at {SR} Hz, got sr={sr} (load with sr=align.SR)")
    y = np.asarray(y, dtype=np.float32)
    if y.size < N_FFT:
        raise ValidationError(f"need at least {N_FFT} samples ({N_FFT / SR:.3f} s) to align, got {y.size}")
    if _FB is None:
        _FB = _band_matrix(SR, N_FFT)[0]
    n = 1 + (y.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(y, N_FFT)[::HOP][:n]
    win = np.hanning(N_FFT).astype(np.float32)
    import scipy.fft

    spec = np.abs(scipy.fft.rfft(frames * win, axis=1)) ** 2  # float32 in, complex64 out
    bands = spec @ _FB.T  # (n, K)
    total = spec.sum(axis=1)
    level_db = (10.0 * np.log10(total / N_FFT + 1e-10)).astype(np.float32)
    # spectral subtraction of the stationary floor (room tone, hiss): two episodes'
    # backgrounds of the same colour must not look alike
    floor = np.percentile(bands, 10, axis=0, keepdims=True)
    logb = np.log(np.maximum(bands - 1.5 * floor, 0.0) + 0.05 * floor + 1e-10)
    flux = np.maximum(0.0, np.diff(logb, axis=0, prepend=logb[:1])).mean(axis=1).astype(np.float32)
    x = logb - logb.mean(axis=1, keepdims=True)
    x = x - np.median(x, axis=0, keepdims=True)
    # frames at the noise floor carry no identity: zero them (similarity 0 with anything)
    active = (bands > 2.0 * floor).mean(axis=1) >= 0.2
    fine = _normalise(x)
    fine[~active] = 0.0
    m = n // COARSE
    if m:
        xc = (x[: m * COARSE] * active[: m * COARSE, None]).reshape(m, COARSE, -1).sum(axis=1)
        cnt = active[: m * COARSE].reshape(m, COARSE).sum(axis=1)
        coarse = _normalise(xc / np.maximum(cnt, 1)[:, None])
        coarse[cnt < COARSE // 3] = 0.0
    else:
        coarse = np.zeros((0, x.shape[1]), np.float32)
    return Profile(fine=fine, coarse=coarse, level_db=level_db, flux=flux, duration=y.size / SR)


def _warp(x: np.ndarray, *, q: float, shift: bool = True) -> np.ndarray:
    """Resample frames by ratio ``q`` in time (row k ↦ time k·q) and shift bands by 12·log2(q).

    Returns (m, K - 2·MARGIN): the central bands only.
    """
    n, k = x.shape
    m = int(np.floor((n - 1) / q)) + 1
    pos = np.arange(m) * q
    i0 = np.clip(np.floor(pos).astype(int), 0, n - 1)
    i1 = np.clip(i0 + 1, 0, n - 1)
    w = (pos - i0)[:, None].astype(np.float32)
    z = x[i0] * (1 - w) + x[i1] * w
    s = BPO * np.log2(q) if shift else 0.0
    # B's band b at A's band b: content at A-frequency f sits at f / q in B, i.e. s bands lower
    src = np.arange(MARGIN, k - MARGIN) - s
    j0 = np.clip(np.floor(src).astype(int), 0, k - 1)
    j1 = np.clip(j0 + 1, 0, k - 1)
    v = (src - j0).astype(np.float32)
    out = z[:, j0] * (1 - v) + z[:, j1] * v
    return _normalise(out)


def _central(x: np.ndarray) -> np.ndarray:
    return _normalise(x[:, MARGIN:-MARGIN])


def diagonal_runs(sim: np.ndarray, *, smooth: int, threshold: float, min_len: int) -> list[tuple[int, int, int, float]]:
    """Runs along the diagonals of a similarity matrix whose moving average exceeds a threshold.

    Parameters
    ----------
    sim : np.ndarray [shape=(n, m)]
        Frame similarities (A rows, B columns).
    smooth : int
        Moving-average length in frames along each diagonal.
    threshold : float
        Minimum smoothed similarity.
    min_len : int
        Minimum run length in frames.

    Returns
    -------
    list of (i0, i1, d, mean)
        A-frames ``[i0, i1)`` matched to B-frames ``[i0 + d, i1 + d)`` and the mean similarity.
    """
    n, m = sim.shape
    if n == 0 or m == 0:
        return []
    rows = np.arange(n)[:, None]
    cols = np.arange(m)[None, :] + (n - 1) - rows
    diag = np.full((n + m - 1, n), -1.0, np.float32)  # [d + n - 1, i] = sim[i, i + d]
    diag[cols, np.broadcast_to(rows, cols.shape)] = sim
    return runs_in_diagonals(diag, np.arange(-(n - 1), m), smooth=smooth, threshold=threshold, min_len=min_len,
                             dtype=np.float32)


@dataclass(frozen=True)
class AlignConfig:
    """Search parameters of :func:`match_pair` (seconds unless said otherwise).

    Attributes
    ----------
    max_ratio : float
        Largest speed ratio between two copies searched (1.07 covers ±3 % each way).
    ratio_step : float
        Grid step of the coarse ratio search.
    threshold : float
        Minimum diagonal-smoothed cosine similarity of a coarse run.
    smooth : float
        Diagonal smoothing length.
    min_match : float
        Shortest run kept.
    low : float
        Hysteresis threshold when the fine walk extends a match outward.
    max_extend : float
        How far the fine walk may extend a coarse run at each end.
    min_score : float
        Minimum mean fine similarity of a refined match.
    candidates : int
        Diagonals per speed ratio kept by the vote of the coarse pre-filter (each with its two neighbours).
    refine_frames : int
        Fine frames (spread over the match) used by the offset/ratio search of :func:`refine`.
    resumed_min_len : float
        Shortest resumed ending of a shortened copy searched after a match (:func:`find_resumed`): a line spoken
        over a short ending leaves under 2 s of it clean right after the cut.
    """

    max_ratio: float = 1.07
    ratio_step: float = 0.02
    threshold: float = 0.5
    smooth: float = 4.0
    min_match: float = 6.0
    low: float = 0.3
    max_extend: float = 8.0
    min_score: float = 0.7
    candidates: int = 16
    refine_frames: int = 300
    resumed_min_len: float = 1.5


SHIFT_BLOCK = 256  # rows of a band-shifted profile computed at a time


class _ShiftedRows:
    """The rows of ``fine`` with bands shifted for ratio ``q`` (central bands, rows normalised), block by block.

    Only the blocks a search touches are computed. Each computation covers at least ``SHIFT_BLOCK + 1``
    rows with the layout of the whole-matrix one, so every row is bitwise the row the whole matrix would
    hold (its sums run in the same order). Also per row: squared norm ``nn``, norm ``rn`` and the dot
    product ``nb`` with the next row (the last row's with itself), float64.
    """

    def __init__(self, fine: np.ndarray, q: float) -> None:
        n, k = fine.shape
        src = np.arange(MARGIN, k - MARGIN) - BPO * np.log2(q)
        self.j0 = np.clip(np.floor(src).astype(int), 0, k - 1)
        self.j1 = np.clip(self.j0 + 1, 0, k - 1)
        self.v = (src - self.j0).astype(np.float32)
        self.fine = fine
        self.x = np.zeros((n, k - 2 * MARGIN), np.float32)
        self.nn, self.nb, self.rn = np.zeros(n), np.zeros(n), np.zeros(n)
        self.done = np.zeros(-(-n // SHIFT_BLOCK), bool)

    def rows(self, lo: int, hi: int) -> "_ShiftedRows":
        """Make rows ``[lo, hi)`` (clipped to the profile) available in ``x``, ``nn``, ``nb``, ``rn``."""
        lo, hi = max(0, int(lo)), min(self.x.shape[0], int(hi))
        for b in range(lo // SHIFT_BLOCK, (hi - 1) // SHIFT_BLOCK + 1 if hi > lo else 0):
            if not self.done[b]:
                self._block(b)
        return self

    def _block(self, b: int) -> None:
        n = self.x.shape[0]
        r0, r1 = b * SHIFT_BLOCK, min(n, (b + 1) * SHIFT_BLOCK)
        c0 = max(0, min(r0, n - SHIFT_BLOCK - 1))
        c1 = min(n, max(r1 + 1, c0 + SHIFT_BLOCK + 1))  # one row past the block: its neighbour product
        x = self.fine[c0:c1]
        z, t = x[:, self.j0], x[:, self.j1]  # x[:, j0] * (1 - v) + x[:, j1] * v in place (the same layout: the same sums)
        z *= 1 - self.v
        t *= self.v
        z += t
        z = _normalise(z, inplace=True)
        self.x[c0:c1] = z
        nn = np.einsum("ij,ij->i", z, z).astype(np.float64)
        self.nn[c0:c1] = nn
        self.rn[c0:c1] = np.sqrt(nn)
        self.nb[c0 : c1 - 1] = np.einsum("ij,ij->i", z[:-1], z[1:])
        if c1 == n:
            self.nb[n - 1] = nn[-1]
        self.done[b] = True


def _shifted_rows(p: Profile, q: float) -> _ShiftedRows:
    """The band-shifted rows of ``p.fine`` for ratio ``q``, computed when needed; cached per episode and ratio."""
    return p.derived(("shift", round(q, 6)), lambda: _ShiftedRows(p.fine, q))


def _shifted(p: Profile, q: float) -> np.ndarray:
    """``p.fine`` with its bands shifted for ratio ``q`` (central bands, rows normalised); cached per episode."""
    sh = _shifted_rows(p, q)
    return sh.rows(0, sh.x.shape[0]).x


def _sample(p: Profile, pos: np.ndarray, *, q: float) -> np.ndarray:
    """Fine frames of ``p`` at fractional positions ``pos`` (frames), bands shifted for ratio ``q``; NaN-free.

    Returns (len(pos), K - 2·MARGIN), rows centred and normalised; rows outside ``p`` are zero.
    """
    sh = _shifted_rows(p, q)
    n = sh.x.shape[0]
    inside = (pos >= 0) & (pos <= n - 1)
    pc = np.clip(pos, 0, n - 1)
    i0 = np.floor(pc).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    x = sh.rows(int(i0.min()), int(i0.max()) + 2).x if i0.size else sh.x
    w = (pc - i0)[:, None].astype(np.float32)
    out = x[i0] * (1 - w) + x[i1] * w  # rows of x are centred, so their blends are too: only rescale
    norm = np.sqrt(np.einsum("ij,ij->i", out, out))
    out *= (inside / np.maximum(norm, 1e-6)).astype(np.float32)[:, None]
    return out


#: bound on the float32 rounding of :func:`refine`'s exact offset scores (interpolation, norms, the sum over a
#: match's frames) plus that of :func:`_offset_scores`: a near-tie within it is decided on the exact scores
SCORE_TOL = 2e-5


def _offset_scores(fc: np.ndarray, p: Profile, base: np.ndarray, offs: np.ndarray, *, q: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``mean_j fc[j] · z[o, j]`` for every offset ``o``, where ``z[o, j]`` is ``_sample(p, base[j] + offs[o], q=q)``.

    The exact computation interpolates and normalises ``len(offs) × len(base)`` rows; here the
    interpolated row's dot product and norm come from the dot products of ``fc[j]`` with the few
    rows of the shifted profile around ``base[j]`` and the cached row norms and neighbour products
    (:class:`_ShiftedRows`): ``|(1-w)a + wb|² = (1-w)²|a|² + 2w(1-w)a·b + w²|b|²``.

    Returns
    -------
    (scores, bound) : two np.ndarray [shape=(len(offs),), float64]
        The scores and a bound on their difference from the exact float32 ones.
    """
    sh = _shifted_rows(p, q)
    n = sh.x.shape[0]
    if base[0] + offs[0] >= 0 and base[-1] + offs[-1] <= n - 1 and np.all(np.diff(base) >= 0):
        inside = 1.0  # every position of the exact computation is inside (additions are monotonic)
    else:
        pos = base[None, :] + offs[:, None]
        inside = ((pos >= 0) & (pos <= n - 1)).astype(np.float64)
    fl = np.floor(base)
    w = base - fl  # the interpolation weight of every offset (offsets are whole frames)
    w0 = 1 - w
    lo = fl.astype(int) + int(offs[0]) - 1  # first row of each frame's window: rows lo + t, t < span
    span = int(offs[-1] - offs[0]) + 3
    sh.rows(int(lo.min()), int(lo.max()) + span)
    x, nn, nb, rn = sh.x, sh.nn, sh.nb, sh.rn
    d = np.matmul(x[np.clip(lo[:, None] + np.arange(span), 0, n - 1)], fc[:, :, None])[:, :, 0].T  # (span, C)
    t = offs - offs[0] + 1  # the row of offset o in each window: floor(base) + o
    num = w0 * d[t] + w * d[t + 1]
    r = np.clip(fl.astype(int)[None, :] + offs[:, None], 0, n - 1)
    r1 = np.minimum(r + 1, n - 1)
    n2 = w0 * w0 * nn[r] + (2 * w * w0) * nb[r] + (w * w) * nn[r1]
    inv = inside / np.maximum(np.sqrt(np.maximum(n2, 0.0)), 1e-6)
    scores = (num * inv).sum(axis=1) / base.size
    # float32 rounding of an interpolated row is ~1e-7 of its parts' norms: relative to its own norm it grows
    # when the two rows cancel (zero rows, which carry no identity, are exact in both computations)
    cancel = (w0 * rn[r] + w * rn[r1]) * inv
    bound = SCORE_TOL + 1e-6 * cancel.sum(axis=1) / base.size
    return scores, bound


QUIET_DB = 6.0  # a frame within this many dB of the episode's floor (1st percentile of its level) is quiet
QUIET_MIN = 0.2  # seconds: shorter quiet stretches are not a pause


def quiet_mask(p: Profile) -> np.ndarray:
    """Fine frames inside a pause: ≥ ``QUIET_MIN`` s within ``QUIET_DB`` dB of the episode's floor; cached.

    The room tone between two items (cue, theme, scene) of an episode; a theme
    has none inside it except its own release tail.
    """

    def make() -> np.ndarray:
        lv = p.level_db
        if lv.size == 0:
            return np.zeros(0, bool)
        q = lv < np.percentile(lv, 1) + QUIET_DB
        return min_runs(q, int(round(QUIET_MIN / p.hop)))

    return p.derived("quiet", make)


def min_runs(mask: np.ndarray, n: int) -> np.ndarray:
    """``mask`` with its True runs shorter than ``n`` frames cleared."""
    m = np.asarray(mask, bool)
    d = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    out = np.zeros(m.size, bool)
    for a, b in zip(starts, ends):
        if b - a >= n:
            out[a:b] = True
    return out


def _moving(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1:
        return x
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    idx = np.arange(x.size)
    lo = np.clip(idx - n // 2, 0, x.size)
    hi = np.clip(idx - n // 2 + n, 0, x.size)
    return ((c[hi] - c[lo]) / np.maximum(hi - lo, 1)).astype(np.float32)


def refine(pa: Profile, pb: Profile, m: Match, *, config: AlignConfig = AlignConfig(), search: float = 0.5,
           ratio_search: float = 0.01, ratio_step: float = 0.005, frames: int | None = None,
           search_step: int = 1) -> Match:
    """Refine a coarse match on the fine profiles: offset and ratio, then both ends.

    The offset is searched ``search`` s either side of the coarse diagonal, the
    ratio ``ratio_search`` either side of the coarse one (steps of ``ratio_step``),
    on ``frames`` fine frames spread over the match (default ``config.refine_frames``), every
    ``search_step`` fine frames of offset. The ends
    come from a walk along the refined diagonal: the smoothed (0.5 s)
    similarity must stay above ``config.low``; the walk may go ``max_extend``
    seconds beyond the coarse run (a faded or talked-over end still matches weakly).
    """
    hop = pa.hop
    fa = pa.derived("central_fine", lambda: _central(pa.fine))
    i0, i1 = int(m.a_start / hop), max(int(m.a_start / hop) + 2, int(m.a_end / hop))
    core = np.arange(i0, min(i1, fa.shape[0]))
    if core.size < 4:
        return m
    # the offset/ratio search needs the span, not every frame: at most ~config.refine_frames of them
    core = core[:: max(1, core.size // (frames or config.refine_frames))]
    w = int(round(search / hop))
    offs = np.arange(-w, w + 1, search_step)
    nq = int(round(ratio_search / ratio_step))
    qs = [m.ratio + dq for dq in np.arange(-nq, nq + 1) * ratio_step]
    bases = [(m.b_start + (core * hop - m.a_start) * q) / hop for q in qs]
    fc = fa[core]

    def exact(r: int) -> np.ndarray:  # the similarity of every offset at ratio qs[r], as the search defines it
        zb = _sample(pb, (bases[r][None, :] + offs[:, None]).ravel(), q=qs[r]).reshape(offs.size, core.size, -1)
        return np.einsum("ij,oij->o", fc, zb) / core.size

    # the same similarities from a few dot products per frame (:func:`_offset_scores`), within a bound of the exact
    # ones; only ratios holding a near-tie of the best are computed exactly, so the choice is the exact one
    approx = [_offset_scores(fc, pb, b, offs, q=q) for b, q in zip(bases, qs)]
    s_all = np.array([a for a, _ in approx])
    e_all = np.array([e for _, e in approx])
    top = np.unravel_index(int(np.argmax(s_all)), s_all.shape)
    near = s_all + e_all >= s_all[top] - e_all[top]
    if near.sum() == 1:
        q, off = qs[top[0]], offs[top[1]] * hop
    else:
        best = (-2.0, m.ratio, 0.0)
        for r in np.nonzero(near.any(axis=1))[0]:
            s = exact(int(r))
            o = int(np.argmax(s))
            if s[o] > best[0]:
                best = (float(s[o]), qs[r], offs[o] * hop)
        _, q, off = best
    b0 = m.b_start + off
    ext = int(config.max_extend / hop)
    lo = max(0, i0 - ext)
    hi = min(fa.shape[0], i1 + ext)
    idx = np.arange(lo, hi)
    pos = (b0 + (idx * hop - m.a_start) * q) / hop
    zb = _sample(pb, pos, q=q)
    sim = np.einsum("ij,ij->i", fa[idx], zb)
    sim[(pos < 0) | (pos > pb.fine.shape[0] - 1)] = -1.0
    sm = _moving(sim, int(round(0.5 / hop)))
    # a pause in both episodes ends the walk: what lies beyond it is another item (a cue before the theme)
    qb = quiet_mask(pb)
    pause = quiet_mask(pa)[idx] & qb[np.clip(np.round(pos).astype(int), 0, qb.size - 1)]
    c0, c1 = i0 - lo, min(i1, hi) - lo
    mid = c0 + int(np.argmax(np.where(pause[c0:c1], -2.0, sm[c0:c1]))) if c1 > c0 else c0
    j = mid
    while j > 0 and sm[j - 1] >= config.low and not pause[j - 1]:
        j -= 1
    k = mid
    while k < sm.size - 1 and sm[k + 1] >= config.low and not pause[k + 1]:
        k += 1
    # the smoothing blurs the edges by half its length: step to the raw edge
    while j < mid and sim[j] < config.low:
        j += 1
    while k > mid and sim[k] < config.low:
        k -= 1
    a_start = (lo + j) * hop
    a_end = (lo + k + 1) * hop
    return Match(a_start=a_start, a_end=a_end, b_start=b0 + (a_start - m.a_start) * q, b_end=b0 + (a_end - m.a_start) * q,
                 ratio=q, score=float(sim[j : k + 1].mean()))


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def coarse_matches(pa: Profile, pb: Profile, *, config: AlignConfig = AlignConfig(), same: bool = False) -> list[Match]:
    """Runs of the coarse search over the ratio grid, duplicates across neighbouring diagonals and ratios removed.

    Each episode's central and ratio-warped coarse profiles are computed once
    (cached on the :class:`Profile`); per ratio the cells above the threshold vote
    on the offset (:func:`reviewer.detect.fingerprint.voted_diagonals`) and only the
    best-voted diagonals are searched for runs. ``same=True`` searches an episode
    against itself (repeats inside one episode); the main diagonal and its
    neighbourhood are ignored.
    """
    from reviewer.detect import fingerprint

    h = pa.coarse_hop
    fa = pa.derived("central_coarse", lambda: _central(pa.coarse))
    n_steps = int(round(np.log(config.max_ratio) / np.log(1.0 + config.ratio_step)))
    ratios = [1.0] if same else [(1.0 + config.ratio_step) ** k for k in range(-n_steps, n_steps + 1)]
    smooth, min_len = int(round(config.smooth / h)), int(round(config.min_match / h))
    found = []
    for q in ratios:
        zb = pb.derived(("warp", round(q, 6)), lambda: _warp(pb.coarse, q=q))
        sim = fa @ zb.T
        if same:
            i, j = np.indices(sim.shape)
            sim[np.abs(i - j) < min_len] = -1.0
        ds = fingerprint.voted_diagonals(sim, threshold=config.threshold, top=config.candidates,
                                         min_votes=0.1 * min_len)
        for s0, s1, d, mean in fingerprint.runs_on_diagonals(sim, ds, smooth=smooth, threshold=config.threshold,
                                                             min_len=min_len):
            found.append(Match(s0 * h, s1 * h, (s0 + d) * h * q, (s1 + d) * h * q, q, mean))
    found.sort(key=lambda m: -m.score * m.length)
    kept: list[Match] = []
    for m in found:
        dup = False
        for k in kept:
            oa = _overlap(m.a_start, m.a_end, k.a_start, k.a_end)
            ob = _overlap(m.b_start, m.b_end, k.b_start, k.b_end)
            # the same region seen on a neighbouring diagonal, or its shadow at another ratio
            if (oa >= 0.5 * min(m.length, k.length)
                    and ob >= 0.5 * min(m.b_end - m.b_start, k.b_end - k.b_start)):
                dup = True
                break
        if not dup:
            kept.append(m)
    return kept


def resumed_after(pa: Profile, pb: Profile, m: Match, *, config: AlignConfig = AlignConfig(),
                  min_skip: float = 3.0, max_skip: float = 40.0, reach: float = 1.0, window: float = 8.0,
                  min_len: float = 2.0, threshold: float = 0.6) -> Match | None:
    """The ending of a shortened copy in A, resumed right after ``m`` ends, found later in B's full copy.

    A shortened cut of a theme jumps from one phrase to its ending: A plays on
    from ``m.a_end`` while B skips ahead ``min_skip``–``max_skip`` s. When that
    ending is short, faded or talked over it is no match of its own (shorter
    than ``config.min_match``), and the copy seems to end at the cut. Searched
    here: a run of ≥ ``min_len`` s (smoothed similarity ≥ ``threshold``, B at
    ``m.ratio``) starting within ``reach`` s of A's junction, no pause in A
    between ``m`` and it (a copy that ends at a pause is whole), no pause in B
    between ``m`` and it (the full copy plays on through the part the cut left
    out; a copy that pauses there ended at ``m``), refined like a match (its
    score ≥ ``config.min_score``).

    Returns
    -------
    Match or None
        The resumed piece (A after ``m``, B ≥ ``min_skip`` s after ``m``).
    """
    return find_resumed(pa, pb, m, config=config, min_skip=min_skip, max_skip=max_skip, reach=reach, window=window,
                        min_len=min_len, threshold=threshold)


SUB_SEARCH = 2.0  # seconds: offset searched for the second item of a coarse run (see match_pair)
SUB_RATIO = 0.04  # ratio searched either side for it


def match_pair(pa: Profile, pb: Profile, *, config: AlignConfig = AlignConfig(), same: bool = False) -> list[Match]:
    """Every region A shares with B, refined; sorted by A-start.

    Parameters
    ----------
    pa, pb : Profile
        The two episodes' profiles (see :func:`spectral_profile`).
    config : AlignConfig
    same : bool
        ``pa`` and ``pb`` are the same episode: find repeats inside it.

    Returns
    -------
    list of Match
        A-side and B-side intervals in seconds with the ratio ``dB/dA`` and the
        mean fine similarity (cosine, ≤ 1).
    """
    out = []
    for m in coarse_matches(pa, pb, config=config, same=same):
        r = refine(pa, pb, m, config=config)
        out.append(r)
        # a coarse run may hold two items back to back (a cue, then the theme at another speed): the coarse
        # diagonal is the first item's, the second lies up to ~2 s off it (the pauses between them differ) and
        # its speed may differ by the whole grid
        for lo, hi in ((m.a_start, r.a_start), (r.a_end, m.a_end)):
            if hi - lo >= config.min_match:
                sub = Match(lo, hi, m.b_start + (lo - m.a_start) * m.ratio, m.b_start + (hi - m.a_start) * m.ratio,
                            m.ratio, m.score)
                wide = refine(pa, pb, sub, config=config, search=SUB_SEARCH, ratio_search=SUB_RATIO, ratio_step=0.01,
                              frames=60, search_step=2)  # a coarse pass over the wide search, then the usual one around it
                out.append(refine(pa, pb, wide, config=config) if wide.length >= 1.0 else wide)
    kept: list[Match] = []
    for m in sorted(out, key=lambda m: -m.score * m.length):
        if m.length < config.min_match or m.score < config.min_score:
            continue
        if any(_overlap(m.a_start, m.a_end, k.a_start, k.a_end) >= 0.5 * min(m.length, k.length)
               and abs((m.b_start - m.a_start * m.ratio) - (k.b_start - k.a_start * k.ratio)) < 2.0 for k in kept):
            continue
        kept.append(m)
    return sorted(kept, key=lambda m: m.a_start)


def find_resumed(pa: Profile, pb: Profile, m: Match, *, config: AlignConfig = AlignConfig(), min_skip: float = 3.0,
                 max_skip: float = 40.0, reach: float = 1.0, window: float = 8.0, min_len: float = 2.0,
                 threshold: float = 0.6, hold_start: bool = False) -> Match | None:
    """:func:`resumed_after`; with ``hold_start`` a piece whose refinement walks back more than ``reach`` + 1 s
    before the junction is cut back to where the run after the junction starts and scored there (see
    :func:`reviewer.detect.intro_graph.resumed_ending`) instead of being dropped.
    """
    hop = pa.hop
    qa = quiet_mask(pa)
    # the ratio on a 0.005 grid: B's band-shifted profile is computed once per ratio and episode (a 0.25 % error
    # drifts 0.02 s over the few seconds searched)
    a1, b1, q = m.a_end, m.b_end, round(m.ratio / 0.005) * 0.005
    i0, i1 = int(round((a1 - reach) / hop)), int(round(min(pa.duration, a1 + window) / hop))
    k0 = int(round((a1 + 0.5) / hop))
    if i0 < 0 or i1 - i0 < int(min_len / hop) or qa[int(round((a1 - 0.25) / hop)) : k0].any():
        return None
    fa_all = pa.derived("central_fine", lambda: _central(pa.fine))
    fa = fa_all[i0:i1]
    b_lo, b_hi = b1 + min_skip * q, min(pb.duration, b1 + max_skip * q)
    if b_hi - b_lo < min_len:
        return None
    pos = b_lo / hop + np.arange(int((b_hi - b_lo) / (hop * q))) * q
    sim = fa @ _sample(pb, pos, q=q).T
    best = None
    for r0, r1, d, mean in diagonal_runs(sim, smooth=int(round(1.0 / hop)), threshold=threshold,
                                         min_len=int(round(min_len / hop))):
        if r0 * hop > 2 * reach or (best is not None and mean * (r1 - r0) <= best[3] * (best[1] - best[0])):
            continue
        best = (r0, r1, d, mean)
    if best is None:
        return None
    r0, r1, d, mean = best
    a0 = (i0 + r0) * hop
    if qa[k0 : int(round(a0 / hop)) + 1].any():
        return None
    bs = (pos[0] + (r0 + d) * q) * hop
    cand = Match(a0, (i0 + r1) * hop, bs, bs + (r1 - r0) * hop * q, q, mean)
    r = refine(pa, pb, cand, config=config, search=0.25)
    if hold_start and r.a_start < a1 - reach - 1.0 and r.a_end > a0 + min_len:
        # walked back across the junction into the phrase before the cut: hold the start where the run began
        k = np.arange(int(round(a0 / hop)), min(fa_all.shape[0], int(round(r.a_end / hop))))
        zb = _sample(pb, (r.b_start + (k * hop - r.a_start) * r.ratio) / hop, q=r.ratio)
        held = float(np.einsum("ij,ij->i", fa_all[k], zb).mean()) if k.size else -1.0
        r = Match(a0, r.a_end, r.b_start + (a0 - r.a_start) * r.ratio, r.b_end, r.ratio, held)
    if r.score < config.min_score or r.length < min_len or r.a_start < a1 - reach - 1.0 or r.b_start < b1 + min_skip:
        return None
    # B's full copy plays on through the part the cut left out: a pause there ends B's copy at ``m``, and what
    # A plays on into (a scene cut straight after its copy) only resembles a later moment of B's next scene
    qb = quiet_mask(pb)
    if qb[max(0, int(round(b1 / hop))) : max(0, int(round(r.b_start / hop)))].any():
        return None
    return r
