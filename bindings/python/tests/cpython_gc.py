"""Helpers for tests that run the same graph through CPython's own gc."""

import contextlib
import gc


@contextlib.contextmanager
def quiet_gc():
    """CPython's gc with no automatic collection, no garbage left over and, on the
    way out, no debug flags."""
    was_enabled = gc.isenabled()
    gc.disable()
    gc.collect()
    try:
        yield
    finally:
        gc.set_debug(0)
        if was_enabled:
            gc.enable()
