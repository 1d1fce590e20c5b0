"""Labelled-dataset export (tables, seed 001, Label Studio, Audacity, JAMS, packages, clips) and import.

* :mod:`~reviewer.export.select` — filters, the labels to export, leakage-free splits;
* :mod:`~reviewer.export.formats` — tables, seed-001 JSON, Audacity, JAMS;
* :mod:`~reviewer.export.labelstudio` — Label Studio JSON both ways;
* :mod:`~reviewer.export.dataset` — the atomic, never-overwriting writer and its manifest;
* :mod:`~reviewer.export.importer` — Label Studio / Audacity files → ``"import"`` labels.
"""

from reviewer.export.dataset import FORMATS, ExportResult, verify_manifest, write_dataset
from reviewer.export.importer import ImportResult, import_labels, read_labels
from reviewer.export.select import ExportFilters, SplitPlan

__all__ = ["FORMATS", "ExportFilters", "ExportResult", "ImportResult", "SplitPlan", "import_labels",
           "read_labels", "verify_manifest", "write_dataset"]
