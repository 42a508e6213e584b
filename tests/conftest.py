import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))

# Seconds each test file took under `make test` on this project's 2-core CPU (the time from the worker's previous test to the file's
# last, measured with a timeline of a run, 2026-12-08; files under 5 s left out): only an order. `make test` runs the files on two
# workers, one file on one worker (`--dist loadfile`), each worker taking the next file when it runs out. xdist's own order, by
# number of tests (`--loadscope-reorder`, its default), put the lab copies' runs first but the Colab runtime (84 s) last, and
# one core sat idle for the last 72 s; longest first (`--no-loadscope-reorder` keeps this order) both workers end together.
TYPICAL = {"test_labs.py": 337, "test_docs.py": 127, "test_cli.py": 87, "test_colab.py": 84, "test_readme.py": 41, "test_scan.py": 35,
           "test_reliability.py": 30, "test_device_recipe.py": 29, "test_golden.py": 18, "test_explorer_browser.py": 17,
           "test_import_guard.py": 14, "test_zoo.py": 12, "test_core.py": 10, "test_sd.py": 10, "test_fuzz_triggers.py": 8,
           "test_report_browser.py": 6, "test_robust.py": 5, "test_published.py": 5}

def pytest_collection_modifyitems(items):
    "The test files longest first (`TYPICAL`; one not listed counts as quick), each file's tests in their own order."
    items.sort(key=lambda item: -TYPICAL.get(item.path.name, 0))  # a stable sort: a file's tests stay together and in order
