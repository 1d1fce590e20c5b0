"""Deterministic demo library: TV-series episodes with recurring intros, and songs
with known sections, each with exact ground truth (see :mod:`reviewer.demo.build`).

Importing this package is cheap; rendering needs the Debian tools ``fluidsynth``
(+ a GM soundfont), ``espeak-ng`` and ``ffmpeg``.
"""

from __future__ import annotations

from reviewer.demo.build import GENERATOR_VERSION, DemoManifest, build_demo, format_hms

__all__ = ["GENERATOR_VERSION", "DemoManifest", "build_demo", "format_hms"]
