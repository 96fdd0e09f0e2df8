"""The lower bounds the request benchmark reports ratios against (bench/request_counts.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))

from request_counts import sliding_window_bound, step_window_bound


def test_sliding_window_bound_counts_whole_minutes():
    assert sliding_window_bound(0, 200) == 0
    assert sliding_window_bound(200, 200) == 0  # all in the first window
    assert sliding_window_bound(201, 200) == 60
    assert sliding_window_bound(1406, 200) == 420


def test_step_window_bound_moves_past_the_boundaries_that_cannot_share_a_window():
    def bound(orders: int) -> float:
        return step_window_bound(orders, 200, step_wait=30.0, boundaries=3, schedule=94.5)

    # 10 orders: the last 60 s hold 4 * 10 + 1 requests, within the budget
    assert bound(10) == 94.5
    # 49 orders: 4 * 49 + 1 = 197 still fit; 50 orders need 201 in the window that holds
    # boundaries 2 and 3, so the end must wait until boundary 2 (at 60 s) leaves it
    assert bound(49) == 94.5
    assert bound(50) == 120.0
    # 200 orders: even one boundary per order (401) is too many until all three have left
    assert bound(200) == 150.0
