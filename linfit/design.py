"""Design: a formula's terms applied to blocks of cells, giving numeric design blocks.

This is the layer between ``io`` (which reads and validates cells) and ``accumulate``
(which folds numbers). It knows no files and no solvers.

Streaming with categorical columns whose levels are not known in advance: while reading,
every level seen gets its own indicator column (full dummy coding; a level first seen in a
later block adds a column that was zero for every earlier row — the statistics append a
zero column). Only when the data are read does :meth:`Design.coding` choose R's coding:
treatment contrasts with the first level in sorted order as the reference (numbers sort as
numbers: 4 < 6 < 8; text by code point, as statsmodels does), a factor in an interaction
coded by contrasts when the term without it is in the model, and by all its levels otherwise
(R's rule). The chosen columns are a subset of the accumulated ones, so the statistics of
the final design are the accumulated factor with the other columns deleted.

Coefficients are named as statsmodels names them: ``wt``, ``log(hp)``, ``I(x^2)``,
``C(cyl)[T.6]`` (a contrast column), ``C(g)[a]`` (a level's own column), ``Species[T.virginica]``
(a text column, categorical by itself), interactions joined by ``:``.

:class:`DesignSpec` is what a model file stores (the parsed formula, each categorical
column's levels, the chosen columns): ``predict`` re-applies it to new data, and a level not
seen in training gives that row no prediction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DataError, quote
from .formula import Factor, Formula, evaluate
from .limits import MAX_PARAMS

#: A parser of numeric cells: (cells, column name, lines) → float64 with NaN for missing;
#: raises DataError for a non-numeric cell (io.parse_text_column does this).
NumberParser = Callable[[np.ndarray, str, np.ndarray], np.ndarray]


def level_label(key: Any) -> str:
    """How a level is written in a coefficient name: a number without a needless ``.0``."""
    if isinstance(key, float):
        if key.is_integer() and abs(key) < 1e15:
            return str(int(key))
        return repr(key)
    return str(key)


def _sort_key(key: Any) -> tuple:
    return (0, key, "") if isinstance(key, float) else (1, 0.0, key)


@dataclass(frozen=True)
class Column:
    """One accumulated design column: a term and, for each of its factors, a level key
    (None for a numeric factor)."""

    term: int
    levels: tuple[Any, ...]


class Design:
    """The terms of a formula, applied block by block."""

    def __init__(self, formula: Formula, header: list[str], source: str, na: str = "drop") -> None:
        self.formula = formula
        self.source = source
        self.na = na
        missing = [c for c in formula.columns() if c not in header]
        if missing:
            shown = ", ".join(quote(c) for c in header[:12]) + (", …" if len(header) > 12 else "")
            raise DataError(
                f"{source}: the formula names column {quote(missing[0])}, which is not in the "
                f"file; columns are: {shown}"
            )
        self.columns = formula.columns()
        #: per column read: "numeric" or "text" (decided by the first block that has values)
        self.kinds: dict[str, str] = {}
        #: per categorical column: level key → first line seen, in discovery order
        self.levels: dict[str, dict[Any, int]] = {}
        self.full: list[Column] = []
        self._in_full: set[Column] = set()
        self._terms = list(formula.terms)

    # -- which factors are categorical --------------------------------------------------------
    def _categorical(self, f: Factor) -> bool:
        if f.categorical:
            return True
        return f.expr.kind == "col" and self.kinds.get(f.expr.value) == "text"

    def categorical_columns(self) -> list[str]:
        out: list[str] = []
        for term in self._terms:
            for f in term:
                if self._categorical(f) and f.expr.value not in out:
                    out.append(f.expr.value)
        return out

    # -- one block ---------------------------------------------------------------------------
    def transform(
        self,
        cells: Mapping[str, np.ndarray],
        lines: np.ndarray,
        parse: NumberParser,
        is_number: Callable[[np.ndarray], np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cells of one block (column → stripped text cells) → (V, kept): V has one row per
        accumulated column and the target last, one column per kept row (rows with a missing
        value are dropped, or refused with na="raise").

        ``is_number`` says which cells are numbers or missing (to tell text columns from
        numeric ones); ``parse`` turns cells into float64 (NaN for missing)."""
        m = len(lines)
        self._decide_kinds(cells, is_number)
        self.ensure_numeric_terms()
        nums: dict[str, np.ndarray] = {}
        for c in self.columns:
            if self.kinds.get(c) != "text":
                nums[c] = parse(cells[c], c, lines)
        miss = np.zeros(m, dtype=bool)
        cats = self.categorical_columns()
        for c in cats:
            miss |= np.isnan(nums[c]) if c in nums else _missing_cells(cells[c])
        target = self._target(nums, lines)
        values: dict[int, list[np.ndarray | None]] = {}
        for t, term in enumerate(self._terms):
            values[t] = [
                None if self._categorical(f) else self._numeric_factor(f, nums, lines) for f in term
            ]
            for v in values[t]:
                if v is not None:
                    miss |= np.isnan(v)
        miss |= np.isnan(target)
        for c, v in nums.items():
            if c not in self.formula.target.columns():
                miss |= np.isnan(v)
        if miss.any() and self.na == "raise":
            r = int(np.flatnonzero(miss)[0])
            raise DataError(
                f"{self.source}: missing value at line {int(lines[r])} in a column the formula "
                "uses; fix the file or pass --na drop to skip such rows"
            )
        keep = ~miss
        # levels count only on the rows fitted (as R drops unused levels)
        codes = {c: self._codes(c, cells[c], nums.get(c), lines, keep) for c in cats}
        k = len(self.full)
        V = np.empty((k + 1, int(keep.sum())), dtype=np.float64)
        for j, col in enumerate(self.full):
            V[j] = self._column(col, values[col.term], codes)[keep]
        V[k] = target[keep]
        return V, keep

    def categorical_only(self, c: str) -> bool:
        """Whether column ``c`` enters the model only as a categorical factor (``C(c)``)."""
        if c in self.formula.target.columns():
            return False
        uses = [f for term in self._terms for f in term if c in f.expr.columns()]
        return bool(uses) and all(f.categorical for f in uses)

    def as_text(self, c: str) -> None:
        """Column ``c`` (used only as ``C(c)``) turned out to hold text: its levels, kept so
        far as numbers, become the text they are written as, and it is a text column from
        now on (its levels sort as text, as R sorts a character column)."""
        self.kinds[c] = "text"
        old = self.levels.get(c, {})
        self.levels[c] = {level_label(k) if isinstance(k, float) else k: v for k, v in old.items()}
        for j, col in enumerate(self.full):
            term = self._terms[col.term]
            if any(f.expr.kind == "col" and f.expr.value == c and f.categorical for f in term):
                keys = tuple(
                    level_label(k)
                    if isinstance(k, float) and f.expr.kind == "col" and f.expr.value == c
                    else k
                    for f, k in zip(term, col.levels)
                )
                self.full[j] = Column(col.term, keys)
        self._in_full = set(self.full)

    def _decide_kinds(self, cells: Mapping[str, np.ndarray], is_number) -> None:
        for c in self.columns:
            ok = is_number(cells[c])
            kind = self.kinds.get(c)
            if kind is None:
                if len(ok) and not ok.all():
                    self.kinds[c] = "text"
                elif len(ok) and _has_value(cells[c]):
                    self.kinds[c] = "numeric"
            elif kind == "numeric" and not ok.all() and self.categorical_only(c):
                self.as_text(c)
            elif kind == "numeric" and not ok.all():
                r = int(np.flatnonzero(~ok)[0])
                raise DataError(
                    f"{self.source}: column {quote(c)} holds numbers, then the text "
                    f"{quote(cells[c][r])}; make it categorical from the start with C({c}) in "
                    "the formula, or fix that row"
                )
        for c in self.formula.target.columns():
            if self.kinds.get(c) == "text":
                raise DataError(
                    f"{self.source}: the target column {quote(c)} holds text; the target of a "
                    "fit must be numeric"
                )
        for term in self._terms:
            for f in term:
                if f.categorical or f.expr.kind == "col":
                    continue
                for c in f.expr.columns():
                    if self.kinds.get(c) == "text":
                        raise DataError(
                            f"{self.source}: {f.label()} applies arithmetic to the text "
                            f"(categorical) column {quote(c)}; transforms apply to numbers"
                        )

    def _codes(
        self,
        c: str,
        cells: np.ndarray,
        num: np.ndarray | None,
        lines: np.ndarray,
        keep: np.ndarray,
    ) -> np.ndarray:
        """Level codes (indices into this column's levels; -1 for rows not kept). Levels are
        registered from the kept rows only."""
        levels = self.levels.setdefault(c, {})
        rows = np.flatnonzero(keep)
        if num is not None:  # C(numeric column): levels are numbers
            keys, first, inverse = np.unique(num[rows], return_index=True, return_inverse=True)
            keys = [float(v) for v in keys]
        else:
            keys, first, inverse = np.unique(
                cells[rows].astype(str), return_index=True, return_inverse=True
            )
            keys = [str(v) for v in keys]
        position = {key: i for i, key in enumerate(levels)}
        new = sum(1 for key in keys if key not in position)
        if len(position) + new > MAX_PARAMS:
            raise DataError(
                f"{self.source}: the categorical column {quote(c)} has more than "
                f"{MAX_PARAMS:,} levels, each a coefficient, more than a fit may have; is it an "
                "id? Leave it out of the formula"
            )
        index = []
        for key, at in zip(keys, first):
            if key not in position:
                levels[key] = int(lines[rows[at]])
                position[key] = len(position)
                self.add_level_columns(c, key)
            index.append(position[key])
        codes = np.full(len(cells), -1, dtype=np.int64)
        codes[rows] = np.asarray(index, dtype=np.int64)[inverse.reshape(-1)]
        return codes

    def add_level_columns(self, c: str, key: Any) -> None:
        """Add the accumulated columns a new level of column ``c`` brings."""
        for t, term in enumerate(self._terms):
            cats = [i for i, f in enumerate(term) if self._categorical(f) and f.expr.value == c]
            if not cats:
                continue
            options: list[list[Any]] = []
            for i, f in enumerate(term):
                if i in cats:
                    options.append([key])  # a term holds a column once (terms are deduped)
                elif self._categorical(f):
                    options.append(list(self.levels.get(f.expr.value, {})))
                else:
                    options.append([None])
            for combo in _product(options):
                self._append(Column(t, tuple(combo)))

    def _append(self, col: Column) -> None:
        """Add an accumulated column unless it is there (a set keeps this O(1))."""
        if len(self._in_full) != len(self.full):
            self._in_full = set(self.full)
        if col not in self._in_full:
            self.full.append(col)
            self._in_full.add(col)

    def ensure_numeric_terms(self) -> None:
        """Columns of the terms with no categorical factor, once their columns are known to
        be numeric."""
        for t, term in enumerate(self._terms):
            decided = all(self.kinds.get(c) for f in term for c in f.expr.columns())
            if decided and not any(self._categorical(f) for f in term):
                self._append(Column(t, tuple(None for _ in term)))

    def _numeric_factor(self, f: Factor, nums: dict, lines: np.ndarray) -> np.ndarray:
        cols = {c: nums[c] for c in f.expr.columns()}
        v = evaluate(f.expr, cols)
        v = np.broadcast_to(np.asarray(v, dtype=np.float64), lines.shape).copy()
        _check_domain(f.label(), v, cols, lines, self.source)
        return v

    def _target(self, nums: dict, lines: np.ndarray) -> np.ndarray:
        expr = self.formula.target
        cols = {c: nums[c] for c in expr.columns()}
        v = np.broadcast_to(np.asarray(evaluate(expr, cols), dtype=np.float64), lines.shape)
        _check_domain(expr.label(), v, cols, lines, self.source)
        return v

    def _column(self, col: Column, values: list, codes: dict) -> np.ndarray:
        term = self._terms[col.term]
        out: np.ndarray | None = None
        for f, v, key in zip(term, values, col.levels):
            if v is None:
                c = f.expr.value
                if key is None or key not in self.levels.get(c, {}):  # a stale column
                    return np.zeros(len(codes[c]))
                part = (codes[c] == list(self.levels[c]).index(key)).astype(np.float64)
            else:
                part = v
            out = part if out is None else out * part
        assert out is not None
        return out

    # -- the final coding ------------------------------------------------------------------
    def coding(self) -> DesignSpec:
        """R's coding of the terms, given the levels seen: the chosen accumulated columns (in
        R's order) and their names."""
        chosen: list[int] = []
        names: list[str] = []
        specs: list[list[Any]] = []
        full_first = None  # R: without an intercept, the first factor of the first term that
        if not self.formula.intercept:  # has one is coded by all its levels
            for t, term in enumerate(self._terms):
                cat = [f for f in term if self._categorical(f)]
                if cat:
                    full_first = (t, cat[0])
                    break
        sorted_levels = {c: sorted(levels, key=_sort_key) for c, levels in self.levels.items()}
        where = {col: j for j, col in enumerate(self.full)}
        for t, term in enumerate(self._terms):
            options: list[list[Any]] = []
            labels: list[Callable[[Any], str]] = []
            for f in term:
                if not self._categorical(f):
                    options.append([None])
                    labels.append(lambda _k, f=f: f.label())
                    continue
                c = f.expr.value
                levels = sorted_levels.get(c, [])
                # R's TermCode: contrasts when the term without this factor is empty or lies
                # within an earlier term; all levels otherwise
                rest = frozenset(g for g in term if g != f)
                contrast = not rest or any(rest <= frozenset(u) for u in self._terms[:t])
                if full_first == (t, f):
                    contrast = False
                base = f.label() if f.categorical else _name(c)
                if contrast:
                    if len(levels) < 2:
                        raise DataError(
                            f"{self.source}: the categorical column {quote(c)} has "
                            f"{len(levels)} level{'' if len(levels) == 1 else 's'} in the rows "
                            "fitted; it needs two or more (or leave it out of the formula)"
                        )
                    options.append(levels[1:])
                    labels.append(lambda k, b=base: f"{b}[T.{level_label(k)}]")
                else:
                    options.append(levels)
                    labels.append(lambda k, b=base: f"{b}[{level_label(k)}]")
            # R's column order: the first factor varies fastest
            for combo in _product(options[::-1]):
                combo = combo[::-1]
                col = Column(t, tuple(combo))
                chosen.append(where[col])
                names.append(":".join(lab(k) for lab, k in zip(labels, combo)))
                specs.append([t, list(combo)])
        return DesignSpec(
            formula=self.formula,
            levels={c: list(v) for c, v in sorted_levels.items()},
            columns=specs,
            names=names,
            chosen=chosen,
        )


def _name(c: str) -> str:
    from .formula import Expr

    return Expr("col", c).label()


def _missing_cells(cells: np.ndarray) -> np.ndarray:
    from .io import NA_TOKENS

    return np.isin(cells, list(NA_TOKENS))


def _has_value(cells: np.ndarray) -> bool:
    from .io import NA_TOKENS

    return bool(len(cells)) and not np.isin(cells, list(NA_TOKENS)).all()


def _product(options: list[list[Any]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [()]
    for opts in options:
        out = [p + (o,) for p in out for o in opts]
    return out


def _check_domain(label: str, v: np.ndarray, cols: dict, lines: np.ndarray, source: str) -> None:
    """A transform that turns finite inputs into NaN or ±inf (log of 0 or a negative number,
    exp overflow) is an error naming the term, the line and the value."""
    bad = ~np.isfinite(v)
    if not bad.any():
        return
    inputs_ok = np.ones(len(v), dtype=bool)
    for x in cols.values():
        inputs_ok &= ~np.isnan(x)
    bad &= inputs_ok
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        shown = ", ".join(f"{c} = {float(x[r])!r}" for c, x in cols.items())
        what = "not defined" if np.isnan(v[r]) else "infinite"
        raise DataError(
            f"{source}: {label} is {what} at line {int(lines[r])} ({shown}); fix the value or "
            "choose another transform"
        )


@dataclass
class DesignSpec:
    """The design a model was fitted with: stored in the model file, re-applied by predict."""

    formula: Formula
    levels: dict[str, list[Any]]
    columns: list[list[Any]]  # per coefficient: [term index, [level key or None per factor]]
    names: list[str]
    chosen: list[int] = field(default_factory=list)  # accumulated columns (fit time only)

    def to_data(self) -> dict[str, Any]:
        """The model file's ``formula`` block: the parsed formula (``text``, ``target``,
        ``terms``, ``intercept``), each categorical column's ``levels`` (sorted; the first is
        the reference), and per coefficient its ``columns`` entry and ``names``."""
        return {
            **self.formula.to_data(),
            "levels": self.levels,
            "columns": self.columns,
            "names": self.names,
        }

    @classmethod
    def from_data(cls, data: Any) -> DesignSpec:
        """Validate a stored design (nothing is evaluated)."""
        if not isinstance(data, dict) or not {"levels", "columns", "names"} <= set(data):
            raise ValueError("not a design")
        formula = Formula.from_data(data)
        levels = data["levels"]
        if not isinstance(levels, dict) or not all(
            isinstance(v, list) and all(_valid_key(k) for k in v) for v in levels.values()
        ):
            raise ValueError("'levels' must map columns to lists of levels")
        names, columns = data["names"], data["columns"]
        patterns: dict[int, list[bool]] = {}
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("'names' must be a list of coefficient names")
        if not isinstance(columns, list) or len(columns) != len(names):
            raise ValueError("'columns' must describe each coefficient")
        for col in columns:
            ok = (
                isinstance(col, list)
                and len(col) == 2
                and isinstance(col[0], int)
                and 0 <= col[0] < len(formula.terms)
                and isinstance(col[1], list)
                and len(col[1]) == len(formula.terms[col[0]])
            )
            if not ok:
                raise ValueError("a design column must be [term, [level per factor]]")
            pattern = [key is None for key in col[1]]
            if patterns.setdefault(col[0], pattern) != pattern:
                raise ValueError("the columns of a term must have levels for the same factors")
            for f, key in zip(formula.terms[col[0]], col[1]):
                if key is None:
                    if f.categorical:
                        raise ValueError(f"a column of {f.label()} needs a level")
                    continue
                if f.expr.kind != "col" or key not in levels.get(f.expr.value, []):
                    raise ValueError(f"level {key!r} is not a level of {f.label()}")
        return cls(formula, levels, columns, names)

    def term_columns(self) -> list[str]:
        """The columns the terms read (the target's are not needed to predict)."""
        out: list[str] = []
        for term in self.formula.terms:
            for f in term:
                out += [c for c in f.expr.columns() if c not in out]
        return out

    def target_values(
        self, cells: Mapping[str, np.ndarray], lines: np.ndarray, parse: NumberParser
    ) -> np.ndarray:
        """The target (e.g. log(y)) for rows that have it; NaN where it is missing or not
        defined."""
        expr = self.formula.target
        cols = {c: parse(cells[c], c, lines) for c in expr.columns()}
        return np.broadcast_to(np.asarray(evaluate(expr, cols), dtype=np.float64), lines.shape)

    def matrix(
        self,
        cells: Mapping[str, np.ndarray],
        lines: np.ndarray,
        parse: NumberParser,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model's design for new rows: (X (rows, p), missing, unseen) where ``missing``
        marks rows with a missing value and ``unseen`` rows with a level not seen in
        training (both get no prediction)."""
        m = len(lines)
        cat_cols = {
            f.expr.value
            for t, term in enumerate(self.formula.terms)
            for f, key in zip(term, _keys_of(self.columns, t))
            if key is not None
        }
        text_cols = {c for c in cat_cols if any(isinstance(k, str) for k in self.levels.get(c, []))}
        nums = {c: parse(cells[c], c, lines) for c in self.term_columns() if c not in text_cols}
        missing = np.zeros(m, dtype=bool)
        unseen = np.zeros(m, dtype=bool)
        keys: dict[str, np.ndarray] = {}
        for c in cat_cols:
            if c in nums:
                missing |= np.isnan(nums[c])
                k = nums[c]
                known = np.isin(k, [v for v in self.levels.get(c, []) if not isinstance(v, str)])
            else:
                from .io import NA_TOKENS

                k = cells[c].astype(str)
                absent = np.isin(k, list(NA_TOKENS))
                missing |= absent
                known = np.isin(k, self.levels.get(c, [])) | absent
            unseen |= ~known & ~missing
            keys[c] = k
        X = np.empty((m, len(self.columns)), dtype=np.float64)
        cache: dict[int, list[np.ndarray | None]] = {}
        with np.errstate(all="ignore"):
            for j, (t, combo) in enumerate(self.columns):
                term = self.formula.terms[t]
                if t not in cache:
                    cache[t] = [
                        None
                        if key is not None or (f.categorical)
                        else np.broadcast_to(
                            np.asarray(
                                evaluate(f.expr, {c: nums[c] for c in f.expr.columns()}),
                                dtype=np.float64,
                            ),
                            (m,),
                        )
                        for f, key in zip(term, combo)
                    ]
                out = np.ones(m)
                for f, key, v in zip(term, combo, cache[t]):
                    if key is None and v is not None:
                        out = out * v
                    else:
                        out = out * (keys[f.expr.value] == key)
                X[:, j] = out
        missing |= ~np.isfinite(X).all(axis=1) & ~unseen
        return X, missing, unseen


def _keys_of(columns: list[list[Any]], t: int) -> list[Any]:
    """For term ``t``: per factor, a level key of some column of that term (None: numeric)."""
    for term, combo in columns:
        if term == t:
            return combo
    return []


def _valid_key(k: Any) -> bool:
    if isinstance(k, str):
        return True
    return isinstance(k, (int, float)) and not isinstance(k, bool) and math.isfinite(k)
