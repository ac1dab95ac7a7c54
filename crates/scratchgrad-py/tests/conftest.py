"""micrograd's own tests (test_engine.py) compare with PyTorch and import it first thing:
where torch is not installed they are left out, and the report's header says so."""

import importlib.util

TORCH = importlib.util.find_spec("torch") is not None

collect_ignore = [] if TORCH else ["test_engine.py"]


def pytest_report_header(config):
    if not TORCH:
        return "not run: test_engine.py (micrograd's own tests need torch, not installed here; SCRATCHGRAD_TEST_TORCH=1 cargo test installs it)"
    return None
