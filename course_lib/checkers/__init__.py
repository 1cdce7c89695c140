"""Checkers for the course's exercises.

The framework is in :mod:`course_lib.checkers.core`; each module's checkers live in a file
named after its topic and are imported from there, e.g.
``from course_lib.checkers.attention import check_multi_head_attention``.
"""

from course_lib.checkers.beam_search import check_beam_search
from course_lib.checkers.core import (
    STUB_MARKER,
    CheckFailed,
    assert_metric,
    case,
    checker,
    expect_close,
    expect_shape,
)
from course_lib.checkers.kv_cache import check_kv_cache_step

__all__ = [
    "STUB_MARKER",
    "CheckFailed",
    "assert_metric",
    "case",
    "check_beam_search",
    "check_kv_cache_step",
    "checker",
    "expect_close",
    "expect_shape",
]
