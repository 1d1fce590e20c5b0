"""Songs with known structure: intro / verse / pre-chorus / chorus / bridge / outro.

Each song is composed from a genre :class:`~reviewer.demo.music.Style` and a
section template; the chorus carries a hook motif in a higher register over its
own chord progression, so it is distinct from the verse. Choruses repeat 2–4
times with variation (doubled or swapped lead, the last one often a key change).
Two kinds break the pattern on purpose: *through-composed* pieces (ambient,
no repeating chorus: ``hook`` is ``None``) and a *short* track under 30 s whose
hook is the whole track (seed 002: short tracks → whole track).

Full-length songs also draw *variations* that real songs have and that break
naive repetition finders (:data:`VARIATIONS`, listed per song in the truth):
the song opens with its chorus (at 0 s, no intro), a half chorus (4 of 8
bars), tempo drift (the band speeds up or slows down and wobbles: section
lengths differ by a few per cent), a long instrumental bridge (16 bars, a solo
over its own repeated progression), a verse over the chorus's chords (only
melody, register and arrangement tell them apart), and the key change on the
last chorus.

Ground truth of one song (``songs_truth.json`` value)::

    {"artist", "title", "genre", "kind": "song" | "through-composed" | "short",
     "has_chorus", "duration", "tempo", "key_root", "mode",
     "sections": [{"label", "start", "end", "key_shift"}, ...],
     "hook": {"start", "end"} | None, "split": "train" | "test",
     "variations": [name, ...]}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reviewer.demo.music import (
    Composition,
    SectionPlan,
    SectionTime,
    Style,
    compose,
    make_motif,
    normalize_rms,
    render_midi,
    rng_for,
    write_audio,
)

log = logging.getLogger(__name__)

GENRE_ORDER = (
    "pop", "rock", "electronic", "hip-hop", "ballad", "folk", "ambient",
    "pop", "rock", "electronic", "hip-hop", "short", "ballad", "progressive",
)
QUICK_ORDER = ("pop", "ambient", "short")
FORMATS = (".flac", ".ogg", ".mp3")

ARTIST_A = ("Velvet", "Neon", "Paper", "Copper", "Silver", "Midnight", "Amber", "Glass", "Hollow", "Solar",
            "Crimson", "Quiet", "Electric", "Northern", "Wild", "Lunar")
ARTIST_B = ("Harbor", "Orchard", "Lanterns", "Foxes", "Engines", "Tides", "Motel", "Parade", "Cartographers",
            "Satellites", "Meadows", "Arcade", "Canyons", "Ravens", "Signals", "Gardens")
TITLE_A = ("Falling", "Golden", "Broken", "Summer", "Electric", "Silent", "Burning", "Endless", "Paper", "Running",
           "Distant", "Lonely", "Brave", "Slow", "Shining", "Hidden")
TITLE_B = ("Hearts", "Highway", "Rain", "Signals", "Morning", "Skyline", "River", "Echoes", "Fire", "Letters",
           "Horizon", "Stars", "Streets", "Dreams", "Waves", "Lights")

STYLES = {
    "pop": dict(tempo=(100, 124), mode="major", lead=80, chords=0, bass=33, pad=48, verse_drums="half",
                chorus_drums="rock", verse_chords="arp", chorus_chords="block", alt_lead=54),
    "rock": dict(tempo=(120, 150), mode="minor", lead=29, chords=30, bass=34, pad=None, verse_drums="rock",
                 chorus_drums="rock", verse_chords="power", chorus_chords="power", alt_lead=30),
    "electronic": dict(tempo=(122, 130), mode="minor", lead=80, chords=81, bass=38, pad=89, verse_drums="four",
                       chorus_drums="four", verse_chords="stabs", chorus_chords="stabs", alt_lead=81),
    "hip-hop": dict(tempo=(84, 96), mode="dorian", lead=81, chords=4, bass=38, pad=None, verse_drums="hiphop",
                    chorus_drums="hiphop", verse_chords="block", chorus_chords="stabs", alt_lead=11, swing=0.18),
    "ballad": dict(tempo=(66, 80), mode="major", lead=73, chords=0, bass=32, pad=49, verse_drums="none",
                   chorus_drums="ballad", verse_chords="arp", chorus_chords="block", alt_lead=52),
    "folk": dict(tempo=(96, 116), mode="major", lead=22, chords=25, bass=32, pad=None, verse_drums="folk",
                 chorus_drums="folk", verse_chords="strum", chorus_chords="strum", alt_lead=73),
    "ambient": dict(tempo=(70, 86), mode="minor", lead=88, chords=91, bass=None, pad=89, verse_drums="none",
                    chorus_drums="none", verse_chords="block", chorus_chords="block", alt_lead=92),
    "progressive": dict(tempo=(88, 104), mode="dorian", lead=71, chords=0, bass=32, pad=48, verse_drums="half",
                        chorus_drums="ballad", verse_chords="arp", chorus_chords="arp", alt_lead=68),
}
STYLES["short"] = STYLES["pop"]

VERSE_PROGS = ((0, 5, 3, 4), (0, 3, 0, 4), (5, 3, 0, 4), (0, 4, 5, 3))
CHORUS_PROGS = ((3, 4, 0, 5), (3, 0, 4, 4), (5, 4, 3, 4), (3, 4, 5, 0))
PRE_PROGS = ((1, 4), (3, 4), (5, 4, 3, 4))
BRIDGE_PROGS = ((5, 3, 1, 4), (1, 5, 3, 6))

#: hard cases drawn per full-length song, with their probability
VARIATIONS = {
    "opens_with_chorus": 0.25,
    "half_chorus": 0.4,
    "tempo_drift": 0.4,
    "long_bridge": 0.35,
    "verse_chorus_chords": 0.3,
}
SOLO_PROGRAMS = (29, 65, 56, 81, 26)


@dataclass(frozen=True)
class SongSpec:
    """What to make for one song (decided up front, before any rendering)."""

    index: int
    genre: str
    kind: str
    artist: str
    title: str
    ext: str
    split: str

    @property
    def rel_path(self) -> str:
        return f"songs/{self.artist}/{self.title}{self.ext}"


def _names(rng: np.random.Generator, a: tuple[str, ...], b: tuple[str, ...], n: int) -> list[str]:
    pairs = [(x, y) for x in a for y in b]
    idx = rng.permutation(len(pairs))[:n]
    return [f"{pairs[i][0]}_{pairs[i][1]}" for i in idx]


def plan_songs(seed: int, n_songs: int, *, quick: bool = False) -> list[SongSpec]:
    """Genres, artists, titles, formats and the by-artist split for ``n_songs`` songs."""
    rng = rng_for(seed, "songs", "plan")
    order = QUICK_ORDER if quick else GENRE_ORDER
    n_artists = max(2, int(np.ceil(n_songs * 0.7)))
    artists = ["The_" + a if i % 3 == 0 else a for i, a in enumerate(_names(rng, ARTIST_A, ARTIST_B, n_artists))]
    titles = _names(rng, TITLE_A, TITLE_B, n_songs)
    n_test = max(1, int(np.ceil(n_artists * 0.25)))
    specs = []
    for j in range(n_songs):
        genre = order[j % len(order)]
        kind = "short" if genre == "short" else ("through-composed" if genre in ("ambient", "progressive") else "song")
        a = j % n_artists
        specs.append(SongSpec(j, "pop" if genre == "short" else genre, kind, artists[a], titles[j],
                              FORMATS[j % len(FORMATS)], "test" if a >= n_artists - n_test else "train"))
    return specs


def draw_variations(seed: int, spec: SongSpec, *, quick: bool) -> tuple[str, ...]:
    """The :data:`VARIATIONS` one full-length song gets (none for quick, short or through-composed pieces)."""
    if quick or spec.kind != "song":
        return ()
    rng = rng_for(seed, "song", spec.index, "variations")
    return tuple(name for name, p in VARIATIONS.items() if rng.random() < p)


def _song_plan(spec: SongSpec, rng: np.random.Generator, *, quick: bool,
               variations: tuple[str, ...] = ()) -> tuple[list[SectionPlan], float]:
    """Section template + tempo for one song (target length 1.5–3.5 min, quick: ~30–45 s)."""
    st = STYLES[spec.genre if spec.kind != "short" else "short"]
    lo, hi = st["tempo"]
    verse_prog = VERSE_PROGS[int(rng.integers(len(VERSE_PROGS)))]
    chorus_prog = CHORUS_PROGS[int(rng.integers(len(CHORUS_PROGS)))]
    pre_prog = PRE_PROGS[int(rng.integers(len(PRE_PROGS)))]
    bridge_prog = BRIDGE_PROGS[int(rng.integers(len(BRIDGE_PROGS)))]
    verse_m = make_motif(rng, density=0.4, low=0, high=5)
    pre_m = make_motif(rng, beats=4.0, density=0.6, low=2, high=7)
    hook_m = make_motif(rng, density=0.65, low=4, high=11, hook=True)
    bridge_m = make_motif(rng, density=0.35, low=1, high=6)
    if "verse_chorus_chords" in variations:
        verse_prog = chorus_prog
    vd, cd = st["verse_drums"], st["chorus_drums"]
    vc, cc = st["verse_chords"], st["chorus_chords"]

    def verse(bars: int) -> SectionPlan:
        return SectionPlan("verse", bars, verse_prog, verse_m, drums=vd, chord_style=vc, bass_style="root", velocity=80)

    def pre(bars: int) -> SectionPlan:
        return SectionPlan("pre-chorus", bars, pre_prog, pre_m, drums="build" if vd != "none" else "none",
                           chord_style="block", bass_style="eighths", velocity=88, fill=vd != "none")

    def chorus(bars: int, *, rep: int, key: int = 0) -> SectionPlan:
        return SectionPlan("chorus", bars, chorus_prog, hook_m, drums=cd, chord_style=cc, bass_style="eighths",
                           velocity=100, crash=cd != "none", key_shift=key, octave=1 if spec.genre == "ballad" else 0,
                           double_lead=rep >= 1, lead_program=st["alt_lead"] if rep == 2 else None)

    def bridge() -> SectionPlan:
        if "long_bridge" in variations:  # an instrumental solo over its own progression, twice as long
            solo = make_motif(rng, density=0.7, low=2, high=12)
            return SectionPlan("bridge", 16, bridge_prog, solo, drums=vd if vd != "none" else "none",
                               chord_style="block", bass_style="root", velocity=90,
                               lead_program=SOLO_PROGRAMS[int(rng.integers(len(SOLO_PROGRAMS)))])
        return SectionPlan("bridge", 8, bridge_prog, bridge_m, drums="half" if vd != "none" else "none",
                           chord_style="block", bass_style="long", velocity=75)

    if spec.kind == "short":
        plan = [SectionPlan("intro", 2, chorus_prog, None, drums="hats", chord_style="block"),
                chorus(4 if quick else 8, rep=0),
                SectionPlan("outro", 2, verse_prog, None, drums="none", chord_style="block")]
        return plan, 132.0
    if spec.kind == "through-composed":
        n_parts = 3 if quick else int(rng.integers(5, 8))
        plan = [SectionPlan("intro", 2 if quick else 4, (0, 3), None, drums="none", chord_style="block", bass_style="long")]
        for k in range(n_parts):
            prog = tuple(int(x) for x in rng.choice(7, size=4, replace=True))
            m = make_motif(rng, density=float(rng.uniform(0.2, 0.5)), low=int(rng.integers(0, 4)), high=int(rng.integers(6, 11)))
            drums = vd if (k % 2 == 1) else "none"
            plan.append(SectionPlan(f"passage", 4 if quick else 8, prog, m, drums=drums,
                                    chord_style=("block", "arp")[k % 2], bass_style="long", key_shift=int(rng.integers(-2, 3)),
                                    velocity=int(rng.integers(70, 95))))
        plan.append(SectionPlan("outro", 2 if quick else 4, (0,), None, drums="none", chord_style="block", bass_style="long"))
        bars = sum(s.bars for s in plan) + 1
        target = 36.0 if quick else float(rng.uniform(120, 180))
        return plan, float(np.clip(bars * 4 * 60 / target, 60, 140))

    key_up = int(rng.choice([1, 2]))
    if quick:
        plan = [SectionPlan("intro", 2, verse_prog, None, drums="hats", chord_style=vc),
                verse(4), pre(2), chorus(4, rep=0), verse(4), pre(2), chorus(4, rep=1),
                SectionPlan("outro", 2, chorus_prog, None, drums="none", chord_style="block")]
        return plan, 150.0
    n_chorus = int(rng.integers(2, 5))  # 2..4
    use_pre = spec.genre not in ("rock", "hip-hop") or rng.random() < 0.4
    vbars = 8 if spec.genre not in ("hip-hop",) else 16
    # a half chorus: one chorus after the first (the hook region stays a full chorus)
    half = int(rng.integers(1, n_chorus)) if "half_chorus" in variations else -1
    if "opens_with_chorus" in variations:
        plan = [chorus(8, rep=0)]
    else:
        plan = [SectionPlan("intro", 4, verse_prog, None, drums="hats" if vd != "none" else "none", chord_style=vc)]
    for rep in range(n_chorus):
        if rep < 2:
            plan.append(verse(vbars))
        # a two-chorus song with a long bridge plays it after the second verse; a pre-chorus always
        # leads straight into its chorus (never into the bridge)
        if rep == 2 or (rep == 1 and n_chorus == 2 and "long_bridge" in variations):
            plan.append(bridge())
        if use_pre and rep <= 2:
            plan.append(pre(4))
        last = rep == n_chorus - 1 and n_chorus >= 3
        plan.append(chorus(4 if rep == half else 8, rep=min(rep, 2),
                           key=key_up if last and rng.random() < 0.8 else 0))
    plan.append(SectionPlan("outro", 4, chorus_prog, None, drums="none", chord_style="block", bass_style="long",
                            key_shift=plan[-1].key_shift))
    bars = sum(s.bars for s in plan) + 1
    target = float(rng.uniform(110, 190))
    tempo = float(np.clip(round(bars * 4 * 60 / target), lo, hi))
    while bars * 4 * 60 / tempo > 215:  # keep under ~3.5 min
        tempo += 4
    while bars * 4 * 60 / tempo < 95:
        tempo -= 4
    return plan, tempo


def tempo_drift_map(rng: np.random.Generator, duration: float):
    """A smooth, increasing time map ``t -> t'`` of a band that drifts (±3–6 % over the song) and wobbles (±1.5–3 %).

    The local stretch is ``1 + g t / T + a sin(2π t / P + φ)`` (> 0), so the map is its integral.
    """
    g = float(rng.uniform(0.03, 0.06)) * (1.0 if rng.random() < 0.5 else -1.0)
    a = float(rng.uniform(0.015, 0.03))
    period = float(rng.uniform(40.0, 80.0))
    ph = float(rng.uniform(0.0, 2 * np.pi))
    T = max(float(duration), 1.0)

    def f(t):
        t = np.asarray(t, dtype=np.float64)
        return t + g * t * t / (2 * T) + a * period / (2 * np.pi) * (np.cos(ph) - np.cos(2 * np.pi * t / period + ph))

    return f


def warp_composition(comp: Composition, f) -> Composition:
    """The composition with every note and section time mapped through the increasing ``f`` (pitch unchanged)."""
    import copy

    pm = copy.deepcopy(comp.midi)
    for ins in pm.instruments:
        for n in ins.notes:
            n.start, n.end = float(f(n.start)), float(f(n.end))
        for c in ins.control_changes:
            c.time = float(f(c.time))
        for b in ins.pitch_bends:
            b.time = float(f(b.time))
    secs = [SectionTime(s.label, round(float(f(s.start)), 6), round(float(f(s.end)), 6)) for s in comp.sections]
    return Composition(pm, secs, comp.tempo, float(f(comp.duration)))


def hook_of(sections: list[dict], kind: str, duration: float) -> dict | None:
    """Pre-chorus + chorus of the first chorus (the seed-002 hypothesis); whole track if short."""
    if kind == "short":
        return {"start": 0.0, "end": round(duration, 3)}
    for i, s in enumerate(sections):
        if s["label"] == "chorus":
            start = sections[i - 1]["start"] if i > 0 and sections[i - 1]["label"] == "pre-chorus" else s["start"]
            return {"start": start, "end": s["end"]}
    return None


RAP_LINES = (
    "Up all night and the city never sleeps",
    "Counting every step on these empty streets",
    "They said we would fall but we never did",
    "Same old block, I remember as a kid",
    "Turn the lights down low and the bass up high",
    "Every single day is a brand new try",
    "Money on my mind but the music first",
    "Writing down the words for the better or worse",
)


def _add_rap(y: np.ndarray, comp, spec: SongSpec, rng: np.random.Generator, *, sr: int) -> np.ndarray:
    """Hip-hop-ish vocals: spoken verse lines every two bars, the same hook line in each chorus."""
    from reviewer.demo.series import speak  # espeak-ng

    bar = 4 * 60.0 / comp.tempo
    voice = ("en-us+m3", "en-029+m2", "en-us-nyc+m1")[int(rng.integers(3))]
    hook = speak(f"{spec.title.replace('_', ' ')}, yeah, {spec.title.replace('_', ' ')}", voice=voice, speed=175,
                 pitch=45, sr=sr)
    y = y.copy()

    def put(line: np.ndarray, t: float, limit: float) -> None:
        a = int(round(t * sr))
        line = line[: int(limit * sr)]
        end = min(y.size, a + line.size)
        y[a:end] += 0.9 * line[: end - a]

    for sec in comp.sections:
        if sec.label == "verse":
            t = sec.start
            while t + bar <= sec.end + 1e-6:
                line = RAP_LINES[int(rng.integers(len(RAP_LINES)))]
                put(speak(line, voice=voice, speed=int(rng.integers(170, 200)), pitch=40, sr=sr), t, 2 * bar - 0.1)
                t += 2 * bar
        elif sec.label == "chorus":
            t = sec.start
            while t + bar <= sec.end + 1e-6:
                put(hook, t, 2 * bar - 0.1)
                t += 2 * bar
    return y


def make_song(spec: SongSpec, *, seed: int, sr: int, out_path: Path, quick: bool = False) -> dict:
    """Compose, render and write one song; returns its ground-truth record."""
    rng = rng_for(seed, "song", spec.index, spec.genre)
    st = STYLES[spec.genre if spec.kind != "short" else "short"]
    variations = draw_variations(seed, spec, quick=quick)
    plan, tempo = _song_plan(spec, rng, quick=quick, variations=variations)
    mode = st["mode"]
    root = int(rng.integers(55, 65))
    style = Style(spec.genre, mode=mode, root=root, lead=st["lead"], chords=st["chords"], bass=st["bass"],
                  pad=st["pad"], swing=st.get("swing", 0.0), extra={"double": 61 if spec.genre != "ballad" else 48})
    comp = compose(plan, style, tempo=tempo, rng=rng)
    if "tempo_drift" in variations:
        comp = warp_composition(comp, tempo_drift_map(rng_for(seed, "song", spec.index, "drift"), comp.duration))
    if any(p.key_shift and p.label == "chorus" for p in plan):
        variations = variations + ("key_change_last",)
    y = render_midi(comp.midi, sr=sr, duration=comp.duration, release=1.0)
    y = normalize_rms(y, -17.0)
    vocals = spec.genre == "hip-hop"
    if vocals:
        y = _add_rap(y, comp, spec, rng, sr=sr)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0.95:
        y = (y * (0.95 / peak)).astype(np.float32)
    write_audio(out_path, y, sr=sr)
    duration = round(y.size / sr, 3)
    sections = [{"label": s.label, "start": round(s.start, 3), "end": round(s.end, 3), "key_shift": p.key_shift}
                for s, p in zip(comp.sections, plan)]
    return {
        "artist": spec.artist.replace("_", " "),
        "title": spec.title.replace("_", " "),
        "genre": spec.genre,
        "kind": spec.kind,
        "has_chorus": any(s["label"] == "chorus" for s in sections),
        "duration": duration,
        "tempo": round(float(tempo), 3),
        "key_root": root,
        "mode": mode,
        "sections": sections,
        "hook": hook_of(sections, spec.kind, duration),
        "vocals": "spoken (espeak-ng): verse lines, the same hook line in every chorus" if vocals else None,
        "split": spec.split,
        "variations": list(variations),
    }
