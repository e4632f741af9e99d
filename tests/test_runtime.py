from __future__ import annotations

import gc
import sys

import pytest

from tandem.core.runtime import (
    PIPELINE_SWITCH_INTERVAL_S,
    paused_cycle_collection,
    quick_thread_handoffs,
)


def test_quick_handoffs_last_only_while_a_pipeline_runs() -> None:
    default = sys.getswitchinterval()
    assert default > PIPELINE_SWITCH_INTERVAL_S
    with quick_thread_handoffs():
        assert sys.getswitchinterval() == PIPELINE_SWITCH_INTERVAL_S
        with quick_thread_handoffs():  # a second, overlapping pipeline
            assert sys.getswitchinterval() == PIPELINE_SWITCH_INTERVAL_S
        assert sys.getswitchinterval() == PIPELINE_SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == default


def test_the_cycle_collector_pauses_until_the_last_block_ends_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_cycle_collection():
        with paused_cycle_collection():  # a second, overlapping intake
            assert not gc.isenabled()
        assert not gc.isenabled()
        raise RuntimeError("the file was bad")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    try:
        with paused_cycle_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
