"""A grouped model (``fit --by … --save``): every group's model in one JSON document.

The document is a model document (``schema: linfit-model``, the same ``schema_version``)
with two more fields instead of a single fit's ``features``/``w``/``b``: ``by`` (the group
columns) and ``groups``, one entry per group in sorted order. An entry is a full model
document with its ``group`` values (column → number or text), or, for a group whose fit
failed, ``{"group", "n_samples", "error"}``. ``fit --by --json`` prints the same document.
No existing key changed meaning, so older single-model files read as before.

Loading validates every field the way a single model's loader does (each group's model
through :meth:`LinearModel.from_doc`, its messages naming the group), so a damaged file is
one ``ModelFileError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .atomic import atomic_write_text
from .errors import OutputError, quote
from .group_keys import value_key
from .limits import MAX_COLUMNS, MAX_MODEL_BYTES
from .model import (
    SCHEMA,
    SCHEMA_VERSION,
    FieldChecker,
    LinearModel,
    check_schema,
    parse_model_text,
    read_model_text,
)


@dataclass
class GroupEntry:
    """One group: its key (canonical texts, see linfit.group_keys), values as written in
    the document, rows fitted, and its model or the error that stopped its fit."""

    key: tuple[str, ...]
    values: dict[str, Any]
    n: int
    model: LinearModel | None = None
    error: str | None = None

    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values.items())


@dataclass
class GroupedModel:
    """One model per group of the ``by`` columns' values."""

    by: list[str]
    target: str
    entries: list[GroupEntry]
    data_source: str | None = None
    #: The file the model was loaded from, for messages (not part of the document).
    source: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.lookup = {e.key: e for e in self.entries}

    def to_doc(self) -> dict[str, Any]:
        from . import __version__

        groups = []
        for e in self.entries:
            if e.model is None:
                groups.append({"group": e.values, "n_samples": e.n, "error": e.error})
            else:
                doc = e.model.to_doc()
                doc["group"] = e.values
                groups.append(doc)
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "linfit_version": __version__,
            "target": self.target,
            "by": list(self.by),
        }
        if self.data_source is not None:
            doc["source"] = self.data_source
        doc["groups"] = groups
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_doc(), indent=2, allow_nan=False)

    def save(self, path: str) -> None:
        """Write the document atomically; one larger than the loader reads is refused."""
        text = self.to_json() + "\n"
        size = len(text.encode("utf-8"))
        if size > MAX_MODEL_BYTES:
            raise OutputError(
                f"{path}: the {len(self.entries):,} groups' models would take "
                f"{size / 2**20:.0f} MB, more than the {MAX_MODEL_BYTES >> 20} MB a model file "
                "may hold (linfit predict would refuse it); fit with --no-stats, or group by "
                "fewer or coarser columns"
            )
        atomic_write_text(path, text)

    @classmethod
    def from_doc(cls, doc: dict[str, Any], source: str = "model") -> GroupedModel:
        """Validate a parsed grouped document; errors name the file, group and field."""
        v = FieldChecker(source)
        check_schema(doc, source, "linfit fit DATA --by COL --save MODEL")
        by = doc.get("by")
        if (
            not isinstance(by, list)
            or not by
            or len(by) > MAX_COLUMNS
            or not all(isinstance(c, str) for c in by)
            or len(set(by)) != len(by)
        ):
            v.fail("by", "a non-empty list of unique column names", by)
        target = v.typed("target", doc.get("target"), str, "a column name")
        data_source = v.optional("source", doc.get("source"), str, "a file name")
        groups = doc.get("groups")
        if not isinstance(groups, list) or not groups:
            v.fail("groups", "a non-empty list of group entries", groups)
        entries: list[GroupEntry] = []
        seen: set[tuple[str, ...]] = set()
        for i, entry in enumerate(groups):
            name = f"groups[{i}]"
            v.typed(name, entry, dict, "an object (a group's model, or its error)")
            values = entry.get("group")
            if not isinstance(values, dict) or set(values) != set(by):
                v.fail(f"{name}.group", f"an object with the keys {quote(', '.join(by))}", values)
            key = []
            for c in by:
                k = value_key(values[c])
                if k is None:
                    v.fail(f"{name}.group.{c}", "a finite number or text", values[c])
                key.append(k)
            key_t = tuple(key)
            if key_t in seen:
                v.fail(f"{name}.group", "a group not listed before", values)
            seen.add(key_t)
            ordered = {c: values[c] for c in by}
            label = ", ".join(f"{c}={values[c]}" for c in by)
            if "error" in entry:
                error = v.typed(f"{name}.error", entry["error"], str, "the group's error text")
                n = v.count(f"{name}.n_samples", entry.get("n_samples", 0))
                entries.append(GroupEntry(key_t, ordered, n, error=error))
                continue
            model = LinearModel.from_doc(entry, f"{source} (group {quote(label)})")
            if model.target != target:
                v.fail(f"{name}.target", f"the target {quote(target)}", model.target)
            entries.append(GroupEntry(key_t, ordered, model.n_samples, model=model))
        return cls(list(by), target, entries, data_source, source=source)


def is_grouped(doc: Any) -> bool:
    """Whether a parsed document is a grouped model (it has ``by`` or ``groups``)."""
    return isinstance(doc, dict) and ("by" in doc or "groups" in doc)


def load_any(path: str) -> LinearModel | GroupedModel:
    """A model file, single or grouped (JSON only: nothing is executed)."""
    doc = parse_model_text(read_model_text(path), path)
    if is_grouped(doc):
        return GroupedModel.from_doc(doc, path)
    return LinearModel.from_doc(doc, path)
