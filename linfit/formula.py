"""Model formulas in Wilkinson notation, as R's ``lm()`` and statsmodels write them — parsed
as data, never evaluated as code.

    mpg ~ wt * hp + C(cyl)          log(Volume) ~ log(Girth) + log(Height)
    y ~ x + I(x^2) - 1              `Sepal.Length` ~ `Petal Length (cm)` + Species

A formula becomes a :class:`Formula`: the target expression and an ordered list of terms,
each term a tuple of factors (an interaction when there are several), plus whether there is an
intercept. Term algebra follows R's ``terms.formula``: ``+`` adds, ``-`` removes, ``a:b`` is
the interaction, ``a*b`` = ``a + b + a:b``, ``a/b`` = ``a + a:b``, ``(a+b)^2`` all
interactions up to order 2, ``a %in% b`` = ``a:b``, ``0``/``-1`` drop the intercept and ``1``
keeps it; terms are ordered by their number of factors, then as written (R's default).

A factor is a column (``x``, `` `a name` ``), a categorical column (``C(g)`` or
``factor(g)``), or an arithmetic expression of columns: the functions ``log log2 log10 log1p
exp sqrt abs`` and ``I(...)`` with ``+ - * / ^ **`` (``^`` and ``**`` both mean power, as R
and Python users write them). Nothing else is accepted: there are no strings, attributes,
subscripts or other names, so ``I(__import__('os').system(...))`` is a syntax error, not a
call. Expressions are evaluated by :func:`evaluate` with a fixed table of numpy functions.

Written by hand rather than with formulaic's parser (which also parses without evaluating)
because importing that parser costs ~0.8 s of start-up (it pulls formulaic's materialisers,
transforms and scipy) — more than a whole fit of a small file — and its messages carry
terminal escape codes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import UsageError, quote

#: Functions a formula may apply to a numeric column (name → numpy function).
FUNCTIONS: dict[str, Any] = {
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
}
#: Wrappers: I(...) protects arithmetic; C(...) and factor(...) make a column categorical.
CATEGORICAL = ("C", "factor")
_BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}


class FormulaError(UsageError):
    """A formula that cannot be parsed (exit 2); the message points at the place."""


# -- expressions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Expr:
    """An arithmetic expression of columns: a tree of plain data (JSON round-trips it).

    ``kind`` is "col" (``value`` = column name), "num" (``value`` = number), "fn" (``value`` =
    function name, one argument), "neg" (one argument) or a binary operator ``+ - * / ^``.
    """

    kind: str
    value: Any = None
    args: tuple[Expr, ...] = ()

    def columns(self) -> list[str]:
        """The columns the expression reads, in order of appearance."""
        if self.kind == "col":
            return [self.value]
        out: list[str] = []
        for a in self.args:
            out += [c for c in a.columns() if c not in out]
        return out

    def label(self, top: bool = True) -> str:
        """The expression as R would print it in a coefficient name: ``log(hp)``,
        ``I(x^2)``, ``x``."""
        text = self._text()
        if top and self.kind not in ("col", "fn"):
            return f"I({text})"
        return text

    def _text(self, parent: int = 0) -> str:
        if self.kind == "col":
            name = self.value
            return name if _PLAIN_NAME.fullmatch(name) else "`" + name.replace("`", "``") + "`"
        if self.kind == "num":
            v = self.value
            return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))
        if self.kind == "fn":
            return f"{self.value}({self.args[0]._text()})"
        if self.kind == "neg":
            return f"-{self.args[0]._text(3)}"
        prec = _PREC[self.kind]
        left = self.args[0]._text(prec + (1 if self.kind == "^" else 0))
        right = self.args[1]._text(prec + (0 if self.kind == "^" else 1))
        # R's deparse: spaces around + - *, none around / and ^ (``I(disp/100)``, ``I(x^2)``)
        text = f"{left}{self.kind}{right}" if self.kind in "/^" else f"{left} {self.kind} {right}"
        return f"({text})" if prec < parent else text

    def to_data(self) -> Any:
        """Plain JSON data: ``{"col": "x"}``, ``{"num": 2}``, ``{"fn": "log", "args": [...]}``,
        ``{"op": "+", "args": [...]}``."""
        if self.kind == "col":
            return {"col": self.value}
        if self.kind == "num":
            return {"num": self.value}
        if self.kind == "fn":
            return {"fn": self.value, "args": [a.to_data() for a in self.args]}
        return {"op": self.kind, "args": [a.to_data() for a in self.args]}

    @classmethod
    def from_data(cls, data: Any, depth: int = 0) -> Expr:
        """Rebuild (and validate) an expression from :meth:`to_data`'s output."""
        if depth > 100 or not isinstance(data, dict) or len(data) not in (1, 2):
            raise ValueError("not a formula expression")
        if set(data) == {"col"} and isinstance(data["col"], str):
            return cls("col", data["col"])
        if set(data) == {"num"}:
            v = data["num"]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError("a formula number must be finite")
            return cls("num", float(v))
        args = data.get("args")
        if not isinstance(args, list):
            raise ValueError("not a formula expression")
        kids = tuple(cls.from_data(a, depth + 1) for a in args)
        if set(data) == {"fn", "args"} and data["fn"] in FUNCTIONS and len(kids) == 1:
            return cls("fn", data["fn"], kids)
        if set(data) == {"op", "args"}:
            if data["op"] == "neg" and len(kids) == 1:
                return cls("neg", None, kids)
            if data["op"] in _BINARY and len(kids) == 2:
                return cls(data["op"], None, kids)
        raise ValueError("not a formula expression")


#: R's syntactic names, letters of any script included (as R reads them in a UTF-8 locale).
_PLAIN_NAME = re.compile(r"(?:[^\W\d]|\.)[\w.]*")
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4}


def evaluate(expr: Expr, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate ``expr`` on float64 column arrays (a fixed table of numpy functions; no
    Python evaluation). Domain errors give NaN or inf, which the caller reports."""
    with np.errstate(all="ignore"):
        return _eval(expr, columns)


def _eval(e: Expr, cols: Mapping[str, np.ndarray]) -> np.ndarray:
    if e.kind == "col":
        return np.asarray(cols[e.value], dtype=np.float64)
    if e.kind == "num":
        return np.float64(e.value)
    if e.kind == "fn":
        return FUNCTIONS[e.value](_eval(e.args[0], cols))
    if e.kind == "neg":
        return np.negative(_eval(e.args[0], cols))
    return _BINARY[e.kind](_eval(e.args[0], cols), _eval(e.args[1], cols))


# -- factors, terms, formulas ---------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """One factor of a term: a numeric expression, or a categorical column."""

    expr: Expr
    categorical: bool = False  # C(col) / factor(col); a text column becomes one later

    def label(self) -> str:
        if self.categorical:
            return f"C({self.expr._text()})"
        return self.expr.label()

    def to_data(self) -> Any:
        return {"expr": self.expr.to_data(), "categorical": self.categorical}

    @classmethod
    def from_data(cls, data: Any) -> Factor:
        if not isinstance(data, dict) or set(data) != {"expr", "categorical"}:
            raise ValueError("not a formula factor")
        if not isinstance(data["categorical"], bool):
            raise ValueError("not a formula factor")
        expr = Expr.from_data(data["expr"])
        if data["categorical"] and expr.kind != "col":
            raise ValueError("a categorical factor is one column")
        return cls(expr, data["categorical"])


Term = tuple[Factor, ...]


def term_label(term: Term) -> str:
    """R's name for a term: its factors joined by ``:`` (``wt:hp``, ``log(hp)``)."""
    return ":".join(f.label() for f in term)


@dataclass(frozen=True)
class Formula:
    """A parsed formula: the target, the terms in R's order, and the intercept."""

    target: Expr
    terms: tuple[Term, ...]
    intercept: bool
    text: str

    def columns(self) -> list[str]:
        """Every column the formula reads (target first), in order of appearance."""
        out = list(self.target.columns())
        for term in self.terms:
            for f in term:
                out += [c for c in f.expr.columns() if c not in out]
        return out

    def to_data(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "target": self.target.to_data(),
            "terms": [[f.to_data() for f in t] for t in self.terms],
            "intercept": self.intercept,
        }

    @classmethod
    def from_data(cls, data: Any) -> Formula:
        """Rebuild a formula stored in a model file (validated; nothing is evaluated)."""
        if not isinstance(data, dict) or not {"target", "terms", "intercept"} <= set(data):
            raise ValueError("not a formula")
        if not isinstance(data["terms"], list) or not isinstance(data["intercept"], bool):
            raise ValueError("not a formula")
        terms = []
        for t in data["terms"]:
            if not isinstance(t, list) or not t:
                raise ValueError("a formula term is a non-empty list of factors")
            terms.append(tuple(Factor.from_data(f) for f in t))
        text = data.get("text", "")
        return cls(Expr.from_data(data["target"]), tuple(terms), data["intercept"], str(text))


# -- the parser ------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<name>(?:[^\W\d]|\.)[\w.]*)
      | `(?P<quoted>(?:[^`]|``)*)`
      | (?P<op>%in%|\*\*|[~+\-*/:^(),])
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str  # num, name, quoted, op, end
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos]
            what = "an unclosed backtick" if bad == "`" else f"the character {bad!r}"
            raise FormulaError(_where(text, pos, f"{what} is not part of a formula"))
        kind = m.lastgroup or "op"
        value = m.group(kind)
        if kind == "quoted":
            value = value.replace("``", "`")
        out.append(_Tok(kind, value, m.start(kind) if kind != "quoted" else m.start() + 1))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


def _where(text: str, pos: int, message: str) -> str:
    shown = text if len(text) <= 80 else text[:77] + "…"
    return f"formula {quote(shown, 90)}: {message} (at character {pos + 1})"


class _Parser:
    """Recursive descent over the tokens. Term sets are lists of terms (tuples of factors,
    duplicates removed); the intercept is tracked separately as in R."""

    def __init__(self, text: str, columns: list[str] | None) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.columns = columns
        self.target_columns: list[str] = []
        self.seen: list[Factor] = []  # factors in order of first appearance (R's variables)

    # token helpers
    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.text != op:
            self.fail(tok, f"expected {op!r}")

    def fail(self, tok: _Tok, message: str) -> None:
        got = "the end" if tok.kind == "end" else repr(tok.text)
        raise FormulaError(_where(self.text, tok.pos, f"{message}, found {got}"))

    def is_op(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.text in ops

    # formula := expr '~' terms
    def formula(self) -> Formula:
        if not any(t.kind == "op" and t.text == "~" for t in self.toks):
            raise FormulaError(f"formula {quote(self.text)} has no '~': write it as 'y ~ x1 + x2'")
        if self.is_op("~"):
            self.fail(self.peek(), "a formula needs a target on the left of '~'")
        target = self.arith()
        self.target_columns = (target.expr if isinstance(target, Factor) else target).columns()
        self.expect("~")
        terms, intercept = self.sum()
        if self.peek().kind != "end":
            self.fail(self.peek(), "expected '+', '-', ':', '*' or the end of the formula")
        if intercept is None:
            intercept = True
        # R orders the factors of a term by their first appearance in the formula, and the
        # terms by their order (number of factors), stably.
        rank = {f: k for k, f in reversed(list(enumerate(self.seen)))}
        terms = sorted((tuple(sorted(t, key=rank.__getitem__)) for t in terms), key=len)
        if not terms and not intercept:
            raise FormulaError(f"formula {quote(self.text)} has no terms and no intercept")
        if isinstance(target, Factor) and target.categorical:
            raise FormulaError(f"formula {quote(self.text)}: the target cannot be categorical")
        expr = target.expr if isinstance(target, Factor) else target
        if any(len(t) == 1 and t[0].expr == expr and not t[0].categorical for t in terms):
            raise FormulaError(
                f"formula {quote(self.text)}: the target {expr.label()} is also a term on the "
                "right of '~'; remove it there (R drops it with a warning)"
            )
        return Formula(expr, tuple(terms), intercept, self.text)

    # term algebra, lowest precedence first: + -, * /, %in%, :, ^
    def sum(self) -> tuple[list[Term], bool | None]:
        if self.is_op("-"):  # a leading minus: '~ -1 + x'
            self.take()
            terms, icpt = [], None
            rterms, ricpt = self.product()
            terms, icpt = _minus(terms, icpt, rterms, ricpt)
        else:
            terms, icpt = self.product()
        while self.is_op("+", "-"):
            op = self.take()
            if op.text == "+" and self.is_op("-"):  # 'a + -1' is 'a - 1'
                op = self.take()
            rterms, ricpt = self.product()
            if op.text == "+":
                terms = _union(terms, rterms)
                icpt = ricpt if ricpt is not None else icpt
            else:
                terms, icpt = _minus(terms, icpt, rterms, ricpt)
        return terms, icpt

    def product(self) -> tuple[list[Term], bool | None]:
        terms, icpt = self.nested()
        while self.is_op("*", "/"):
            op = self.take()
            rterms, ricpt = self.nested()
            self._no_literal(op, icpt, ricpt)
            if op.text == "*":
                terms = _union(_union(terms, rterms), _interact(terms, rterms))
            else:  # a/b = a + (all of a's factors):b
                whole = [tuple(f for t in terms for f in t)]
                terms = _union(terms, _interact([_dedupe(whole[0])], rterms))
        return terms, icpt

    def nested(self) -> tuple[list[Term], bool | None]:
        terms, icpt = self.colon()
        while self.is_op("%in%"):
            op = self.take()
            rterms, ricpt = self.colon()
            self._no_literal(op, icpt, ricpt)
            terms = _interact(terms, rterms)
        return terms, icpt

    def colon(self) -> tuple[list[Term], bool | None]:
        terms, icpt = self.power()
        while self.is_op(":"):
            op = self.take()
            rterms, ricpt = self.power()
            self._no_literal(op, icpt, ricpt)
            terms = _interact(terms, rterms)
        return terms, icpt

    def power(self) -> tuple[list[Term], bool | None]:
        terms, icpt = self.atom()
        if self.is_op("^", "**"):
            op = self.take()
            tok = self.take()
            if tok.kind != "num" or not float(tok.text).is_integer() or float(tok.text) < 1:
                self.fail(
                    tok,
                    f"{op.text!r} on terms takes a whole number ≥ 1 "
                    "(use I(x^2) for a power of a column)",
                )
            self._no_literal(op, icpt, None)
            out = list(terms)
            for _ in range(int(float(tok.text)) - 1):  # stops growing at the factor count
                grown = _union(out, _interact(out, terms))
                if len(grown) == len(out):
                    break
                out = grown
            terms = out
        return terms, icpt

    def atom(self) -> tuple[list[Term], bool | None]:
        tok = self.peek()
        if tok.kind == "op" and tok.text == "(":
            self.take()
            result = self.sum()
            self.expect(")")
            return result
        if tok.kind == "num":
            self.take()
            if tok.text not in ("0", "1"):
                self.fail(
                    tok,
                    "a number in a formula is 0 or 1 (the intercept); use I(x + 2) for arithmetic",
                )
            return [], tok.text == "1"
        if tok.kind == "name" and tok.text == ".":
            self.take()
            if self.columns is None:
                self.fail(tok, "'.' (every other column) needs the data's columns")
            rest = [Factor(Expr("col", c)) for c in self.columns if c not in self.target_columns]
            self.seen += rest
            return [(f,) for f in rest], None
        factor = self.factor()
        self.seen.append(factor)
        return [(factor,)], None

    def _no_literal(self, op: _Tok, a: bool | None, b: bool | None) -> None:
        if a is not None or b is not None:
            self.fail(op, f"{op.text!r} cannot combine the intercept (0 or 1) with a term")

    # factors: a column, C(col), f(arith), I(arith)
    def factor(self) -> Factor:
        tok = self.take()
        if tok.kind == "quoted":
            return Factor(Expr("col", tok.text))
        if tok.kind != "name":
            self.fail(tok, "expected a column name, a function or '('")
        if not self.is_op("("):
            return Factor(Expr("col", tok.text))
        self.take()
        if tok.text in CATEGORICAL:
            col = self.take()
            if col.kind not in ("name", "quoted"):
                self.fail(col, f"{tok.text}() takes one column name")
            if self.is_op("("):
                self.fail(self.peek(), f"{tok.text}() takes a column, not an expression")
            self.expect(")")
            return Factor(Expr("col", col.text), categorical=True)
        if tok.text == "I":
            inner = self.arith_expr()
            self.expect(")")
            return Factor(inner)
        if tok.text in FUNCTIONS:
            inner = self.arith_expr()
            self.expect(")")
            return Factor(Expr("fn", tok.text, (inner,)))
        raise FormulaError(
            _where(
                self.text,
                tok.pos,
                f"unknown function {tok.text!r}; a formula may use {', '.join(FUNCTIONS)}, "
                "I(...) for arithmetic and C(...) for a categorical column",
            )
        )

    def arith(self) -> Expr | Factor:
        """The target: one factor expression (a column, log(y), I(...))."""
        if self.peek().kind == "quoted" or (
            self.peek().kind == "name" and self.toks[self.i + 1].text != "("
        ):
            return Factor(Expr("col", self.take().text))
        return self.factor()

    # arithmetic inside I(...) and functions: + - < * / < unary - < ^ ** (right)
    def arith_expr(self) -> Expr:
        left = self.arith_term()
        while self.is_op("+", "-"):
            op = self.take().text
            left = Expr(op, None, (left, self.arith_term()))
        return left

    def arith_term(self) -> Expr:
        left = self.arith_unary()
        while self.is_op("*", "/"):
            op = self.take().text
            left = Expr(op, None, (left, self.arith_unary()))
        return left

    def arith_unary(self) -> Expr:
        if self.is_op("-"):
            self.take()
            return Expr("neg", None, (self.arith_unary(),))
        if self.is_op("+"):
            self.take()
            return self.arith_unary()
        return self.arith_power()

    def arith_power(self) -> Expr:
        base = self.arith_atom()
        if self.is_op("^", "**"):
            self.take()
            return Expr("^", None, (base, self.arith_unary()))
        return base

    def arith_atom(self) -> Expr:
        tok = self.take()
        if tok.kind == "num":
            value = float(tok.text)
            if not math.isfinite(value):
                self.fail(tok, "a number must be finite")
            return Expr("num", value)
        if tok.kind == "quoted":
            return Expr("col", tok.text)
        if tok.kind == "op" and tok.text == "(":
            inner = self.arith_expr()
            self.expect(")")
            return inner
        if tok.kind == "name":
            if not self.is_op("("):
                return Expr("col", tok.text)
            if tok.text in FUNCTIONS or tok.text == "I":
                self.take()
                inner = self.arith_expr()
                self.expect(")")
                return inner if tok.text == "I" else Expr("fn", tok.text, (inner,))
            raise FormulaError(
                _where(
                    self.text,
                    tok.pos,
                    f"unknown function {tok.text!r}; inside I(...) a formula may use "
                    f"{', '.join(FUNCTIONS)}",
                )
            )
        self.fail(tok, "expected a number, a column or '('")
        raise AssertionError  # unreachable: fail raises


def _dedupe(term: tuple[Factor, ...]) -> Term:
    out: list[Factor] = []
    for f in term:
        if f not in out:
            out.append(f)
    return tuple(out)


def _same(a: Term, b: Term) -> bool:
    return set(a) == set(b)


def _union(a: list[Term], b: list[Term]) -> list[Term]:
    out = list(a)
    seen = {frozenset(t) for t in out}
    for t in b:
        key = frozenset(t)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def _interact(a: list[Term], b: list[Term]) -> list[Term]:
    return _union([], [_dedupe(s + t) for s in a for t in b])


def _minus(
    terms: list[Term], icpt: bool | None, rterms: list[Term], ricpt: bool | None
) -> tuple[list[Term], bool | None]:
    if ricpt is not None:  # '- 1' drops the intercept; '- 0' keeps it
        icpt = not ricpt
    for t in rterms:
        terms = [u for u in terms if not _same(u, t)]
    return terms, icpt


def parse(text: str, columns: list[str] | None = None) -> Formula:
    """Parse a formula (never evaluates it). ``columns``, the data's header, gives ``.`` its
    meaning (every column not in the target), as in R. Errors are :class:`FormulaError`
    (exit 2)."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("the formula is empty: write it as 'y ~ x1 + x2'")
    if len(text) > 10_000:
        raise FormulaError("the formula is longer than 10,000 characters")
    try:
        return _Parser(text, columns).formula()
    except RecursionError:
        raise FormulaError(
            f"formula {quote(text)} is nested too deeply; write it with fewer parentheses"
        ) from None
