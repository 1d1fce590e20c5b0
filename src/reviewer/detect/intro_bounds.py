"""Boundaries of the chosen theme in every episode, below the 1.5 s hop.

The matches of one copy are cut early by a fade, dialogue or damage on either
side; the siblings' alignment carries their clean boundaries over.
"""

from __future__ import annotations

import numpy as np

from reviewer.detect.align import min_runs
from reviewer.detect.intro_graph import Item, best_node, node_interval


def carry_boundaries(chosen: Item, items: list[Item], durations: list[float], *,
                      reach: float = 6.0, settle=None, trim_reach: float = 2.0,
                      contradict: float = 1.0, pauses=None, hop: float = 0.05,
                      stop_near: float = 0.5, agree: float = 0.5) -> dict[int, tuple[float, float]]:
    """Each episode's theme interval, its ends carried over from the siblings through the alignment.

    A fade or dialogue over the end of one copy cuts every match of that copy early;
    a sibling whose copy ends cleanly knows where the theme ends. Each link maps the
    partner's own boundary into this episode (``a = a1 + (b − b1) / ratio``) when the link
    reaches within ``reach`` s of it (a spoken line over the start or end of a copy
    covers up to ~5 s); the median of those (two siblings at least), when later
    (earlier for starts) by at most ``reach`` seconds, wins.

    ``settle(e, start, end) -> (start, end)`` (the detector passes
    :func:`snap_to_pauses` of episode ``e``) settles each partner's own start
    before it is carried: a copy at 0 s talked over at its start is matched
    from a few seconds in, and would carry that late start to its siblings.
    A link that starts before its partner's settled start (a lead-in: the
    partner's cold-open bed, or a cue the partner plays right before the theme
    that another recurring item covers there) starts this copy that much later;
    when every link starts later so, the start moves there: by up to
    ``trim_reach`` s, or by any amount when a second link starts within ``agree``
    s of it (a cue played right before the theme in two episodes, with no pause).

    A link that carries a boundary more than ``contradict`` s *inside* the matched
    copy (a start after its matched start, an end before its matched end) is
    misaligned there — a shortened copy's phrase matched to its own repeat, or a
    partner whose own boundary is off: when the median of all links does not move
    the boundary, the others decide without it (one alone too).

    ``pauses(e, start, end)`` (the detector passes :func:`copy_pauses` of episode ``e``,
    ``hop`` s frames) vetoes a carried end that lies past a pause of this copy which
    begins within ``stop_near`` s of the copy's matched end and is over before the
    carried end: the copy's sound stopped there (a hard cut to the next scene's
    ambience), and what follows the pause is the next scene, not more theme (a partner
    matched one repeated bar off carries its end a bar too far).
    """
    base = _base_intervals(chosen, items)
    # starts only: an end settled on the next pause may overshoot a hard cut, and would carry that over
    own = {e: ((settle(e, *iv)[0], iv[1]) if settle is not None else iv) for e, (_, iv) in base.items()}
    out = {}
    for e, (nd, (s, t)) in base.items():
        starts, ends, trimmed = [], [], []
        for lk, side in nd.links:
            mine, theirs, other = (lk.a, lk.b, lk.j) if side == 0 else (lk.b, lk.a, lk.i)
            if other not in base or mine[1] - mine[0] <= 0 or theirs[1] - theirs[0] <= 0:
                trimmed.append(mine[0])
                continue
            ratio = (theirs[1] - theirs[0]) / (mine[1] - mine[0])
            if not 1 / 1.07 <= ratio <= 1.07:  # a chained shortened cut: lengths differ, the speed does not
                ratio = 1.0
            os_, ot = own[other]
            # the link starts before the partner's settled start (its match began in the partner's cold-open bed,
            # matched to this episode's bed): that lead-in is no theme here either
            cut = os_ - theirs[0]
            trimmed.append(mine[0] + max(0.0, cut) / ratio if cut < mine[1] - mine[0] else mine[0])
            # a link carries a boundary of the partner only if it reaches it (a link that stops at the cut of a
            # shortened copy, or at another item, says nothing about where the theme ends)
            if 0.0 <= theirs[0] - os_ <= reach:
                starts.append(mine[0] + (os_ - theirs[0]) / ratio)
            if 0.0 <= ot - theirs[1] <= reach:
                ends.append(mine[1] + (ot - theirs[1]) / ratio)
        # a lead-in longer than ``trim_reach`` (a cue played right before the theme in this episode and in the
        # partner, which another recurring item of the partner covers) goes too when a second link starts there
        if trimmed and s < min(trimmed) and (min(trimmed) <= s + trim_reach
                                             or sum(x <= min(trimmed) + agree for x in trimmed) >= 2):
            s = min(trimmed)
        # a link that carries a boundary *inside* the matched copy (a start > ``contradict`` s after the copy's
        # matched start) is misaligned there (a self-similar phrase of a shortened copy matched to its repeat):
        # when it holds the median back, the others decide without it, even one alone
        if len(ends) >= 2:
            for cand in (ends, [x for x in ends if x >= t - contradict]):
                t2 = float(np.median(cand)) if cand else t
                if t < t2 <= t + reach:
                    if pauses is None or not sound_stops(pauses(e, s, t), t, t2, hop=hop, near=stop_near):
                        t = min(t2, durations[e])
                    break
        if len(starts) >= 2:
            for cand in (starts, [x for x in starts if x <= s + contradict]):
                s2 = float(np.median(cand)) if cand else s
                if s - reach <= s2 < s:
                    s = max(0.0, s2)
                    break
        out[e] = (s, t)
    return out


def _base_intervals(chosen: Item, items: list[Item]) -> dict:
    """Each episode's best node of ``chosen`` and its interval (:func:`node_interval` against the other items)."""
    base = {}
    for e in sorted({nd.ep for nd in chosen.nodes}):
        nd = best_node(chosen, e)
        others = [o for it in items if it is not chosen for o in it.nodes if o.ep == e]
        base[e] = (nd, node_interval(nd, others))
    return base


def sibling_held_starts(chosen: Item, items: list[Item], starts: dict[int, float], *, settle, tol: float = 0.25,
                        min_links: int = 2) -> set[int]:
    """Episodes whose start the siblings' clean starts fix: :func:`snap_to_pauses` moves it back by ``held_reach`` s at most.

    A link that begins where its partner's own (settled) start is, within ``tol`` s, matched the partner's
    theme from its first note; when it begins within ``tol`` s of this copy's start too, this copy is clean
    there (a copy talked over or faded in at its start is matched from where it is clean, later than the
    partner's start, and its links carry the partner's start back instead). With ``min_links`` such links
    the start is known: a room-tone gap between the cold open's last lines, a few seconds before it (the
    cold open's ambience loud up to the theme, so no pause right before it), is no start.
    ``starts[e]`` is the episode's start after :func:`carry_boundaries`; ``settle`` as there.
    """
    base = _base_intervals(chosen, items)
    own = {e: settle(e, *iv)[0] for e, (_, iv) in base.items()}
    held = set()
    for e, (nd, _) in base.items():
        if e not in starts:
            continue
        n = 0
        for lk, side in nd.links:
            mine, theirs, other = (lk.a, lk.b, lk.j) if side == 0 else (lk.b, lk.a, lk.i)
            if other in own and abs(theirs[0] - own[other]) <= tol and abs(mine[0] - starts[e]) <= tol:
                n += 1
        if n >= min_links:
            held.add(e)
    return held


def sound_stops(quiet: np.ndarray, end: float, carried: float, *, hop: float, near: float = 0.5) -> bool:
    """Whether a pause of ``quiet`` (``hop`` s frames) begins within ``near`` s of ``end`` and is over before
    ``carried`` (the sound resumes there: a copy cut hard to the next scene)."""
    q = np.asarray(quiet, bool)
    k0, k1 = max(0, int(round((end - near) / hop))), min(q.size, int(round((end + near) / hop)) + 1)
    if k0 >= k1:
        return False
    run = np.flatnonzero(q[k0:k1])
    if not run.size:
        return False
    a = k0 + int(run[0])
    if a == k0 and k0 > 0 and q[k0 - 1]:  # a pause begun before the match's end zone: not where this copy stops
        return False
    b = a
    while b < q.size and q[b]:
        b += 1
    return b < q.size and b * hop < carried


def snap_to_pauses(start: float, end: float, quiet: np.ndarray, *, hop: float, reach_start: float = 4.0,
                   reach_end: float = 3.0, slack: float = 0.3, level_db: np.ndarray | None = None,
                   settle_db: float = 3.0, quiet_before: np.ndarray | None = None,
                   onset_db: float = 10.0, hold_start: bool = False, held_reach: float = 0.5) -> tuple[float, float]:
    """Move the boundaries of one theme copy to the pauses around it (onset of silence, end of silence).

    A theme that fades in, starts under dialogue or under ambience bleeding from the
    cold open, or ends under dialogue matches its siblings only from where it is
    clean; when *every* copy is covered there the siblings cannot help. Around the
    theme the episode pauses (room tone between the items): the end moves to the
    first pause within ``reach_end`` s after it (or ``slack`` s before), the start to
    the end of the last pause within ``reach_start`` s before it; a start within
    ``reach_start`` s of the file start with no pause before it moves to 0 (intro at 0 s).
    With ``level_db`` (the episode's frame levels) the end goes on through the
    decay of the last note, until the level settles within ``settle_db`` of the pause's own level.
    ``quiet_before`` (default ``quiet``) is the mask searched for the start: the
    detector passes the room-tone pauses only, since a pause between the words of
    the cold open right before the theme is no start. A start that lies inside a
    flat bed of ``quiet`` (the cold open's ambience after its last line, matched to
    a sibling's faint lead-in) moves to the onset (``onset_db`` jump) that ends it;
    a start right after such a bed is an onset already and does not move back to
    an earlier room-tone gap (between two lines of the cold open). With ``hold_start`` (the siblings fix
    the start: :func:`sibling_held_starts`) the start moves back to a pause, or to 0 s, by ``held_reach`` s at most.

    Parameters
    ----------
    quiet : np.ndarray [shape=(n,), bool]
        :func:`reviewer.detect.align.quiet_mask` of the episode (fine frames, ``hop`` s).
    """
    n = quiet.size
    if n == 0:
        return start, end
    i0, i1 = max(0, int((end - slack) / hop)), min(n, int(np.ceil((end + reach_end) / hop)))
    hit = np.flatnonzero(quiet[i0:i1])
    if hit.size and (i0 + hit[0]) * hop > start:
        k = i0 + hit[0]
        if level_db is not None:
            r = k
            while r < n and quiet[r]:
                r += 1
            steady = float(np.percentile(level_db[k:r], 20))
            while k < r - 1 and level_db[k] > steady + settle_db:
                k += 1
        end = k * hop
    back = min(reach_start, held_reach) if hold_start else reach_start
    j0, j1 = max(0, int((start - back) / hop)), min(n, int(np.ceil((start + slack) / hop)))
    qb = quiet if quiet_before is None else quiet_before
    hit = np.flatnonzero(qb[j0:j1])
    # the start already follows a pause of ``quiet`` (a bed under the copy ends within ``slack`` of it): it is an
    # onset after the cold open's last line, not a late match; an earlier gap between two lines is no start
    ks, ke = max(0, int(round((start - slack) / hop))), min(n, int(round((start + slack) / hop)) + 1)
    on_onset = qb is not quiet and level_db is not None and ks < ke and bool(quiet[ks:ke].any()) \
        and not quiet[min(n - 1, ke)]
    if hit.size and (j0 + hit[-1] + 1) * hop < end and not on_onset:
        start = (j0 + hit[-1] + 1) * hop
    elif not hit.size and start <= back:
        start = 0.0
    # a start inside a pause of ``quiet`` (far below the copy: the cold open's ambience after its last line)
    # matched a sibling's equally faint lead-in; the theme starts where that pause ends, on an onset (a jump of
    # ``onset_db`` within 0.15 s out of a flat level bed; a fade-in rises and keeps its start)
    k = int(round(start / hop))
    if level_db is not None and 0 <= k < n and quiet[k] and quiet is not qb:
        r = k
        while r < n and quiet[r]:
            r += 1
        run = level_db[k:r]
        jump = float(np.max(level_db[r : r + 3])) - float(np.median(run)) if r < n else 0.0
        flat = float(np.percentile(run, 90) - np.percentile(run, 10)) <= 6.0  # a bed, not a rising fade
        if (r - k) * hop <= reach_start and r * hop < end and jump >= onset_db and flat:
            start = r * hop
    return start, end


def copy_pauses(level_db: np.ndarray, start: float, end: float, *, hop: float, drop_db: float = 16.0,
                quiet_db: float = 6.0, min_len: float = 0.2) -> np.ndarray:
    """Frames where the episode pauses *relative to this theme copy*: for :func:`snap_to_pauses`.

    A frame is a pause when it is within ``quiet_db`` of the episode's floor (room
    tone) or ``drop_db`` below the copy's median level (a scene's ambience after a
    hard cut from the theme), for ``min_len`` s at least.
    """
    lv = np.asarray(level_db, np.float32)
    if lv.size == 0:
        return np.zeros(0, bool)
    i0, i1 = max(0, int(start / hop)), min(lv.size, max(int(start / hop) + 1, int(end / hop)))
    ref = float(np.median(lv[i0:i1]))
    low = lv < max(float(np.percentile(lv, 1)) + quiet_db, ref - drop_db)
    return min_runs(low, int(round(min_len / hop)))


def theme_tail(ends: dict[int, float], pauses: dict[int, np.ndarray], *, hop: float,
               max_tail: float = 1.0) -> dict[int, float]:
    """Each copy's end moved past the theme's own silent tail, measured on the sibling with the shortest pause after it.

    A theme's recording ends with a release or a short silence before the show
    resumes; the match (and the pause search) stops where the sound stops, the
    theme where the next scene begins in an episode that cuts straight to it.
    Every copy ending at a room-tone pause (``pauses[e]``:
    :func:`reviewer.detect.align.quiet_mask`, ``hop`` s frames) measures that
    pause; the shortest of them (two copies at least, at most ``max_tail`` s)
    bounds the tail — nothing starts inside the theme — and every copy ending
    at a pause gets it (no more than its own pause).
    """
    runs: dict[int, float] = {}
    for e, t in ends.items():
        q = pauses.get(e)
        if q is None:
            continue
        k = int(round(t / hop))
        near = np.flatnonzero(q[max(0, k) : k + 4]) if 0 <= k < q.size else np.zeros(0, int)
        if not near.size:  # the copy ends under talk or another sound, not at a pause
            continue
        r = k + int(near[0])
        while r < q.size and q[r]:
            r += 1
        if r < q.size:  # a pause that runs to the end of the searched audio measures nothing
            runs[e] = (r - k) * hop
    if len(runs) < 2:
        return dict(ends)
    tail = min(runs.values())
    if tail > max_tail:
        return dict(ends)
    return {e: t + min(tail, runs[e]) if e in runs else t for e, t in ends.items()}


def _pause_runs(quiet: np.ndarray, lo: float, hi: float, *, hop: float) -> list[tuple[float, float]]:
    """(onset, end) in seconds of the pauses of ``quiet`` whose onset lies in [lo, hi)."""
    q = np.asarray(quiet, bool)
    k0, k1 = max(0, int(np.floor(lo / hop))), min(q.size, int(np.ceil(hi / hop)))
    out = []
    for k in range(k0, k1):
        if q[k] and (k == 0 or not q[k - 1]):
            r = k
            while r < q.size and q[r]:
                r += 1
            out.append((k * hop, r * hop))
    return out


def trim_shared_overruns(chosen: Item, pauses, *, hop: float, reach: float = 4.0, near: float = 0.5,
                         tol: float = 0.3) -> int:
    """Cut the links of the theme that run on through the pause where its sound stops, into the next scene.

    Two copies cut hard at the same point of the theme into scenes of the same
    series (the same set's ambience, lines over it) keep matching each other for
    a second or two past the cut, until the refinement's similarity falls; their
    siblings' copies play on differently there, so those links stop at the cut.
    For each copy (node) of ``chosen``: a pause of the copy (``pauses(e, start, end)``:
    :func:`copy_pauses`, ``hop`` s frames) with its onset within ``reach`` s before the
    copy's matched end and over before it is the theme's stop when at least one link
    ends within ``near`` s of the onset (that sibling's copy stops matching there), at
    least as many links stop there as run through the pause (a theme with a break before
    its last hit is crossed by most of its links), and the partner of every link that
    runs through pauses too, within ``tol`` s of the mapped point. Every link that runs
    through such a pause of one of its copies while its other copy pauses there
    too ends at the two pauses' onsets. Changes the links in place; returns how many were cut.
    """
    nodes = {}
    for nd in chosen.nodes:
        for lk, side in nd.links:
            nodes.setdefault(id(lk), {})[side] = nd

    def sides(lk, side):
        return (lk.a, lk.b, 1 - side) if side == 0 else (lk.b, lk.a, 1 - side)

    def partner_pause(lk, side, p: float):
        mine, theirs, other = sides(lk, side)
        pnd = nodes[id(lk)].get(other)
        if pnd is None or mine[1] - mine[0] <= 0:
            return None
        ratio = (theirs[1] - theirs[0]) / (mine[1] - mine[0])
        if not 1 / 1.07 <= ratio <= 1.07:
            ratio = 1.0
        q = theirs[1] - (mine[1] - p) * ratio
        quiet = pauses(pnd.ep, *node_interval(pnd))
        for onset, end in _pause_runs(quiet, q - tol, q + tol, hop=hop):
            if end < theirs[1]:
                return onset
        return None

    cuts: dict[int, tuple] = {}
    for nd in chosen.nodes:
        s, t = node_interval(nd)
        for onset, end in _pause_runs(pauses(nd.ep, s, t), t - reach, t, hop=hop):
            if end >= t:
                continue
            ends = [(lk, side, (lk.a if side == 0 else lk.b)[1]) for lk, side in nd.links]
            crossing = [(lk, side) for lk, side, x in ends if x > max(onset + near, end)]
            stopping = [x for _, _, x in ends if onset - near <= x <= max(onset + near, end)]
            if not stopping or not crossing or len(crossing) > len(stopping):
                continue
            found = [(lk, side, partner_pause(lk, side, onset)) for lk, side in crossing]
            if any(q is None for _, _, q in found):
                continue
            for lk, side, q in found:
                cuts.setdefault(id(lk), (lk, side, onset, q))
            break
    for lk, side, onset, q in cuts.values():
        mine, theirs, _ = sides(lk, side)
        new_mine, new_theirs = (mine[0], onset), (theirs[0], q)
        lk.a, lk.b = (new_mine, new_theirs) if side == 0 else (new_theirs, new_mine)
    return len(cuts)
