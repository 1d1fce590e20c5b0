"""The layering contract: the backend never imports streamlit; pages never run SQL or compute features."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "reviewer"
FORBIDDEN_IN_PAGES = ("sqlalchemy", "sqlmodel", "sqlite3", "librosa", "torch", "reviewer.store", "reviewer.features", "soundfile")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_backend_does_not_import_streamlit():
    offenders = [
        str(p.relative_to(ROOT))
        for p in SRC.rglob("*.py")
        if "ui" not in p.relative_to(SRC).parts and any(n.split(".")[0] == "streamlit" for n in _imports(p))
    ]
    assert offenders == []


def test_pages_stay_thin():
    pages = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if any(n == f or n.startswith(f + ".") for f in FORBIDDEN_IN_PAGES))
        for p in pages
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_one_navigation_mode():
    text = (ROOT / "app.py").read_text(encoding="utf-8")
    assert "st.navigation" not in text  # the pages/ folder is the navigation


def test_session_state_keys_are_declared_in_one_module():
    from reviewer.ui import state

    declared = set(state.ALL_KEYS)
    assert all(k.split(".")[0] in {"home", "review", "debug", "listen", "crowd", "data", "auth"} for k in declared)
    for p in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        text = p.read_text(encoding="utf-8")
        assert "st.session_state[\"" not in text and "st.session_state['" not in text, f"{p.name}: use reviewer.ui.state keys"
