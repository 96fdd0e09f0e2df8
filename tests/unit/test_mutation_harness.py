"""The mutation harness's own bookkeeping (``tools/mutation``): a wrong test duration makes
every mutant's timeout and test budget wrong, and a wrong outcome picks failing tests."""

from __future__ import annotations

from tools.mutation.runner import merge_results


def test_durations_survive_the_xdist_controllers_file_without_them():
    worker = {"t::a": {"seconds": 1.5, "passed": True}, "t::b": {"seconds": 0.2, "passed": True}}
    controller = {"t::a": {"passed": True}, "t::b": {"passed": True}}
    for parts in ([worker, controller], [controller, worker]):
        assert merge_results(parts) == {"t::a": {"passed": True, "seconds": 1.5},
                                         "t::b": {"passed": True, "seconds": 0.2}}


def test_a_test_failed_anywhere_is_failed():
    merged = merge_results([{"t::a": {"seconds": 1.0, "passed": True}},
                            {"t::a": {"passed": False}}])
    assert merged == {"t::a": {"passed": False, "seconds": 1.0}}
    assert merge_results([{"t::c": {"passed": False}}, {"t::c": {"passed": True}}])["t::c"][
        "passed"] is False
