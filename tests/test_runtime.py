from __future__ import annotations

import sys

from tandem.runtime import PIPELINE_SWITCH_INTERVAL_S, quick_thread_handoffs


def test_quick_handoffs_last_only_while_a_pipeline_runs() -> None:
    default = sys.getswitchinterval()
    assert default > PIPELINE_SWITCH_INTERVAL_S
    with quick_thread_handoffs():
        assert sys.getswitchinterval() == PIPELINE_SWITCH_INTERVAL_S
        with quick_thread_handoffs():  # a second, overlapping pipeline
            assert sys.getswitchinterval() == PIPELINE_SWITCH_INTERVAL_S
        assert sys.getswitchinterval() == PIPELINE_SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == default
