"""fit --by's batched fold (accumulate.update_groups) is each group's own fold, however the
block's groups are shaped; the numeric pass sorts and names groups as before, and probes a
plain file without pandas."""

from __future__ import annotations

import numpy as np
import pytest

from linfit import groups_numeric
from linfit.accumulate import DesignStats, update_groups
from linfit.io import CsvOptions, CsvReader


def _blocks(rng, k: int, sizes: list[int]) -> tuple[np.ndarray, list[int]]:
    D = rng.normal(size=(k, sum(sizes))) * 10.0 ** rng.integers(-3, 4, size=(k, 1))
    return D, np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()


def _fold_both(D, starts, n_groups, p, blocks):
    """Each block folded by update_groups and, group by group, by update_columns."""
    batched = [DesignStats(p) for _ in range(n_groups)]
    single = [DesignStats(p) for _ in range(n_groups)]
    for D, starts in blocks:
        ends = [*starts[1:], D.shape[1]]
        lo = np.stack([D[:, a:b].min(axis=1, initial=np.inf) for a, b in zip(starts, ends)], 1)
        hi = np.stack([D[:, a:b].max(axis=1, initial=-np.inf) for a, b in zip(starts, ends)], 1)
        update_groups(batched, D, starts, lo, hi)
        for g, (a, b) in enumerate(zip(starts, ends)):
            single[g].update_columns(D[:, a:b], lo[:, g], hi[:, g])
    return batched, single


def _close(a: DesignStats, b: DesignStats) -> None:
    assert a.n == b.n and np.isfinite(b.R).all()
    np.testing.assert_array_equal(a.lo, b.lo)
    np.testing.assert_array_equal(a.hi, b.hi)
    np.testing.assert_array_equal(a.shift, b.shift)
    np.testing.assert_array_equal(a.R, b.R)  # the same factorisations, bit for bit


@pytest.mark.parametrize("p", [1, 3, 9])
def test_batched_fold_is_each_groups_own_fold(p):
    rng = np.random.default_rng(p)
    blocks = []
    for sizes in ([1, 2, 500, 40, 3], [7, 1, 300, 2, 9000], [50, 60, 70, 80, 90]):
        D, starts = _blocks(rng, p + 1, sizes)
        blocks.append((D, starts))
    batched, single = _fold_both(None, None, 5, p, blocks)
    for a, b in zip(batched, single):
        _close(a, b)


def test_awkward_groups_take_the_single_road_and_agree():
    """A constant column in one group (a zero Gram diagonal), a collinear block (Gram
    Cholesky refused: Householder QR), values near ±1e308 (the difference overflows)."""
    rng = np.random.default_rng(7)
    D1, starts = _blocks(rng, 3, [100, 100, 100, 100])
    D1[:, 300:400] = rng.uniform(1.0e308, 1.7e308, size=(3, 100))  # group 3: shift ~1.3e308
    D2 = D1.copy()
    D2[0, 0:100] = 5.0  # group 0: a constant feature in this block
    D2[1, 100:200] = 2 * D2[0, 100:200] + 1  # group 1: collinear columns
    D2[:, 300:350] *= -1  # group 3: x − shift overflows (formed from halves)
    batched, single = _fold_both(None, None, 4, 2, [(D1, starts), (D2, starts)])
    for a, b in zip(batched, single):
        _close(a, b)


def test_group_order_sorts_like_the_floats():
    rng = np.random.default_rng(3)
    for K in (
        rng.integers(-300, 300, size=(1, 5000)).astype(float),  # small integers: radix
        np.array([[0.0, -0.0, 3.0, -2.0, 3.0, 0.0]]),
        rng.normal(size=(1, 1000)),  # not integral
        np.array([[1e9, 2.0, 1e9, -1e9]]),  # past int16
        rng.integers(0, 3, size=(2, 200)).astype(float),  # two columns
    ):
        order = groups_numeric._group_order(K)
        sorted_keys = K[:, order]
        assert sorted(order.tolist()) == list(range(K.shape[1]))
        flat = [tuple(c) for c in sorted_keys.T.tolist()]
        assert flat == sorted(flat, key=lambda t: t)  # nondecreasing (−0 equals 0)
    # small integers keep their file order within a group (a stable sort)
    K = np.array([[2.0, 1.0, 2.0, 1.0]])
    assert groups_numeric._group_order(K).tolist() == [1, 3, 0, 2]


def test_the_probe_reads_a_plain_file_as_pandas_does(tmp_path, monkeypatch):
    path = tmp_path / "g.csv"
    rows = ["g,x,y", *[f"{i % 7},{i},{2 * i}" for i in range(5000)]]
    path.write_text("\r\n".join(rows) + "\r\n")
    reader = CsvReader(str(path), CsvOptions())
    assert reader.fast
    fast = groups_numeric._probe_cells(reader, ["g"])
    monkeypatch.setattr(type(reader), "fast", False)
    slow = groups_numeric._probe_cells(reader, ["g"])
    reader.close()
    assert fast == slow and len(fast[0]) == groups_numeric.PROBE_ROWS
    assert groups_numeric.looks_numeric(str(path), CsvOptions(), ["g"])
    path.write_text("g,x,y\n1,2,3\nA,4,5\n")
    assert not groups_numeric.looks_numeric(str(path), CsvOptions(), ["g"])


def test_the_probe_leaves_a_lone_cr_to_pandas(tmp_path):
    """csv.reader refuses a lone CR inside its lines; pandas reads it as a line end."""
    path = tmp_path / "cr.csv"
    path.write_bytes(b"g,x,y\n1,1,2\r2,2,5\n1,3,6\n2,4,9\n1,5,10\n2,6,13\n")
    reader = CsvReader(str(path), CsvOptions())
    try:
        assert groups_numeric._probe_cells(reader, ["g"]) == [["1", "2", "1", "2", "1", "2"]]
    finally:
        reader.close()
