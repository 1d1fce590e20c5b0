"""Split by upload date with a fixed cut-off: nothing on or after it trains, nothing before it is held out."""

from __future__ import annotations

import pytest

from reviewer.errors import ValidationError
from reviewer.export.select import ItemRecord, SplitPlan, assign_split


def record(i: int, date: str | None) -> ItemRecord:
    return ItemRecord(item_id=i, key=f"k{i}", path=f"/p/{i}", kind="song", series=None, season=None, episode=None,
                      artist=f"a{i % 3}", title=None, genre=None, duration=100.0, upload_date=date, store_split=None,
                      has_intro=None, group=f"artist:a{i % 3}")


def test_cutoff_holds_out_everything_from_that_date():
    items = [record(i, f"2024-{m:02d}-10") for i, m in enumerate([1, 2, 3, 3, 4, 5, 6, 7])]
    out = {it.key: it for it in assign_split(items, SplitPlan(by="upload_date", cutoff="2024-04-10",
                                                               test_fraction=0.9))}
    test = {k for k, it in out.items() if it.split == "test"}
    assert test == {"k4", "k5", "k6", "k7"}  # the fraction does not matter with a cut-off
    assert max(it.upload_date for it in out.values() if it.split != "test") < "2024-04-10"
    val = assign_split(items, SplitPlan(by="upload_date", cutoff="2024-04-10", val_fraction=0.25))
    vals = [it.upload_date for it in val if it.split == "val"]
    assert vals and min(vals) > max(it.upload_date for it in val if it.split == "train")  # newest before the cut-off
    assert SplitPlan(by="upload_date", cutoff="2024-04-10T12:00:00").cutoff == "2024-04-10"


def test_bad_cutoffs_are_refused():
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        SplitPlan(by="upload_date", cutoff="last spring")
    with pytest.raises(ValidationError, match="needs split by upload_date"):
        SplitPlan(by="group", cutoff="2024-01-01")
    with pytest.raises(ValidationError, match="no upload_date"):
        assign_split([record(0, None)], SplitPlan(by="upload_date", cutoff="2024-01-01"))
