"""Process pools that are safe to start from anywhere, including a Streamlit page.

A ``spawn`` worker re-runs the parent's ``__main__`` file before it unpickles
its task. Under Streamlit (and after ``streamlit.testing.AppTest`` ran a page),
``sys.modules["__main__"]`` is a *page script* with no ``if __name__ ==
"__main__"`` guard: every worker would execute the page, fail, and be replaced
forever. Our task functions live in importable modules, so workers need nothing
from ``__main__``: while a pool starts its workers, :func:`neutral_main` puts an
empty module in its place.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import sys
import types
from typing import Iterator


@contextlib.contextmanager
def neutral_main() -> Iterator[None]:
    """Temporarily replace ``sys.modules["__main__"]`` by an empty module (restored on exit)."""
    original = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if original is not None:
            sys.modules["__main__"] = original


def spawn_executor(max_workers: int) -> cf.ProcessPoolExecutor:
    """A ``spawn`` process pool; submit to it inside :func:`neutral_main` (workers start on submit)."""
    return cf.ProcessPoolExecutor(max_workers=max_workers, mp_context=mp.get_context("spawn"))
