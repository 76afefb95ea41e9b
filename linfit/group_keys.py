"""Group keys of ``--by``: one meaning for the fit and for ``predict`` of a grouped model.

A cell that reads as a finite number (with the CSV options' decimal mark and thousands
separator) is its number: ``4``, ``4.0`` and ``4e0`` are one group, keyed ``4``, as R's
``split()`` groups a numeric column. A number of more than 15 significant digits (an id
such as ``9007199254740993``) is text: two such numbers may read as one float64, and their
groups must not merge (R would merge them; linfit does not). Any other cell is its text,
stripped. Keys are these
canonical texts, one per ``--by`` column; the JSON document writes numbers as numbers.
Only the distinct cells of a block are canonicalised, so the cost is per group, not per row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from .io import CsvOptions, text_cells

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SEP = "\x1f"  # joins a row's cells of several --by columns (a unit separator, not in CSV)


#: Significant digits a decimal may have and still name its own float64 (C's DBL_DIG):
#: distinct numbers of at most 15 digits never read as the same float.
EXACT_DIGITS = 15


def significant_digits(number: str) -> int:
    """Significant digits of a number's text (``007.50e3``: 2)."""
    mantissa = re.split("[eE]", number, maxsplit=1)[0]
    return len(mantissa.lstrip("+-").replace(".", "").strip("0"))


def number_of(text: str) -> float | None:
    """The finite number a (cleaned) cell writes, or None when it is text (also when it has
    more significant digits than a float64 keeps apart)."""
    if not _NUMBER.fullmatch(text) or significant_digits(text) > EXACT_DIGITS:
        return None
    x = float(text)
    return x if math.isfinite(x) else None


def number_text(x: float) -> str:
    """The canonical text of a number: an integer without a decimal point while exact."""
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    return repr(x)


def canonical(text: str, options: CsvOptions | None = None) -> str:
    """A cell's key: its number's canonical text, or the stripped text itself."""
    text = text.strip()
    clean = text
    if options is not None:
        if options.thousands:
            clean = clean.replace(options.thousands, "")
        if options.decimal != ".":
            clean = clean.replace(options.decimal, ".")
    x = number_of(clean)
    return text if x is None else number_text(x)


def key_value(key: str) -> Any:
    """A key as JSON writes it: a number (int when integral) or text."""
    x = number_of(key)
    if x is None:
        return key
    return int(key) if "." not in key and "e" not in key else x


def value_key(value: Any) -> str | None:
    """A model document's group value as a key (None: neither a finite number nor text)."""
    if isinstance(value, str):
        return canonical(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        x = float(value)
    except OverflowError:
        return None
    return number_text(x) if math.isfinite(x) else None


def sorted_keys(keys: list[tuple[str, ...]], width: int) -> list[tuple[str, ...]]:
    """Keys in order: a column's values as numbers when every key's is a number, else as
    text."""
    numeric = [all(number_of(k[j]) is not None for k in keys) for j in range(width)]
    return sorted(keys, key=lambda k: tuple(float(v) if num else v for v, num in zip(k, numeric)))


def cells(frame, columns: list[str]) -> list[np.ndarray]:
    """The group columns' cells of a text frame, stripped."""
    stripped = text_cells(frame, columns)
    return [stripped[c] for c in columns]


def split_rows(
    keys: list[np.ndarray], options: CsvOptions | None = None
) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
    """(key, row positions in increasing order) of each group of a block's rows."""
    joined = keys[0] if len(keys) == 1 else np.array([_SEP.join(t) for t in zip(*keys)])
    uniq, inverse = np.unique(joined, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(uniq)))])
    found: dict[tuple[str, ...], list[np.ndarray]] = {}
    for g, label in enumerate(uniq.tolist()):
        parts = label.split(_SEP) if len(keys) > 1 else [label]
        key = tuple(canonical(c, options) for c in parts)
        found.setdefault(key, []).append(order[bounds[g] : bounds[g + 1]])
    for key, pieces in found.items():
        yield key, pieces[0] if len(pieces) == 1 else np.sort(np.concatenate(pieces))
