"""TV-series episodes with a recurring intro theme and exact intro boundaries.

A series owns a set of *assets* rendered once (:func:`make_series_assets`): its
intro theme (15–60 s), an in-episode cue, end-credits music, a recap sting and
the channel ident (shared by the series of one channel). An episode
(:func:`make_episode`) is laid out on a sample-exact timeline::

    [ident] [recap: "Previously on ..." + sting + lines + sting] [cold open]
    INTRO (a varied copy of the theme) | scenes, cues, ... | end credits

Per-episode intro variation (recorded in ``episodes_truth.json``): gain, fade
in/out, a shortened cut (head + first phrase + ending), dialogue over its start
or end, a low-bitrate mp3/ogg round trip, a ±1–3 % tape-style speed change.
Some episodes have no intro at all; some have none of ident/recap/cold open
(the intro starts at 0.000). In a library of four series or more, one series
(or ``themeless_series`` of them) has no opening theme at all (only its ident,
recaps, cues and end credits recur, and none of them is the intro). About a third of the intros cut straight into the
next scene (its ambience starts on the theme's last sample: no pause to find).

The intro label is the span of the theme copy in the episode: ``start`` = its
first sample, ``end`` = its last sample, fades included (a faded start is still
the start). An episode without an intro has ``start`` = ``end`` = ``None``.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from reviewer.demo.music import (
    SectionPlan,
    Style,
    ambience,
    change_speed,
    codec_roundtrip,
    compose,
    db,
    fade,
    make_motif,
    normalize_rms,
    render_midi,
    require_tool,
    resample,
    rng_for,
    write_audio,
)
from reviewer.errors import ConfigError, ReviewerError

log = logging.getLogger(__name__)

SEASON = 1
ESPEAK_SR = 22050

SERIES_BOOK = (
    dict(name="Harbor_Watch", names=("Marlowe", "Jenna", "Captain Reyes"),
         places=("the old pier", "the lighthouse", "the fish market", "the harbor office"),
         things=("ledger", "radio", "anchor chain", "blue envelope"), times=("midnight", "the morning tide", "six o'clock"),
         ambience=("street", "wind", "room")),
    dict(name="Star_Freighter", names=("Commander Ilse", "Dax", "Pilot Ono"),
         places=("the cargo bay", "the bridge", "Ceres station", "the outer ring"),
         things=("reactor core", "nav chip", "distress beacon", "airlock code"), times=("the next jump", "shift change", "orbit twelve"),
         ambience=("hum", "room", "hum")),
    dict(name="Night_Ward", names=("Doctor Amari", "Nurse Kell", "Doctor Voss"),
         places=("the east wing", "the night ward", "the pharmacy", "room nine"),
         things=("chart", "blood test", "pager", "scan"), times=("morning rounds", "three in the morning", "the end of the shift"),
         ambience=("room", "hum", "rain")),
    dict(name="Kitchen_Rivals", names=("Chef Bruno", "Lina", "Marco"),
         places=("the walk-in fridge", "the market", "the pastry station", "the dining room"),
         things=("sauce", "truffle box", "secret recipe", "souffle"), times=("service", "nine sharp", "the tasting"),
         ambience=("room", "street", "room")),
    dict(name="Desert_Frontier", names=("Sheriff Cole", "Mara", "Old Tom"),
         places=("the canyon", "the saloon", "the rail depot", "the dry river"),
         things=("map", "gold coin", "telegram", "horse"), times=("sundown", "high noon", "the last train"),
         ambience=("wind", "wind", "room")),
    dict(name="Campus_Lab", names=("Professor Lind", "Ravi", "Sofia"),
         places=("the basement lab", "the library", "the lecture hall", "the roof"),
         things=("sample", "notebook", "laser", "grant letter"), times=("the deadline", "Friday", "the seminar"),
         ambience=("room", "rain", "hum")),
)

TEMPLATES = (
    "{name}, did you check the {thing} before you left?",
    "I told you the {thing} was never at {place}.",
    "We have until {time} to reach {place}.",
    "Nobody goes to {place} after dark, {name}.",
    "Listen to me. The {thing} is the only proof we have.",
    "Why would {name} lie about {place}?",
    "If the {thing} is gone, then someone from {place} took it.",
    "I saw the lights over {place} again last night.",
    "Give me the {thing} and nobody gets hurt.",
    "You sound just like {name} when you say that.",
    "Call {name}. Tell them we are going back to {place}.",
    "It is {time} already, and still no word from {name}.",
    "Did anyone else see the {thing}?",
    "I am not leaving {place} without answers.",
    "Fine. But this is the last time, {name}.",
    "Do you really think the {thing} can be fixed by {time}?",
    "Something is wrong with the {thing}. Can you hear that?",
    "Meet me at {place} at {time}, and come alone.",
    "No, no, no. That is not how it happened at all.",
    "Wait. Say that again, slowly.",
    "{name} was right about {place}, and I hate that.",
    "Put the {thing} down. We need to talk.",
)

VOICES = ("en-us+m3", "en-gb+f2", "en-gb-scotland+m1", "en-us+f4", "en-029+m2", "en-gb-x-rp+m7",
          "en-us-nyc+f1", "en+m4", "en-gb+f5", "en-us+m6", "en-gb-x-gbcwmd+m2", "en+f3")
ANNOUNCER = ("en-gb-x-rp+m3", 150, 35)

THEME_STYLES = (
    dict(kind="fanfare", lead=61, chords=48, bass=58, pad=None, drums="march", mode="major", tempo=(108, 128)),
    dict(kind="synth", lead=81, chords=89, bass=38, pad=None, drums="four", mode="minor", tempo=(118, 132)),
    dict(kind="guitar", lead=29, chords=30, bass=34, pad=None, drums="rock", mode="minor", tempo=(124, 148)),
    dict(kind="jazzy", lead=65, chords=4, bass=32, pad=None, drums="half", mode="dorian", tempo=(96, 120)),
    dict(kind="orchestral", lead=56, chords=48, bass=42, pad=49, drums="ballad", mode="major", tempo=(90, 112)),
    dict(kind="mallets", lead=11, chords=0, bass=33, pad=89, drums="hiphop", mode="minor", tempo=(90, 104)),
)


@dataclass(frozen=True)
class SeriesSpec:
    """One series: name, channel, voices, episode formats; decided before rendering."""

    index: int
    name: str
    channel: int
    split: str
    n_episodes: int
    voices: tuple[tuple[str, int, int], ...]
    formats: tuple[str, ...]
    no_intro_episode: int | None
    book: dict = field(default_factory=dict, hash=False, compare=False)
    has_theme: bool = True

    @property
    def title(self) -> str:
        return self.name.replace("_", " ")

    def episode_rel_path(self, e: int) -> str:
        ep = f"{self.name}_S{SEASON:02d}E{e + 1:02d}{self.formats[e]}"
        return f"series/{self.name}/Season_{SEASON:02d}/{ep}"

    def asset_rel_path(self, what: str) -> str:
        return f"assets/series/{self.name}/{what}.flac"


def plan_series(seed: int, n_series: int, episodes_per_series: int, *,
                themeless_series: int | None = None) -> list[SeriesSpec]:
    """Names, voices, formats (one .mp4 per series), held-out split (the last series is ``test``).

    ``themeless_series`` series have no opening theme (``has_theme=False``): the
    ones right before the last (test) series. ``None`` (default): one, the
    last-but-one, with four series or more. More of them give a library enough
    episodes without an intro to measure a false-positive rate.
    """
    if themeless_series is None:
        themeless = {n_series - 2} if n_series >= 4 else set()
    else:
        if not 0 <= themeless_series <= n_series - 1:
            raise ConfigError(f"themeless_series must be in [0, n_series - 1] = [0, {n_series - 1}] "
                              f"(the last series keeps its theme), got {themeless_series!r}")
        themeless = set(range(n_series - 1 - themeless_series, n_series - 1))
    out = []
    for s in range(n_series):
        rng = rng_for(seed, "series", s, "plan")
        book = dict(SERIES_BOOK[s % len(SERIES_BOOK)])
        name = book["name"] if s < len(SERIES_BOOK) else f"{book['name']}_{s // len(SERIES_BOOK) + 1}"
        vidx = rng.choice(len(VOICES), size=3, replace=False)
        voices = tuple((VOICES[int(i)], int(rng.integers(140, 186)), int(rng.integers(30, 71))) for i in vidx)
        formats = [(".flac", ".ogg")[(s + e) % 2] for e in range(episodes_per_series)]
        formats[int(rng.integers(0, episodes_per_series))] = ".mp4"
        no_intro = int(rng.integers(1, episodes_per_series)) if (s % 2 == 1 and episodes_per_series > 1) else None
        out.append(SeriesSpec(s, name, s % 2, "test" if s == n_series - 1 else "train", episodes_per_series,
                              voices, tuple(formats), no_intro, book, has_theme=s not in themeless))
    return out


# --------------------------------------------------------------------------- speech


def speak(text: str, *, voice: str, speed: int, pitch: int, sr: int) -> np.ndarray:
    """One line of espeak-ng speech as mono float32 at ``sr`` (RMS −20 dB, silence trimmed)."""
    exe = require_tool("espeak-ng")
    with tempfile.TemporaryDirectory(prefix="reviewer-demo-") as tmp:
        wav = Path(tmp) / "s.wav"
        res = subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
                             capture_output=True, text=True)
        if res.returncode != 0 or not wav.is_file():
            raise ReviewerError(f"espeak-ng failed for voice {voice!r}: {res.stderr.strip()[:300]}")
        y, file_sr = sf.read(str(wav), dtype="float32", always_2d=True)
    y = resample(y.mean(axis=1), file_sr, sr)
    nz = np.flatnonzero(np.abs(y) > 1e-3)
    if nz.size:
        y = y[nz[0] : nz[-1] + 1]
    return normalize_rms(y, -20.0)


def sentence(rng: np.random.Generator, book: dict) -> str:
    t = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    pick = lambda key: book[key][int(rng.integers(len(book[key])))]  # noqa: E731
    return t.format(name=pick("names"), place=pick("places"), thing=pick("things"), time=pick("times"))


# --------------------------------------------------------------------------- assets


def _theme_plan(rng: np.random.Generator, st: dict, *, quick: bool) -> tuple[list[SectionPlan], float]:
    prog_a = tuple(int(x) for x in rng.choice([0, 3, 4, 5], size=4))
    prog_a = (0,) + prog_a[1:]
    prog_b = tuple(int(x) for x in rng.choice([1, 3, 4, 5, 6], size=4))
    hook = make_motif(rng, density=0.7, low=3, high=10, hook=True)
    b_m = make_motif(rng, density=0.5, low=1, high=8)
    d = st["drums"]
    head = SectionPlan("head", 1 if quick else 2, (0,), None, drums=d, chord_style="block", crash=True, velocity=105)
    a1 = SectionPlan("a", 4, prog_a, hook, drums=d, chord_style="block", bass_style="eighths", velocity=100)
    a2 = SectionPlan("a2", 4, prog_a, hook, drums=d, chord_style="block", bass_style="eighths", double_lead=True,
                     velocity=105, crash=True)
    b = SectionPlan("b", 4, prog_b, b_m, drums=d, chord_style="block", bass_style="root", velocity=95)
    a3 = SectionPlan("a3", 4, prog_a, hook, drums=d, chord_style="block", bass_style="eighths", double_lead=True,
                     velocity=110, crash=True)
    ending = SectionPlan("ending", 2, (4, 0), None, drums=d, chord_style="block", bass_style="root", fill=True,
                         velocity=110)
    if quick:
        return [head, a1, ending], 124.0
    n = int(rng.integers(0, 3))
    plan = [head, a1] + [[a2], [a2, b], [a2, b, a3]][n] + [ending]
    bars = sum(s.bars for s in plan) + 1
    target = float(rng.uniform(18, 55))
    lo, hi = st["tempo"]
    tempo = float(np.clip(round(bars * 4 * 60 / target), lo, hi))
    return plan, tempo


def _jingle(rng: np.random.Generator, *, label: str, bars: int, lead: int, chords: int, drums: str, tempo: float,
            mode: str, root: int, sr: int, bass: int | None = 33, chord_style: str = "block") -> np.ndarray:
    m = make_motif(rng, density=0.6, low=2, high=9)
    plan = [SectionPlan(label, bars, tuple(int(x) for x in rng.choice([0, 3, 4, 5], size=max(1, bars))), m,
                        drums=drums, chord_style=chord_style, bass_style="root", crash=drums != "none")]
    style = Style(label, mode=mode, root=root, lead=lead, chords=chords, bass=bass)
    comp = compose(plan, style, tempo=tempo, rng=rng)
    return render_midi(comp.midi, sr=sr, duration=comp.duration, release=0.5)


def make_series_assets(spec: SeriesSpec, *, seed: int, sr: int, out_dir: Path, quick: bool = False) -> dict:
    """Render theme, cue, credits, recap sting and channel ident; write them as FLAC; return their truth."""
    rng = rng_for(seed, "series", spec.index, "theme")
    # a permutation per seed: the series of one library get different theme styles
    order = rng_for(seed, "theme-styles").permutation(len(THEME_STYLES))
    st = THEME_STYLES[int(order[spec.index % len(THEME_STYLES)])]
    root = int(rng.integers(55, 65))
    plan, tempo = _theme_plan(rng, st, quick=quick)
    style = Style("theme", mode=st["mode"], root=root, lead=st["lead"], chords=st["chords"], bass=st["bass"],
                  pad=st["pad"], extra={"double": 48})
    comp = compose(plan, style, tempo=tempo, rng=rng)
    theme = normalize_rms(render_midi(comp.midi, sr=sr, duration=comp.duration, release=0.5), -18.0)
    secs = {s.label: (s.start, s.end) for s in comp.sections}
    # shortened cut: everything up to the end of phrase "a", then the ending
    short_cut = {"keep_until": secs["a"][1], "resume_at": secs["ending"][0]}

    crng = rng_for(seed, "series", spec.index, "cue")
    cue = normalize_rms(_jingle(crng, label="cue", bars=3 if quick else int(crng.integers(4, 7)),
                                lead=int(crng.choice([45, 71, 0, 12, 68])), chords=int(crng.choice([48, 0, 46])),
                                drums="none", tempo=float(crng.integers(80, 110)), mode="minor",
                                root=int(crng.integers(52, 62)), sr=sr, chord_style="arp"), -21.0)
    krng = rng_for(seed, "series", spec.index, "credits")
    credits = normalize_rms(_jingle(krng, label="credits", bars=6 if quick else int(krng.integers(12, 17)),
                                    lead=int(krng.choice([0, 24, 73, 66])), chords=int(krng.choice([0, 48, 4])),
                                    drums=str(krng.choice(["ballad", "half", "folk"])), tempo=float(krng.integers(84, 120)),
                                    mode="major", root=int(krng.integers(55, 65)), sr=sr), -19.0)
    srng = rng_for(seed, "series", spec.index, "sting")
    sting = normalize_rms(_jingle(srng, label="sting", bars=1, lead=int(srng.choice([61, 56, 48])), chords=48,
                                  drums="march", tempo=float(srng.integers(100, 130)), mode="minor",
                                  root=int(srng.integers(50, 60)), sr=sr, bass=47), -17.0)
    irng = rng_for(seed, "channel", spec.channel, "ident")
    ident = normalize_rms(_jingle(irng, label="ident", bars=2, lead=int(irng.choice([9, 11, 14])), chords=88,
                                  drums="none", tempo=float(irng.integers(110, 130)), mode="major",
                                  root=int(irng.integers(60, 67)), sr=sr), -18.0)
    files = {}
    for what, y in (("theme", theme), ("cue", cue), ("credits", credits), ("sting", sting), ("ident", ident)):
        rel = spec.asset_rel_path(what)
        write_audio(out_dir / rel, y, sr=sr)
        files[what] = rel
    return {
        "series": spec.title,
        "has_theme": spec.has_theme,
        "theme_style": st["kind"],
        "theme_tempo": round(tempo, 3),
        "theme_duration": round(theme.size / sr, 3),
        "theme_sections": [{"label": s.label, "start": round(s.start, 3), "end": round(s.end, 3)} for s in comp.sections],
        "short_cut": {k: round(v, 6) for k, v in short_cut.items()},
        "files": files,
    }


def _load(path: Path, sr: int) -> np.ndarray:
    y, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(y.mean(axis=1), file_sr, sr)


# --------------------------------------------------------------------------- episodes


class Timeline:
    """A growing mono mix with a list of labelled events (sample-exact)."""

    def __init__(self, sr: int) -> None:
        self.sr = sr
        self.buf = np.zeros(sr * 400, np.float32)
        self.cursor = 0
        self.length = 0
        self.events: list[dict] = []

    def mix(self, y: np.ndarray, at: int) -> None:
        end = at + y.size
        if end > self.buf.size:
            self.buf = np.concatenate([self.buf, np.zeros(end - self.buf.size + self.sr * 60, np.float32)])
        self.buf[at:end] += y
        self.length = max(self.length, end)

    def put(self, y: np.ndarray, kind: str, *, advance: bool = True, **meta) -> tuple[int, int]:
        start = self.cursor
        self.mix(y, start)
        self.events.append({"kind": kind, "start": round(start / self.sr, 3), "end": round((start + y.size) / self.sr, 3), **meta})
        if advance:
            self.cursor = start + y.size
        return start, start + y.size

    def gap(self, seconds: float) -> None:
        self.cursor += int(round(seconds * self.sr))
        self.length = max(self.length, self.cursor)

    def audio(self) -> np.ndarray:
        return self.buf[: self.length].copy()


def _scene(tl: Timeline, spec: SeriesSpec, rng: np.random.Generator, *, seconds: float, sr: int, kind: str = "scene") -> None:
    """Dialogue between the series' characters over one ambience bed, about ``seconds`` long."""
    start = tl.cursor
    amb_kind = spec.book["ambience"][int(rng.integers(len(spec.book["ambience"])))]
    tl.gap(float(rng.uniform(0.3, 0.8)))
    n_lines = 0
    while (tl.cursor - start) / sr < seconds or n_lines == 0:
        v, spd, pit = spec.voices[int(rng.integers(len(spec.voices)))]
        line = speak(sentence(rng, spec.book), voice=v, speed=int(spd + rng.integers(-10, 11)), pitch=pit, sr=sr)
        tl.put(line * db(float(rng.uniform(-3, 2))), "speech", voice=v)
        tl.gap(float(rng.uniform(0.25, 1.2)))
        n_lines += 1
    n = tl.cursor - start
    tl.mix(ambience(amb_kind, n, sr=sr, rng=rng), start)
    tl.events.append({"kind": kind, "start": round(start / sr, 3), "end": round(tl.cursor / sr, 3), "ambience": amb_kind})


def _vary_intro(theme: np.ndarray, assets: dict, rng: np.random.Generator, *, sr: int, e: int, quick: bool) -> tuple[np.ndarray, dict]:
    """Apply the per-episode intro variation; returns the copy and a record of what was done."""
    y = theme
    cut = assets["short_cut"]
    shortened = e > 0 and rng.random() < 0.3 and cut["resume_at"] - cut["keep_until"] > 1.0
    if shortened:
        k = int(round(assets["short_cut"]["keep_until"] * sr))
        r = int(round(assets["short_cut"]["resume_at"] * sr))
        xf = int(0.03 * sr)
        head, tail = y[:k].copy(), y[r:].copy()
        head[-xf:] *= np.linspace(1, 0, xf, dtype=np.float32)
        tail[:xf] *= np.linspace(0, 1, xf, dtype=np.float32)
        y = np.concatenate([head[:-xf], head[-xf:] + tail[:xf], tail[xf:]])
    speed = 1.0
    if rng.random() < 0.45:
        speed = round(1.0 + float(rng.choice([-1, 1])) * float(rng.uniform(0.01, 0.03)), 3)
        y = change_speed(y, speed)
    codec = None
    if rng.random() < 0.4:
        codec = str(rng.choice(["mp3", "ogg"]))
        y = codec_roundtrip(y, sr=sr, codec=codec)
    gain_db = round(float(rng.uniform(-6.0, 2.0)), 2)
    y = y * db(gain_db)
    fade_in = round(float(rng.uniform(0.5, 3.0)), 2) if rng.random() < 0.3 else 0.0
    fade_out = round(float(rng.uniform(1.0, 4.0)), 2) if rng.random() < 0.35 else 0.0
    y = fade(y, sr=sr, fade_in=fade_in, fade_out=fade_out)
    u = rng.random()
    dialogue = "start" if u < 0.2 else ("end" if u < 0.4 else None)
    return y.astype(np.float32), {"shortened": bool(shortened), "speed": speed, "codec": codec, "gain_db": gain_db,
                                  "fade_in": fade_in, "fade_out": fade_out, "dialogue_over": dialogue}


def make_episode(spec: SeriesSpec, e: int, *, seed: int, sr: int, out_dir: Path, assets: dict,
                 quick: bool = False) -> dict:
    """Lay out, mix and write one episode; returns its rich truth (``episodes_truth.json`` value)."""
    rng = rng_for(seed, "series", spec.index, "episode", e)
    A = {k: _load(out_dir / rel, sr) for k, rel in assets["files"].items()}
    tl = Timeline(sr)
    has_intro = spec.has_theme and spec.no_intro_episode != e
    u = rng.random()
    if quick:
        cold_kind, cold_len = ("none", 0.0) if u < 0.3 else (("short", float(rng.uniform(5, 12))) if u < 0.7
                                                            else ("long", float(rng.uniform(18, 30))))
    else:
        cold_kind, cold_len = ("none", 0.0) if u < 0.25 else (("short", float(rng.uniform(8, 40))) if u < 0.7
                                                             else ("long", float(rng.uniform(60, 130))))
    if spec.index == 0 and e == 0:
        cold_kind, cold_len = "none", 0.0  # always one intro at exactly 0.000
    ident = cold_kind != "none" and rng.random() < 0.5
    recap = cold_kind != "none" and e > 0 and rng.random() < 0.5
    if ident:
        tl.put(A["ident"], "ident")
        tl.gap(float(rng.uniform(0.2, 0.8)))
    if recap:
        r0 = tl.cursor
        tl.put(A["sting"], "recap_sting")
        v, spd, pit = ANNOUNCER
        tl.put(speak(f"Previously on {spec.title}.", voice=v, speed=spd, pitch=pit, sr=sr), "speech", voice=v)
        tl.gap(0.5)
        for _ in range(2 if quick else int(rng.integers(3, 6))):
            vv, s2, p2 = spec.voices[int(rng.integers(len(spec.voices)))]
            tl.put(speak(sentence(rng, spec.book), voice=vv, speed=s2, pitch=p2, sr=sr), "speech", voice=vv)
            tl.gap(float(rng.uniform(0.4, 0.9)))
        tl.put(A["sting"], "recap_sting")
        tl.events.append({"kind": "recap", "start": round(r0 / sr, 3), "end": round(tl.cursor / sr, 3)})
        tl.gap(float(rng.uniform(0.3, 1.0)))
    if cold_kind != "none":
        _scene(tl, spec, rng, seconds=cold_len, sr=sr, kind="cold_open")
        if rng.random() < 0.3:
            tl.put(A["cue"], "cue")
        tl.gap(0.0 if rng.random() < 0.3 else float(rng.uniform(0.2, 1.5)))
    intro = None
    variation = None
    if has_intro:
        y, variation = _vary_intro(A["theme"], assets, rng, sr=sr, e=e, quick=quick)
        s0, s1 = tl.put(y, "intro")
        if variation["dialogue_over"] is not None:
            v, spd, pit = spec.voices[int(rng.integers(len(spec.voices)))]
            line = speak(sentence(rng, spec.book), voice=v, speed=spd, pitch=pit, sr=sr)
            at = s0 + int(0.5 * sr) if variation["dialogue_over"] == "start" else max(s0, s1 - line.size - int(0.5 * sr))
            tl.mix(line, at)
            tl.events.append({"kind": "speech", "start": round(at / sr, 3), "end": round((at + line.size) / sr, 3),
                              "voice": v, "over": "intro"})
        # sometimes the cold open's ambience bleeds into the first seconds of the intro
        bleed = 0.0
        if cold_kind != "none" and rng.random() < 0.3:
            bleed = round(float(rng.uniform(2.0, 6.0)), 2)
            kind = spec.book["ambience"][int(rng.integers(len(spec.book["ambience"])))]
            n = min(s1 - s0, int(bleed * sr))
            tl.mix(fade(ambience(kind, n, sr=sr, rng=rng), sr=sr, fade_out=n / sr) * db(6.0), s0)
        variation["ambience_bleed"] = bleed
        intro = (s0, s1)
        # a hard cut: the first scene (its ambience bed) starts on the theme's last sample
        variation["hard_cut_after"] = bool(rng.random() < 0.35)
        if not variation["hard_cut_after"]:
            tl.gap(float(rng.uniform(0.3, 1.5)))
    target = float(rng.uniform(40, 65)) if quick else float(rng.uniform(140, 290))
    credits_len = A["credits"].size / sr
    while True:
        left = target - credits_len - tl.cursor / sr
        if left < 6:
            break
        _scene(tl, spec, rng, seconds=min(left, float(rng.uniform(10, 20) if quick else rng.uniform(18, 50))), sr=sr)
        if rng.random() < 0.45 and target - credits_len - tl.cursor / sr > 15:
            tl.gap(0.3)
            tl.put(A["cue"], "cue")
        tl.gap(float(rng.uniform(0.3, 1.0)))
    tl.put(A["credits"], "credits")
    tl.gap(0.5)
    audio = tl.audio()
    # a faint room-tone floor everywhere: no digital silence that would give boundaries away
    audio += ambience("room", audio.size, sr=sr, rng=rng_for(seed, "series", spec.index, "floor", e)) * db(-10.0)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.95:
        audio *= 0.95 / peak
    rel = spec.episode_rel_path(e)
    write_audio(out_dir / rel, audio, sr=sr)
    tl.events.sort(key=lambda ev: (ev["start"], ev["end"]))
    intro_rec = None if intro is None else {"start_sample": intro[0], "end_sample": intro[1],
                                            "start": round(intro[0] / sr, 3), "end": round(intro[1] / sr, 3)}
    return {
        "series": spec.title,
        "series_dir": spec.name,
        "season": SEASON,
        "episode": e + 1,
        "split": spec.split,
        "format": spec.formats[e][1:],
        "sample_rate": sr,
        "duration": round(audio.size / sr, 3),
        "has_intro": intro is not None,
        "intro": intro_rec,
        "cold_open": {"kind": cold_kind, "intro_offset": None if intro is None else round(intro[0] / sr, 3)},
        "ident": ident,
        "recap": recap,
        "intro_variation": variation,
        "theme_asset": assets["files"]["theme"],
        "events": tl.events,
    }
