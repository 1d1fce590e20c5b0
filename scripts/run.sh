#!/usr/bin/env bash
# One command: install, build the demo library, run the pipeline on it, start the app.
# Usage: bash scripts/run.sh [--port 8501]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=8501
while [[ $# -gt 0 ]]; do case "$1" in --port) PORT="$2"; shift 2;; *) echo "unknown option $1"; exit 2;; esac; done
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m reviewer demo                  # generate + ingest + truth + extract + package (skips what is done)
# the default intro scorer (trained on the demo's train series) unless one is active, then predictions
.venv/bin/python -m reviewer bootstrap
exec .venv/bin/streamlit run app.py --server.headless true --server.address 0.0.0.0 --server.port "$PORT" --browser.gatherUsageStats false
