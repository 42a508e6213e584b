import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))

# Seconds each test file took in a clean-clone `make test` on this project's 2-core CPU (the sum of its tests' setup, call and
# teardown, `--durations=0`, 2026-12-08; files under 5 s left out): only an order. `make test` runs the files on two workers, one
# file on one worker (`--dist loadfile`), each worker taking the next file in the collection's order when it runs out. In name order
# the lab copies' runs (a third of the whole) started half-way and ran on alone at the end, one core idle for about a minute;
# longest first, the short files fill in beside them and both workers end together.
TYPICAL = {"test_labs.py": 383, "test_docs.py": 167, "test_cli.py": 100, "test_scan.py": 55, "test_sd.py": 38, "test_readme.py": 44,
           "test_device_recipe.py": 37, "test_colab.py": 36, "test_reliability.py": 33, "test_golden.py": 21, "test_explorer_browser.py": 19,
           "test_import_guard.py": 15, "test_fuzz_triggers.py": 10, "test_report_browser.py": 8, "test_robust.py": 6, "test_core.py": 5,
           "test_zoo.py": 5, "test_published.py": 5}

def pytest_collection_modifyitems(items):
    "The test files longest first (`TYPICAL`; one not listed counts as quick), each file's tests in their own order."
    items.sort(key=lambda item: -TYPICAL.get(item.path.name, 0))  # a stable sort: a file's tests stay together and in order
