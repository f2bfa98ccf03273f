"""The candidate projection of the snapping fast path against a plain per-point loop.

``_Pieces._project`` compares candidates by squared distance and measures only the nearly
tied ones with ``hypot``; the oracle here measures every candidate with ``hypot``, takes the
first least distance and, with ``tie_break``, the tied piece whose midpoint is nearest. Pieces
a few units in the last place apart, and exact copies, make the near ties.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner.snap import _midpoint_tree, _Pieces


def _pieces(rng: np.random.Generator) -> _Pieces:
    base_a = rng.uniform(0, 100, size=(6, 2)) + 400_000.0
    base_b = base_a + rng.uniform(-30, 30, size=(6, 2))
    a, b = [base_a], [base_b]
    for ulps in (0, 1, 2, 3):  # copies, and copies moved by a few units in the last place
        shifted = base_a.copy()
        for _ in range(ulps):
            shifted = np.nextafter(shifted, np.inf)
        a.append(shifted)
        b.append(base_b.copy())
    a.append(base_a[:2])
    b.append(base_a[:2])  # pieces of no length
    a, b = np.concatenate(a), np.concatenate(b)
    m = len(a)
    return _Pieces(a, b, np.arange(m), np.zeros(m), np.ones(m), 20.0, _midpoint_tree(a, b))


def _oracle(pieces: _Pieces, xy: np.ndarray, j: np.ndarray, tie_break: bool):
    m = len(pieces.a)
    out, ties = [], 0
    for p, row in zip(xy, j, strict=True):
        dist, ts = [], []
        for c in row:
            if c >= m:
                dist.append(np.inf)
                ts.append(np.nan)
                continue
            ax, ay, bx, by, den = pieces.packed[c]
            apx, apy = p[0] - ax, p[1] - ay
            t = min(max((apx * bx + apy * by) / den, 0.0), 1.0)
            dist.append(np.hypot(apx - t * bx, apy - t * by))
            ts.append(t)
        best = int(np.argmin(dist))
        ties += np.isfinite(dist[best]) and dist.count(dist[best]) > 1
        if tie_break:
            tied = [k for k, d in enumerate(dist) if d == dist[best]]
            mid = pieces.tree.data[row[tied]]
            d_mid = (p[0] - mid[:, 0]) ** 2 + (p[1] - mid[:, 1]) ** 2
            best = tied[int(np.argmin(d_mid))]
        out.append((row[best], dist[best], ts[best]))
    return out, ties


@pytest.mark.parametrize("tie_break", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_project_equals_hypot_everywhere(seed, tie_break):
    rng = np.random.default_rng(seed)
    pieces = _pieces(rng)
    m = len(pieces.a)
    # Points anywhere near, on piece ends (exact ties between copies) and at midpoints.
    xy = np.concatenate(
        [
            rng.uniform(400_000, 400_150, size=(300, 2)),
            pieces.a[rng.integers(0, m, 100)],
            pieces.tree.data[rng.integers(0, m, 100)],
        ]
    )
    width = 12
    j = np.stack([rng.permutation(m)[:width] for _ in range(len(xy))])
    if not tie_break:  # the KD-tree path: some candidate slots are empty (index m)
        j[rng.random(j.shape) < 0.2] = m
        j[:5] = m  # rows with no candidate at all
    piece, dist, t = pieces._project(xy, j, tie_break=tie_break)
    expected, ties = _oracle(pieces, xy, j, tie_break)
    assert ties > 10  # the case has points with several pieces at the least distance
    assert piece.tolist() == [e[0] for e in expected]
    assert dist.tolist() == [e[1] for e in expected]  # bit for bit
    found = np.isfinite(dist)
    assert not found[:5].any() if not tie_break else found.all()
    np.testing.assert_array_equal(t[found], np.array([e[2] for e in expected])[found])


def test_squared_distance_and_hypot_disagree_the_result_is_hypots():
    """Vectors of almost equal length whose squared lengths and hypot order differently.

    The point is at the origin and every piece is a single point at ``-(ex, ey)``: the
    projection then measures exactly ``(ex, ey)``. Each pair is offered in both orders.
    """
    rng = np.random.default_rng(5)
    ex, ey = rng.uniform(1, 60, 20_000), rng.uniform(1, 60, 20_000)
    turn = rng.uniform(-1e-15, 1e-15, 20_000)  # along the circle: nearly the same length
    ex2, ey2 = ex - ey * turn, ey + ex * turn
    sq1, sq2 = ex * ex + ey * ey, ex2 * ex2 + ey2 * ey2
    h1, h2 = np.hypot(ex, ey), np.hypot(ex2, ey2)
    disagree = np.flatnonzero(((sq1 < sq2) != (h1 < h2)) | ((sq1 == sq2) != (h1 == h2)))[:200]
    assert len(disagree) == 200
    a = -np.concatenate(
        [np.stack([ex[disagree], ey[disagree]], 1), np.stack([ex2[disagree], ey2[disagree]], 1)]
    )
    m = len(a)
    pieces = _Pieces(a, a.copy(), np.arange(m), np.zeros(m), np.ones(m), 0.0, _midpoint_tree(a, a))
    first, second = np.arange(len(disagree)), np.arange(len(disagree)) + len(disagree)
    j = np.concatenate([np.stack([first, second], 1), np.stack([second, first], 1)])
    xy = np.zeros((len(j), 2))
    for tie_break in (False, True):
        piece, dist, _ = pieces._project(xy, j, tie_break=tie_break)
        expected, _ = _oracle(pieces, xy, j, tie_break)
        assert piece.tolist() == [e[0] for e in expected]
        assert dist.tolist() == [e[1] for e in expected]


def test_cell_lists_in_flat_blocks_equal_a_loop_over_each_list():
    """``_grid_query`` (flat blocks, cell order, one or two threads) against the loop above
    over every piece the point's cell lists, on a street grid with points at its nodes."""
    from bench.synthetic import grid_network
    from planner.snap import _pieces, _tiers

    graph = grid_network(30, seed=1).travel_graph("walk")
    name, keep, _ = _tiers(graph, 20)[0]
    pieces = _pieces(graph, name, keep).with_grid()
    rng = np.random.default_rng(9)
    lo, hi = graph.node_xy.min(axis=0) - 60, graph.node_xy.max(axis=0) + 60
    xy = np.concatenate(
        [rng.uniform(lo, hi, size=(3000, 2)), graph.node_xy[rng.integers(0, graph.n_nodes, 500)]]
    )
    grid = pieces.grid
    cell, _ = grid.locate(xy)
    listed = [
        grid.pieces[grid.indptr[c] : grid.indptr[c + 1]] if c >= 0 else np.zeros(0, int)
        for c in cell
    ]
    one = pieces._grid_query(xy, 500.0, threads=1)
    two = pieces._grid_query(xy, 500.0, threads=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
    ties = 0
    for i, row in enumerate(listed):
        if len(row) == 0:
            assert one[1][i] == np.inf
            continue
        (expected,), n_tied = _oracle(pieces, xy[i : i + 1], row[None, :], True)
        ties += n_tied
        assert (one[0][i], one[1][i], one[2][i]) == expected
    assert ties > 100  # points at nodes: several pieces at the least distance


def test_cell_lists_order_near_ties_by_hypot():
    """The flat cell-list path on the disagreeing pairs above: each pair alone, both orders.

    Each piece runs from ``-(ex, ey)`` straight away from the point (whose projection is then
    that end, exactly); the piece with the larger squared distance is the shorter one, so its
    midpoint is the nearer: where hypot ties, the midpoint rule picks it, not the least square.
    """
    rng = np.random.default_rng(11)
    ex, ey = rng.uniform(1, 25, 20_000), rng.uniform(1, 25, 20_000)  # all within the reach
    turn = rng.uniform(-1e-15, 1e-15, 20_000)
    ex2, ey2 = ex - ey * turn, ey + ex * turn
    sq1, sq2 = ex * ex + ey * ey, ex2 * ex2 + ey2 * ey2
    h1, h2 = np.hypot(ex, ey), np.hypot(ex2, ey2)
    disagree = np.flatnonzero(((sq1 < sq2) != (h1 < h2)) | ((sq1 == sq2) != (h1 == h2)))[:60]
    assert len(disagree) == 60
    origin = np.zeros((1, 2))
    chose_larger_square = 0
    for i in disagree:
        e = np.array([[ex[i], ey[i]], [ex2[i], ey2[i]]])
        length = np.where(np.array([sq1[i] > sq2[i], sq2[i] > sq1[i]]), 2.0, 40.0)
        for order in ([0, 1], [1, 0]):
            a = -e[order]
            b = a - (length[order] / np.hypot(*e[order].T))[:, None] * e[order]
            pieces = _Pieces(
                a, b, np.arange(2), np.zeros(2), np.ones(2), 20.0, _midpoint_tree(a, b)
            ).with_grid()
            piece, dist, t, _ = pieces._grid_query(origin, 500.0)
            (expected,), _ = _oracle(pieces, origin, np.array([[0, 1]]), True)
            assert (piece[0], dist[0], t[0]) == expected
            square = (a * a).sum(axis=1)
            chose_larger_square += bool(square[piece[0]] > square[1 - piece[0]])
    assert chose_larger_square > 0  # hypot (and the midpoint rule) overrule the squares
