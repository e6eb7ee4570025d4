"""exchange.heap: the startup heap frozen out of the collector's way; no collection when timed."""

import gc
import weakref

from exchange.heap import quiet, settle


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_settle_collects_then_freezes_what_is_alive() -> None:
    gc.unfreeze()
    gc.disable()  # no automatic collection between making the garbage and settle()
    try:
        garbage = weakref.ref(Node())
        kept = Node()
        assert garbage() is not None  # not freed by reference counting
        settle()
        assert garbage() is None  # collected before the freeze, not frozen with the rest
        assert gc.get_freeze_count() > 0
        assert kept.me is kept
    finally:
        gc.enable()
        gc.unfreeze()


def test_quiet_disables_automatic_collection_inside_only() -> None:
    assert gc.isenabled()
    with quiet():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with quiet():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
