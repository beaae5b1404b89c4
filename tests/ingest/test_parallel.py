"""The process-wide state a read changes (the garbage collector, the main module's names) is
restored when the read ends, however it ends."""

from __future__ import annotations

import gc
import sys

import pytest

from cibwatch.ingest.parallel import _gc_paused, _main_module_hidden


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_restored_after_an_error_in_a_read(enabled):
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(RuntimeError, match="a reader failed"), _gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("a reader failed")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_the_main_module_is_restored_after_an_error_while_workers_start(monkeypatch):
    main = sys.modules["__main__"].__dict__
    monkeypatch.setitem(main, "__file__", "/somewhere/cli.py")
    spec = main.get("__spec__", "absent")
    with pytest.raises(RuntimeError, match="a worker failed to start"), _main_module_hidden():
        assert main["__spec__"] is None and "__file__" not in main
        raise RuntimeError("a worker failed to start")
    assert main["__file__"] == "/somewhere/cli.py"
    assert main.get("__spec__", "absent") == spec


def test_a_main_module_without_a_file_stays_without_one():
    main = sys.modules["__main__"].__dict__
    saved = {k: main.pop(k) for k in ("__file__", "__spec__") if k in main}
    try:
        with pytest.raises(RuntimeError), _main_module_hidden():
            raise RuntimeError
        assert "__file__" not in main and "__spec__" not in main
    finally:
        main.update(saved)
