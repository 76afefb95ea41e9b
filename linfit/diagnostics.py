"""Regression diagnostics per row: residual, leverage, studentised residuals, Cook's distance.

Everything comes from the model's ``inference`` block (the R factor of the scaled design, its
shift and scale, σ and the residual degrees of freedom), so rows can be streamed: the leverage
hᵢ = xᵢᵀ(XᵀX)⁻¹xᵢ is ‖R⁻ᵀaᵢ‖² for the scaled row aᵢ, never an inverse of XᵀX. On the rows the
model was fitted on, the columns equal R's ``residuals``, ``hatvalues``, ``rstandard``,
``rstudent`` and ``cooks.distance`` of the same ``lm``; on other rows they measure each row
against the fitted model's σ and design (as if it had been one of the fitted rows).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ModelFileError

#: Column suffixes, in output order: ``<target>_resid``, ``<target>_hat``, …
SUFFIXES = ("resid", "hat", "rstandard", "rstudent", "cooks")


def column_names(target: str) -> list[str]:
    """The diagnostics columns added for a model of ``target``."""
    return [f"{target}_{s}" for s in SUFFIXES]


def require_inference(model: Any, option: str = "--diagnostics") -> dict[str, Any]:
    """The model's inference block, or a ModelFileError saying how to get one."""
    if model.inference is None:
        name = model.source or "this model"
        raise ModelFileError(
            f"{name} has no 'inference' block, which {option} needs (lstsq writes one unless "
            f"--no-stats; other methods only with --stats); refit it with linfit fit DATA "
            f"--stats --save {model.source or 'MODEL'}"
        )
    return model.inference


def leverage(inference: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """hᵢ of every row of the feature matrix ``X`` (rows × features)."""
    R = np.asarray(inference["r"], dtype=np.float64)
    shift = np.asarray(inference["frame_shift"], dtype=np.float64)
    d = np.asarray(inference["frame_scale"], dtype=np.float64)
    A = (np.asarray(X, dtype=np.float64) - shift) * d
    if inference["intercept"]:
        A = np.column_stack([np.ones(len(A)), A])
    if not len(A):
        return np.empty(0)
    Z = np.linalg.solve(R.T, A.T)  # R⁻ᵀ aᵢ for every row
    return np.einsum("ij,ij->j", Z, Z)


def row_diagnostics(
    inference: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    fitted: np.ndarray,
    w: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The five columns (by suffix) for rows with features ``X``, targets ``y`` (NaN where
    missing) and predictions ``fitted``. NaN where a figure does not exist (no target, h = 1,
    no residual degrees of freedom).

    ``w``: the rows' weights (a weighted model), as R's ``lm(weights=)`` uses them: the
    residual stays y − ŷ (R's ``residuals``), the leverage is that of the √w-scaled row
    (wᵢ·xᵢᵀ(XᵀWX)⁻¹xᵢ, R's ``hatvalues``) and the studentised residuals and Cook's distance
    use the weighted residual √w·e (R's ``weighted.residuals``). A row of weight 0 (or a
    missing weight) has only its residual: R leaves such rows out of ``lm.influence``."""
    k = len(inference["r"])
    df = int(inference["df_resid"])
    sigma = math.nan if inference["sigma"] is None else float(inference["sigma"])
    sse = sigma * sigma * df
    h = leverage(inference, X)
    e = np.asarray(y, dtype=np.float64) - np.asarray(fitted, dtype=np.float64)
    ew = e
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        with np.errstate(all="ignore"):
            h = np.where(w > 0, w * h, np.nan)
            ew = np.sqrt(w) * e
    with np.errstate(all="ignore"):
        one_h = 1.0 - h
        std = ew / (sigma * np.sqrt(one_h))
        s_i2 = (sse - ew * ew / one_h) / (df - 1) if df > 1 else np.full(len(e), np.nan)
        stud = ew / (np.sqrt(s_i2) * np.sqrt(one_h))
        cooks = std * std * h / (one_h * k)
    bad = ~(one_h > 0)
    for a in (std, stud, cooks):
        a[bad | ~np.isfinite(a)] = np.nan
    return {"resid": e, "hat": h, "rstandard": std, "rstudent": stud, "cooks": cooks}


def scaled_design(inference: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """The rows of the design the stored R factors (shifted, scaled, with the intercept's 1)."""
    shift = np.asarray(inference["frame_shift"], dtype=np.float64)
    d = np.asarray(inference["frame_scale"], dtype=np.float64)
    A = (np.asarray(X, dtype=np.float64).reshape(len(X), -1) - shift) * d
    if inference["intercept"]:
        A = np.column_stack([np.ones(len(A)), A])
    return A


#: Rows whose |rstudent| exceeds this are flagged (a common rule of thumb).
RSTUDENT_CUT = 3.0
#: How many of the flagged rows the report names.
WORST = 5
#: The plot keeps at most this many flagged rows (the largest Cook's distances) besides its
#: random sample.
FLAGGED_KEEP = 5000


class CheckSummary:
    """What a careful analyst checks after a fit, gathered in one streamed pass over the
    fitted rows, in their input order: outliers (|rstudent| > 3), influential rows (Cook's
    distance > 4/n), Durbin–Watson, Jarque–Bera and Breusch–Pagan (Koenker's studentised
    form, lmtest::bptest's default). Memory is bounded: power sums, a small triangular
    factor, the flagged rows with the largest Cook's distances, and an optional random sample
    of rows for the plots.

    A weighted model's figures are those of its weighted residuals uᵢ = √wᵢ·eᵢ over the rows
    of nonzero weight (R's ``weighted.residuals``, which drops the others): Durbin–Watson and
    Jarque–Bera of u, and Breusch–Pagan as Koenker's n·R² of u² − mean(u²) on the model's
    regressors (unweighted). Unweighted, u = e and these are the usual figures."""

    def __init__(self, inference: dict[str, Any], sample: int = 0, seed: int = 0) -> None:
        self.inference = inference
        self.k = len(inference["r"])
        self.n_model = int(inference["df_resid"]) + self.k
        self.cook_cut = 4.0 / self.n_model if self.n_model else math.nan
        self.weighted = False  # the residuals are √w·e (a weighted model)
        self.rows_read = 0  # rows with a residual, zero weights included
        self.n = 0  # of them, those of nonzero weight
        self.outliers = 0
        self.influential = 0
        self.power = np.zeros(5)  # Σ (u − shift)^j, j = 0..4
        self.shift: float | None = None
        self.dw_num = 0.0
        self.last: float | None = None
        self.aux: np.ndarray | None = None  # R of [A, 1, u²]: the Breusch–Pagan regression
        self.u4 = 0.0  # Σ u⁴
        self.file = 0  # index of the input file being read (set by the caller)
        self.sample = sample
        self.rng = np.random.default_rng(seed)
        self.keys = np.empty(0)
        self.rows = np.empty((0, len(ROW_FIELDS)))  # the random sample
        self.flag_rows = np.empty((0, len(ROW_FIELDS)))  # flagged rows, worst kept

    def update(
        self,
        lines: np.ndarray,
        X: np.ndarray,
        fitted: np.ndarray,
        diag: dict[str, np.ndarray],
        w: np.ndarray | None = None,
    ) -> None:
        """Rows with a residual, in input order (``diag``: row_diagnostics' columns; ``w``:
        the rows' weights, for a weighted model)."""
        self.rows_read += len(diag["resid"])
        if w is not None:
            self.weighted = True
            keep = np.asarray(w) > 0
            lines, X, fitted, w = lines[keep], X[keep], fitted[keep], w[keep]
            diag = {k: v[keep] for k, v in diag.items()}
        e = diag["resid"]
        if not len(e):
            return
        u = e if w is None else np.sqrt(w) * e
        if self.shift is None:
            self.shift = float(u[0])
        self.n += len(u)
        t, cook = diag["rstudent"], diag["cooks"]
        big_t = np.abs(t) > RSTUDENT_CUT
        big_c = cook > self.cook_cut
        self.outliers += int(big_t.sum())
        self.influential += int(big_c.sum())
        c = u - self.shift
        self.power += [len(c), c.sum(), (c**2).sum(), (c**3).sum(), (c**4).sum()]
        prev = np.concatenate([[self.last], u]) if self.last is not None else u
        self.dw_num += float(np.sum(np.diff(prev) ** 2))
        self.last = float(u[-1])
        u2 = u * u
        block = np.column_stack([scaled_design(self.inference, X), np.ones(len(u)), u2])
        if self.aux is not None:
            block = np.vstack([self.aux, block])
        self.aux = np.linalg.qr(block, mode="r")
        self.u4 += float(u2 @ u2)
        rows = np.column_stack(
            [fitted, e, diag["rstandard"], t, diag["hat"], cook, np.full(len(e), self.file), lines]
        )
        flag = big_t | big_c
        if flag.any():
            self.flag_rows = np.concatenate([self.flag_rows, rows[flag]])
            if len(self.flag_rows) > 2 * FLAGGED_KEEP:
                self.flag_rows = self.flag_rows[_worst_first(self.flag_rows)[:FLAGGED_KEEP]]
        if self.sample:
            keys = np.concatenate([self.keys, self.rng.random(len(e))])
            kept = np.concatenate([self.rows, rows])
            if len(keys) > self.sample:
                keep = np.argpartition(keys, self.sample)[: self.sample]
                keys, kept = keys[keep], kept[keep]
            self.keys, self.rows = keys, kept

    def plot_rows(self) -> dict[str, np.ndarray]:
        """Rows for the diagnostic plots, by ROW_FIELDS name: the random sample and the
        flagged rows, each row once."""
        both = np.concatenate([self.rows, self.flag_rows])
        if len(both):
            _, first = np.unique(both[:, -2:], axis=0, return_index=True)
            both = both[np.sort(first)]
        return {name: both[:, i] for i, name in enumerate(ROW_FIELDS)}

    def result(self, files: list[str] | None = None) -> dict[str, Any]:
        """The ``diagnostics`` block of the fit's JSON (and the table's figures)."""
        from scipy.stats import chi2

        n = self.n
        s0, s1, s2, s3, s4 = self.power
        shift = self.shift or 0.0
        with np.errstate(all="ignore"):
            m = s1 / s0 if s0 else math.nan  # mean of e − shift
            c2 = s2 / s0 - m * m
            c3 = s3 / s0 - 3 * m * s2 / s0 + 2 * m**3
            c4 = s4 / s0 - 4 * m * s3 / s0 + 6 * m * m * s2 / s0 - 3 * m**4
            skew = c3 / c2**1.5
            kurt = c4 / (c2 * c2)
            jb = n / 6.0 * (skew * skew + (kurt - 3.0) ** 2 / 4.0)
            sse = s2 + 2 * shift * s1 + n * shift**2
            dw = self.dw_num / sse
            # Koenker: v = u² − mean(u²); BP = n·‖Q₁ᵀv‖² / ‖v‖², Q₁ the design's columns:
            # Q₁ᵀ1 and Q₁ᵀu² are the last two columns of the factor of [A, 1, u²]
            ubar = sse / n if n else math.nan
            q = self.k
            if self.aux is not None and len(self.aux) >= q:
                z = self.aux[:q, q + 1] - ubar * self.aux[:q, q]
                bp = n * float(z @ z) / (self.u4 - n * ubar * ubar)
            else:
                bp = math.nan
        bp_df = self.k - 1
        worst = []
        for r in self.flag_rows[_worst_first(self.flag_rows)[:WORST]]:
            row = {"line": int(r[7]), "rstudent": r[3], "cooks": r[5], "hat": r[4]}
            if files and len(files) > 1:
                row = {"file": files[int(r[6])], **row}
            worst.append({k: (float(v) if isinstance(v, float) else v) for k, v in row.items()})
        return {
            "n": n,
            "residuals": "weighted" if self.weighted else "raw",
            "rstudent_cut": RSTUDENT_CUT,
            "rstudent_over": self.outliers,
            "cooks_cut": self.cook_cut,
            "cooks_over": self.influential,
            "worst": worst,
            "durbin_watson": float(dw),
            "jarque_bera": {"statistic": float(jb), "df": 2, "p": float(chi2.sf(jb, 2))},
            "breusch_pagan": {
                "statistic": float(bp),
                "df": bp_df,
                "p": float(chi2.sf(bp, bp_df)) if bp_df > 0 else math.nan,
                "kind": "studentized (Koenker)",
            },
        }


#: The columns of CheckSummary's kept rows.
ROW_FIELDS = ("fitted", "resid", "rstandard", "rstudent", "hat", "cooks", "file", "line")


def _worst_first(rows: np.ndarray) -> np.ndarray:
    """Order of flagged rows, worst first: the largest Cook's distance, then |rstudent|
    (a NaN distance, from h = 1, counts as the largest)."""
    cook = np.nan_to_num(rows[:, 5], nan=np.inf)
    return np.lexsort((-np.abs(np.nan_to_num(rows[:, 3])), -cook))
