"""Composition and rendering for the demo library.

Everything the demo generator plays is composed here as MIDI (pretty_midi) from a
seeded :class:`numpy.random.Generator`, rendered with the ``fluidsynth`` command
line and the small TimGM6mb soundfont, and post-processed with numpy / scipy
(fades, speed change, filtered-noise ambience) or an ``ffmpeg`` round trip
(codec damage, lossy output formats).

The composer works on a list of :class:`SectionPlan` (label, bars, chord
progression, melody motif, drum pattern, key shift, lead instrument). It returns
the MIDI together with the exact section times in seconds, so the ground truth
is a by-product of composition, never a guess.

Time is in seconds, audio is mono float32 at the caller's sample rate.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile as sf
from scipy import signal

from reviewer.errors import ReviewerError

log = logging.getLogger(__name__)

SOUNDFONTS = (
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)
TOOL_PACKAGES = {"fluidsynth": "fluidsynth", "espeak-ng": "espeak-ng", "sox": "sox", "ffmpeg": "ffmpeg"}

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
MODES = {"major": MAJOR, "minor": MINOR, "dorian": DORIAN}

# General MIDI drum keys
KICK, SNARE, SIDESTICK, CLAP, HAT, OPEN_HAT, RIDE, CRASH, TOM_LO, TOM_MID, TOM_HI, SHAKER = (
    36, 38, 37, 39, 42, 46, 51, 49, 45, 47, 50, 70,
)


# --------------------------------------------------------------------------- tools and seeds


def require_tool(name: str) -> str:
    """Path of an external tool, or a :class:`ReviewerError` naming the Debian package."""
    exe = shutil.which(name)
    if exe is None:
        pkg = TOOL_PACKAGES.get(name, name)
        raise ReviewerError(f"the demo generator needs {name!r}: install the Debian package {pkg!r} (apt-get install {pkg})")
    return exe


def soundfont_path() -> str:
    """The first installed GM soundfont (the small TimGM6mb first: fast to render)."""
    for p in SOUNDFONTS:
        if Path(p).is_file():
            return p
    raise ReviewerError("no General MIDI soundfont found: install the Debian package 'timgm6mb-soundfont'")


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """A generator derived from ``seed`` and a path of keys (stable across processes and runs)."""
    words = [int(seed)]
    for k in keys:
        h = hashlib.sha256(str(k).encode("utf-8")).digest()
        words.extend(int.from_bytes(h[i : i + 4], "little") for i in range(0, 16, 4))
    return np.random.default_rng(np.random.SeedSequence(words))


# --------------------------------------------------------------------------- composition records


@dataclass(frozen=True)
class Motif:
    """A melodic cell: onsets and durations in beats, pitches as scale steps from the tonic."""

    onsets: tuple[float, ...]
    durations: tuple[float, ...]
    steps: tuple[int, ...]
    beats: float


@dataclass
class SectionPlan:
    """One section of an arrangement.

    ``progression`` holds scale degrees (0 = tonic), one chord per ``chord_beats``;
    ``motif`` is repeated over the section with light variation; ``drums`` names a
    pattern in :func:`add_drums`; ``key_shift`` transposes all pitched parts.
    """

    label: str
    bars: int
    progression: tuple[int, ...]
    motif: Motif | None = None
    drums: str = "none"
    key_shift: int = 0
    lead_program: int | None = None
    octave: int = 0
    chord_style: str = "block"
    bass_style: str = "root"
    velocity: int = 90
    double_lead: bool = False
    crash: bool = False
    fill: bool = False


@dataclass
class Style:
    """Instrumentation and feel of a piece (a genre, a series theme, a jingle)."""

    name: str
    mode: str = "major"
    root: int = 60
    lead: int = 80
    chords: int = 0
    bass: int | None = 33
    pad: int | None = None
    beats_per_bar: int = 4
    swing: float = 0.0
    lead_velocity: int = 100
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SectionTime:
    """A composed section in seconds."""

    label: str
    start: float
    end: float


@dataclass
class Composition:
    """Rendered-to-be MIDI with its exact section times."""

    midi: pretty_midi.PrettyMIDI
    sections: list[SectionTime]
    tempo: float
    duration: float


# --------------------------------------------------------------------------- generators of material


def make_motif(rng: np.random.Generator, *, beats: float = 8.0, density: float = 0.55, low: int = 0, high: int = 7,
               hook: bool = False) -> Motif:
    """A random melodic cell on an eighth-note grid (hooks are denser, with a repeated-note figure)."""
    grid = np.arange(0.0, beats, 0.5)
    p = np.where(grid % 1.0 == 0.0, min(1.0, density + 0.25), density * 0.6)
    keep = rng.random(grid.size) < p
    keep[0] = True
    onsets = grid[keep]
    durs = np.diff(np.append(onsets, beats))
    durs = np.minimum(durs, rng.choice([0.5, 1.0, 1.5, 2.0], size=durs.size))
    steps = []
    cur = int(rng.integers(low, high + 1))
    for i in range(onsets.size):
        if hook and i in (1, 2) and onsets.size > 3:
            steps.append(steps[-1])  # repeated note: a catchy figure
            continue
        move = int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]))
        cur = int(np.clip(cur + move, low, high))
        steps.append(cur)
    return Motif(tuple(float(x) for x in onsets), tuple(float(x) for x in durs), tuple(steps), float(beats))


def vary_motif(rng: np.random.Generator, m: Motif, *, amount: float = 0.25) -> Motif:
    """A variation of a motif: some steps nudged, same rhythm."""
    steps = [s + int(rng.choice([-1, 1])) if rng.random() < amount else s for s in m.steps]
    return Motif(m.onsets, m.durations, tuple(steps), m.beats)


def scale_pitch(step: int, *, root: int, mode: str) -> int:
    """MIDI pitch of a scale step (any integer; 7 = one octave up)."""
    sc = MODES[mode]
    octave, idx = divmod(step, len(sc))
    return root + 12 * octave + sc[idx]


def chord_pitches(degree: int, *, root: int, mode: str, size: int = 3) -> list[int]:
    """Triad (or seventh) stacked in thirds on a scale degree."""
    return [scale_pitch(degree + 2 * i, root=root, mode=mode) for i in range(size)]


# --------------------------------------------------------------------------- part writers


class Arranger:
    """Collects instruments by (program, drum) while sections are written."""

    def __init__(self, tempo: float, style: Style) -> None:
        self.tempo = float(tempo)
        self.beat = 60.0 / self.tempo
        self.style = style
        self.pm = pretty_midi.PrettyMIDI(initial_tempo=self.tempo)
        self._inst: dict[tuple[int, bool], pretty_midi.Instrument] = {}

    def inst(self, program: int, *, drum: bool = False) -> pretty_midi.Instrument:
        key = (int(program), bool(drum))
        if key not in self._inst:
            ins = pretty_midi.Instrument(program=int(program), is_drum=drum, name=f"{'drums' if drum else program}")
            self._inst[key] = ins
            self.pm.instruments.append(ins)
        return self._inst[key]

    def note(self, ins: pretty_midi.Instrument, pitch: int, t0: float, t1: float, vel: int) -> None:
        pitch = int(np.clip(pitch, 0, 127))
        vel = int(np.clip(vel, 1, 127))
        if t1 > t0:
            ins.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=float(t0), end=float(t1)))


def add_chords(ar: Arranger, sec: SectionPlan, t0: float, rng: np.random.Generator) -> None:
    st = ar.style
    root = st.root + sec.key_shift
    bpb = st.beats_per_bar
    n_beats = sec.bars * bpb
    # one chord per bar, cycling; a progression longer than the section gets shorter chords
    per = bpb if len(sec.progression) <= sec.bars else max(1, n_beats // len(sec.progression))
    ins = ar.inst(st.chords)
    pad = ar.inst(st.pad) if st.pad is not None else None
    b = 0
    i = 0
    while b < n_beats:
        deg = sec.progression[i % len(sec.progression)]
        pitches = chord_pitches(deg, root=root - 12, mode=st.mode, size=3)
        cs = t0 + b * ar.beat
        ce = t0 + min(n_beats, b + per) * ar.beat
        vel = sec.velocity - 15
        if sec.chord_style == "arp":
            k = 0
            t = cs
            pat = pitches + [pitches[1] + 0, pitches[0] + 12]
            while t < ce - 1e-6:
                ar.note(ins, pat[k % len(pat)], t, min(ce, t + ar.beat), vel - 5)
                t += ar.beat / 2
                k += 1
        elif sec.chord_style == "strum":
            for beat in range(int(round((ce - cs) / ar.beat))):
                tt = cs + beat * ar.beat
                for j, p in enumerate(pitches + [pitches[0] + 12]):
                    ar.note(ins, p, tt + 0.012 * j, tt + ar.beat * 0.9, vel - (0 if beat % 2 == 0 else 12))
        elif sec.chord_style == "stabs":
            for beat in range(int(round((ce - cs) / ar.beat))):
                tt = cs + beat * ar.beat + ar.beat / 2
                for p in pitches:
                    ar.note(ins, p + 12, tt, tt + ar.beat * 0.3, vel)
        elif sec.chord_style == "power":
            for e in range(int(round((ce - cs) / (ar.beat / 2)))):
                tt = cs + e * ar.beat / 2
                for p in (pitches[0], pitches[0] + 7, pitches[0] + 12):
                    ar.note(ins, p - 12, tt, tt + ar.beat * 0.45, vel)
        else:  # block
            for p in pitches:
                ar.note(ins, p, cs, ce - 0.02, vel)
        if pad is not None:
            for p in pitches:
                ar.note(pad, p + 12, cs, ce, vel - 25)
        b += per
        i += 1


def add_bass(ar: Arranger, sec: SectionPlan, t0: float, rng: np.random.Generator) -> None:
    st = ar.style
    if st.bass is None or sec.bass_style == "none":
        return
    root = st.root + sec.key_shift - 24
    bpb = st.beats_per_bar
    n_beats = sec.bars * bpb
    per = bpb if len(sec.progression) <= sec.bars else max(1, n_beats // len(sec.progression))
    ins = ar.inst(st.bass)
    b, i = 0, 0
    while b < n_beats:
        deg = sec.progression[i % len(sec.progression)]
        p = scale_pitch(deg, root=root, mode=st.mode)
        cs = t0 + b * ar.beat
        n = per
        if sec.bass_style == "eighths":
            for e in range(n * 2):
                ar.note(ins, p, cs + e * ar.beat / 2, cs + (e + 0.9) * ar.beat / 2, sec.velocity)
        elif sec.bass_style == "walk":
            for e in range(n):
                pp = p + (0, 7, 12, 7)[e % 4]
                ar.note(ins, pp, cs + e * ar.beat, cs + (e + 0.9) * ar.beat, sec.velocity)
        elif sec.bass_style == "long":
            ar.note(ins, p, cs, cs + n * ar.beat - 0.02, sec.velocity - 10)
        else:  # root on 1 and 3
            for e in range(0, n, 2):
                ar.note(ins, p, cs + e * ar.beat, cs + (e + 1.7) * ar.beat, sec.velocity)
        b += per
        i += 1


DRUM_PATTERNS = {
    # per 8th step of a 4/4 bar: list of (key, velocity)
    "rock": {0: [(KICK, 110), (HAT, 80)], 1: [(HAT, 60)], 2: [(SNARE, 105), (HAT, 80)], 3: [(HAT, 60)],
             4: [(KICK, 105), (HAT, 80)], 5: [(KICK, 90), (HAT, 60)], 6: [(SNARE, 105), (HAT, 80)], 7: [(HAT, 60)]},
    "four": {0: [(KICK, 115)], 1: [(OPEN_HAT, 70)], 2: [(KICK, 115), (CLAP, 95)], 3: [(OPEN_HAT, 70)],
             4: [(KICK, 115)], 5: [(OPEN_HAT, 70)], 6: [(KICK, 115), (CLAP, 95)], 7: [(OPEN_HAT, 70)]},
    "hiphop": {0: [(KICK, 115), (HAT, 70)], 1: [(HAT, 50)], 2: [(SNARE, 110), (HAT, 70)], 3: [(KICK, 95), (HAT, 50)],
               4: [(HAT, 70)], 5: [(KICK, 105), (HAT, 50)], 6: [(SNARE, 110), (HAT, 70)], 7: [(HAT, 50)]},
    "ballad": {0: [(KICK, 90), (RIDE, 55)], 2: [(SIDESTICK, 80), (RIDE, 55)], 4: [(RIDE, 55)],
               5: [(KICK, 70)], 6: [(SIDESTICK, 80), (RIDE, 55)]},
    "folk": {0: [(KICK, 80), (SHAKER, 50)], 1: [(SHAKER, 40)], 2: [(SHAKER, 50), (SIDESTICK, 70)], 3: [(SHAKER, 40)],
             4: [(KICK, 75), (SHAKER, 50)], 5: [(SHAKER, 40)], 6: [(SHAKER, 50), (SIDESTICK, 70)], 7: [(SHAKER, 40)]},
    "hats": {i: [(HAT, 55 + 10 * (i % 2 == 0))] for i in range(8)},
    "half": {0: [(KICK, 100), (RIDE, 60)], 2: [(RIDE, 60)], 4: [(SNARE, 100), (RIDE, 60)], 6: [(RIDE, 60)]},
    "build": {i: [(SNARE, 60 + 6 * i)] + ([(KICK, 100)] if i % 2 == 0 else []) for i in range(8)},
    "march": {0: [(KICK, 100), (SNARE, 90)], 1: [(SNARE, 50)], 2: [(SNARE, 80)], 3: [(SNARE, 50)],
              4: [(KICK, 100), (SNARE, 90)], 5: [(SNARE, 50)], 6: [(SNARE, 80)], 7: [(SNARE, 60)]},
}


def add_drums(ar: Arranger, sec: SectionPlan, t0: float) -> None:
    if sec.drums == "none":
        return
    ins = ar.inst(0, drum=True)
    pat = DRUM_PATTERNS[sec.drums]
    step = ar.beat / 2
    swing = ar.style.swing * step
    for bar in range(sec.bars):
        bt = t0 + bar * 8 * step
        last = bar == sec.bars - 1
        for s in range(8):
            t = bt + s * step + (swing if s % 2 else 0.0)
            if last and sec.fill and s >= 4:
                ar.note(ins, (TOM_HI, TOM_MID, TOM_LO, SNARE)[s - 4], t, t + step * 0.5, 100)
                continue
            for key, vel in pat.get(s, []):
                ar.note(ins, key, t, t + step * 0.5, vel)
        if bar == 0 and sec.crash:
            ar.note(ins, CRASH, bt, bt + 4 * step, 110)


def add_melody(ar: Arranger, sec: SectionPlan, t0: float, rng: np.random.Generator) -> None:
    if sec.motif is None:
        return
    st = ar.style
    prog = sec.lead_program if sec.lead_program is not None else st.lead
    ins = ar.inst(prog)
    root = st.root + sec.key_shift + 12 * sec.octave
    m = sec.motif
    total = sec.bars * st.beats_per_bar
    rep = 0
    b = 0.0
    while b < total - 1e-6:
        mm = m if rep % 2 == 0 or rep == 0 else vary_motif(rng, m, amount=0.15)
        last_rep = b + m.beats >= total - 1e-6
        for k, (on, du, stp) in enumerate(zip(mm.onsets, mm.durations, mm.steps)):
            if b + on >= total:
                break
            if last_rep and k == len(mm.onsets) - 1:
                stp = 0 if stp < 4 else 7  # cadence on the tonic
            p = scale_pitch(stp, root=root, mode=st.mode)
            ts = t0 + (b + on) * ar.beat
            te = t0 + min(total, b + on + du) * ar.beat - 0.03
            ar.note(ins, p, ts, te, st.lead_velocity - (0 if on % 1 == 0 else 10))
            if sec.double_lead:
                ar.note(ar.inst(st.extra.get("double", 61)), p - 12, ts, te, st.lead_velocity - 20)
        b += m.beats
        rep += 1


def compose(plan: list[SectionPlan], style: Style, *, tempo: float, rng: np.random.Generator,
            tail_chord: bool = True) -> Composition:
    """Write every section of ``plan`` back to back; returns MIDI and exact section times."""
    ar = Arranger(tempo, style)
    t = 0.0
    times: list[SectionTime] = []
    for sec in plan:
        length = sec.bars * style.beats_per_bar * ar.beat
        add_chords(ar, sec, t, rng)
        add_bass(ar, sec, t, rng)
        add_drums(ar, sec, t)
        add_melody(ar, sec, t, rng)
        times.append(SectionTime(sec.label, round(t, 6), round(t + length, 6)))
        t += length
    if tail_chord and plan:
        # a final held tonic chord (1 bar) closes the piece
        last = plan[-1]
        ins = ar.inst(style.chords)
        for p in chord_pitches(0, root=style.root + last.key_shift - 12, mode=style.mode):
            ar.note(ins, p, t, t + style.beats_per_bar * ar.beat, 80)
        if style.bass is not None:
            ar.note(ar.inst(style.bass), style.root + last.key_shift - 24, t, t + style.beats_per_bar * ar.beat, 90)
        end = t + style.beats_per_bar * ar.beat
        times[-1] = SectionTime(times[-1].label, times[-1].start, round(end, 6))
        t = end
    return Composition(ar.pm, times, float(tempo), float(t))


# --------------------------------------------------------------------------- rendering and audio helpers


def render_midi(pm: pretty_midi.PrettyMIDI, *, sr: int, duration: float, release: float = 0.6,
                gain: float = 0.5) -> np.ndarray:
    """Render MIDI with fluidsynth into mono float32 of exactly ``duration + release`` seconds.

    The last ``release`` seconds fade out so every rendering ends cleanly.
    """
    exe = require_tool("fluidsynth")
    sf2 = soundfont_path()
    with tempfile.TemporaryDirectory(prefix="reviewer-demo-") as tmp:
        mid = Path(tmp) / "x.mid"
        wav = Path(tmp) / "x.wav"
        pm.write(str(mid))
        cmd = [exe, "-ni", "-q", "-g", f"{gain:.3f}", "-r", str(int(sr)), "-F", str(wav), "-T", "wav", sf2, str(mid)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0 or not wav.is_file():
            raise ReviewerError(f"fluidsynth failed ({res.returncode}): {res.stderr.strip()[:400]}")
        y, file_sr = sf.read(str(wav), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    n = int(round((duration + release) * sr))
    if y.size < n:
        y = np.concatenate([y, np.zeros(n - y.size, np.float32)])
    y = y[:n].copy()
    return fade(y, sr=sr, fade_in=0.0, fade_out=release)


def fade(y: np.ndarray, *, sr: int, fade_in: float = 0.0, fade_out: float = 0.0) -> np.ndarray:
    """Linear-in-amplitude fades (seconds) at both ends; returns a new array."""
    y = np.array(y, dtype=np.float32, copy=True)
    ni = min(y.size, int(round(fade_in * sr)))
    no = min(y.size, int(round(fade_out * sr)))
    if ni > 0:
        y[:ni] *= np.linspace(0.0, 1.0, ni, dtype=np.float32)
    if no > 0:
        y[-no:] *= np.linspace(1.0, 0.0, no, dtype=np.float32)
    return y


def db(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


def rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0


def normalize_rms(y: np.ndarray, target_db: float) -> np.ndarray:
    r = rms(y)
    return (y * (db(target_db) / r)).astype(np.float32) if r > 0 else y.astype(np.float32)


def change_speed(y: np.ndarray, speed: float) -> np.ndarray:
    """Play ``speed`` times faster (tape-style: pitch follows), by polyphase resampling."""
    if abs(speed - 1.0) < 1e-9:
        return y.astype(np.float32)
    fr = Fraction(speed).limit_denominator(200)
    # speed up = fewer samples: resample by down/up = 1/speed
    return signal.resample_poly(y, fr.denominator, fr.numerator).astype(np.float32)


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return y.astype(np.float32)
    fr = Fraction(sr_out, sr_in)
    return signal.resample_poly(y, fr.numerator, fr.denominator).astype(np.float32)


def align_to(ref: np.ndarray, y: np.ndarray, *, max_lag: int) -> np.ndarray:
    """Shift ``y`` so it lines up with ``ref`` (codec delay), trimmed/padded to ``ref``'s length."""
    n = min(ref.size, y.size, max_lag * 20)
    a = ref[:n].astype(np.float64)
    b = y[: n + max_lag].astype(np.float64)
    corr = signal.correlate(b, a, mode="valid", method="fft")
    lag = int(np.argmax(corr[: max_lag + 1]))
    out = y[lag:]
    if out.size < ref.size:
        out = np.concatenate([out, np.zeros(ref.size - out.size, np.float32)])
    return out[: ref.size].astype(np.float32)


def codec_roundtrip(y: np.ndarray, *, sr: int, codec: str) -> np.ndarray:
    """Encode through a low-bitrate lossy codec with ffmpeg and decode back (aligned to the input)."""
    exe = require_tool("ffmpeg")
    enc = {"mp3": ("libmp3lame", "32k", "mp3"), "ogg": ("libvorbis", "40k", "ogg")}[codec]
    with tempfile.TemporaryDirectory(prefix="reviewer-demo-") as tmp:
        src = Path(tmp) / "in.wav"
        mid = Path(tmp) / f"mid.{enc[2]}"
        out = Path(tmp) / "out.wav"
        sf.write(str(src), y, sr, subtype="PCM_16")
        _ffmpeg(exe, ["-i", str(src), "-c:a", enc[0], "-b:a", enc[1], str(mid)])
        _ffmpeg(exe, ["-i", str(mid), "-ac", "1", "-ar", str(sr), str(out)])
        z, _ = sf.read(str(out), dtype="float32", always_2d=True)
    return align_to(y, z.mean(axis=1), max_lag=int(0.2 * sr))


def _ffmpeg(exe: str, args: list[str]) -> None:
    cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1"] + args
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise ReviewerError(f"ffmpeg failed ({res.returncode}): {res.stderr.strip()[:400]}")


def write_audio(path: Path, y: np.ndarray, *, sr: int) -> None:
    """Write mono audio by extension: .flac / .wav (soundfile), .ogg / .mp3 / .mp4 (ffmpeg, bit-exact).

    An .mp4 gets a tiny black video track plus AAC audio, so the video decode
    path of the pipeline is exercised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    y = np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0)
    ext = path.suffix.lower()
    tmp_out = path.with_name(path.stem + ".part" + path.suffix)
    if ext in (".flac", ".wav"):
        sf.write(str(tmp_out), y, sr, subtype="PCM_16", format=ext[1:].upper())
        tmp_out.replace(path)
        return
    exe = require_tool("ffmpeg")
    with tempfile.TemporaryDirectory(prefix="reviewer-demo-") as tmp:
        src = Path(tmp) / "in.wav"
        sf.write(str(src), y, sr, subtype="PCM_16")
        bitexact = ["-fflags", "+bitexact", "-flags", "+bitexact", "-map_metadata", "-1"]
        if ext == ".ogg":
            args = ["-i", str(src), "-c:a", "libvorbis", "-q:a", "4"] + bitexact + [str(tmp_out)]
        elif ext == ".mp3":
            args = ["-i", str(src), "-c:a", "libmp3lame", "-b:a", "128k", "-reservoir", "0"] + bitexact + [str(tmp_out)]
        elif ext == ".mp4":
            dur = y.size / sr
            args = ["-f", "lavfi", "-i", f"color=c=black:s=64x64:r=2:d={dur:.3f}", "-i", str(src),
                    "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-shortest"] + bitexact + [str(tmp_out)]
        else:
            raise ReviewerError(f"unsupported demo output format {ext!r} for {path}")
        _ffmpeg(exe, args)
    tmp_out.replace(path)


# --------------------------------------------------------------------------- ambience


def ambience(kind: str, n: int, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Filtered-noise backgrounds: ``room`` tone, ``street`` (traffic swells), ``rain``, ``wind``, ``hum``."""
    white = rng.standard_normal(n).astype(np.float64)
    t = np.arange(n) / sr
    if kind == "room":
        b, a = signal.butter(2, 300 / (sr / 2), btype="low")
        y = signal.lfilter(b, a, white) + 0.002 * np.sin(2 * np.pi * 120 * t)
        level = -44
    elif kind == "street":
        b, a = signal.butter(2, [80 / (sr / 2), 1500 / (sr / 2)], btype="band")
        y = signal.lfilter(b, a, white)
        env = np.ones(n)
        for _ in range(max(1, int(n / sr / 6))):  # passing cars
            c = rng.uniform(0, n / sr)
            w = rng.uniform(1.5, 4.0)
            env += 3.0 * np.exp(-0.5 * ((t - c) / (w / 2)) ** 2)
        y = y * env
        level = -36
    elif kind == "rain":
        b, a = signal.butter(2, 2000 / (sr / 2), btype="high")
        y = signal.lfilter(b, a, white)
        drops = (rng.random(n) < 30 / sr) * rng.uniform(2, 6, n)
        y = y + signal.lfilter([1.0], [1.0, -0.9], drops * rng.standard_normal(n))
        level = -38
    elif kind == "wind":
        b, a = signal.butter(2, [200 / (sr / 2), 900 / (sr / 2)], btype="band")
        env = 1.0 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 6.28))
        y = signal.lfilter(b, a, white) * env
        level = -38
    else:  # hum
        y = 0.3 * white * 0.01 + sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3))
        level = -46
    return normalize_rms(y.astype(np.float32), level)
