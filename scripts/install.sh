#!/usr/bin/env bash
# Install everything reviewer needs on a fresh Debian 12 / Python 3.11 machine (run as root).
# Idempotent: a second run only checks. Usage: bash scripts/install.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(ffmpeg espeak-ng sox fluidsynth timgm6mb-soundfont fluid-soundfont-gm libchromaprint-tools libsndfile1)
if [[ "${1:-}" == "--dev" ]]; then DEBS+=(chromium chromium-driver); fi

missing=()
for d in "${DEBS[@]}"; do dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d"); done
if (( ${#missing[@]} )); then
  echo "[install] Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "[install] creating .venv"
  "$PY" -m venv .venv
fi
REQ=requirements.txt; [[ "${1:-}" == "--dev" ]] && REQ=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-16)-${REQ}"
if [[ ! -f "$stamp" ]]; then
  echo "[install] pip install -r $REQ (torch==2.13.0 CPU wheel is pinned)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$REQ"
  .venv/bin/pip install -q --no-deps -e .
  touch "$stamp"
fi
echo "[install] ok"
