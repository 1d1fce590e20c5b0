"""Import labels from Label Studio JSON and Audacity label files as ``"import"`` labels.

Both readers give ``item key → [(kind, start, end), ...]``; the labels are
added through :func:`reviewer.store.import_truth_labels` with
``source="import"``, which validates every interval against its item, refuses
unknown keys before writing anything, and does not add an interval twice
(importing the same file again adds nothing).

Audacity files carry no item id: the file name (without ``.txt``) is the item
key, as in the export's ``audacity/<key>.txt``; a folder imports every
``*.txt`` in it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from reviewer import store
from reviewer.errors import ValidationError
from reviewer.export.formats import read_audacity
from reviewer.export.labelstudio import read_label_studio

__all__ = ["IMPORT_FORMATS", "ImportResult", "import_labels", "read_labels"]

logger = logging.getLogger(__name__)

#: ``fmt`` values of :func:`import_labels`.
IMPORT_FORMATS = ("auto", "label_studio", "audacity")


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    fmt: str
    items: int
    intervals: int
    added: int


def _detect(path: Path) -> str:
    if path.is_dir() or path.suffix.lower() in (".txt", ".tsv"):
        return "audacity"
    if path.suffix.lower() == ".json":
        return "label_studio"
    raise ValidationError(f"cannot tell the format of {path.name!r}: pass fmt='label_studio' or 'audacity'")


def read_labels(path: str | Path, *, fmt: str = "auto") -> tuple[str, dict[str, list[tuple[str, float, float]]]]:
    """Read a file (or an Audacity folder) into ``(format, key → intervals)``.

    Raises
    ------
    ValidationError
        Unknown format, unreadable or malformed file.
    """
    p = Path(path)
    if fmt not in IMPORT_FORMATS:
        raise ValidationError(f"import format must be one of {IMPORT_FORMATS}; got {fmt!r}")
    if not p.exists():
        raise ValidationError(f"{str(p)!r} does not exist")
    fmt = _detect(p) if fmt == "auto" else fmt
    if fmt == "label_studio":
        return fmt, read_label_studio(p)
    files = sorted(p.glob("*.txt")) + sorted(p.glob("*.tsv")) if p.is_dir() else [p]
    if not files:
        raise ValidationError(f"no Audacity label files (*.txt) in {str(p)!r}")
    return fmt, {f.stem: read_audacity(f) for f in files}


def import_labels(*, session, path: str | Path, fmt: str = "auto", author: str | None = None) -> ImportResult:
    """Add the labels of a Label Studio / Audacity file as ``"import"`` labels.

    Parameters
    ----------
    author : str, optional
        Stored on every new label (default: ``"import:<file name>"``).

    Raises
    ------
    ValidationError, NotFoundError
        A malformed file, an interval outside its item, or keys not in the library.
    """
    fmt, data = read_labels(path, fmt=fmt)
    data = {k: v for k, v in data.items() if v}
    added = store.import_truth_labels(session=session, labels=data, source="import",
                                      author=author or f"import:{Path(path).name}")
    n = sum(len(v) for v in data.values())
    logger.info("imported %s: %d interval(s) of %d item(s), %d new", path, n, len(data), added)
    return ImportResult(fmt=fmt, items=len(data), intervals=n, added=added)
