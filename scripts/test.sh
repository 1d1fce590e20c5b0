#!/usr/bin/env bash
# One command: install (with test tools) and run the test suite (slow checks excluded; add -m slow for them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
