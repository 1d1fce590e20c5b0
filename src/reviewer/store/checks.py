"""Small input checks shared by the store functions (raise before anything reaches the DB)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from reviewer.errors import ValidationError

__all__ = ["check_choice", "check_nonneg", "check_text"]


def check_choice(value: object, choices: Iterable[str], *, what: str, allow_none: bool = False) -> str | None:
    """Return ``value`` if it is one of ``choices`` (or None when allowed).

    Raises
    ------
    ValidationError
        naming the bad value and listing the allowed ones.
    """
    choices = tuple(choices)
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices) + (", None" if allow_none else "")
        raise ValidationError(f"{what} must be one of {allowed}; got {value!r}")
    return value


def check_text(value: object, *, what: str, allow_none: bool = False) -> str | None:
    """Return ``value`` if it is a non-empty string (or None when allowed).

    Raises
    ------
    ValidationError
        if it is empty or not a string.
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} must be a non-empty string; got {value!r}")
    return value


def check_nonneg(value: object, *, what: str, allow_none: bool = True) -> float | None:
    """Return ``value`` as a float if it is a finite number >= 0 (or None when allowed).

    Raises
    ------
    ValidationError
        if it is negative, NaN, infinite or not a number.
    """
    if value is None and allow_none:
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be a number of seconds; got {value!r}") from exc
    if not math.isfinite(x) or x < 0:
        raise ValidationError(f"{what} must be a finite number >= 0; got {value!r}")
    return x
