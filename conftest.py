"""Test-session setup: the ``ci`` profile by default, and a per-notebook timing summary."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest

os.environ.setdefault("COURSE_PROFILE", "ci")
os.environ.setdefault("COURSE_HEADLESS", "1")  # text progress bars; widgets print tables
if os.environ["COURSE_PROFILE"] == "ci":
    import torch

    torch.set_num_threads(1)  # as setup() does in the ci profile: tiny models, shared cores

_notebook_seconds: dict[str, float] = defaultdict(float)


@pytest.fixture(scope="session")
def load_script():
    """``load_script("benchmarks/x.py")``: a repository script imported as a module."""

    def load(relative_path: str):
        path = Path(__file__).parent / relative_path
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section(f"notebook run times (profile {os.environ['COURSE_PROFILE']})")
    for path, seconds in sorted(_notebook_seconds.items()):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    total = sum(_notebook_seconds.values())
    terminalreporter.write_line(f"{total:8.1f} s  all notebooks")


@pytest.fixture(scope="session")
def local_hub(tmp_path_factory):
    """The tests' Hugging Face Hub (tests/local_hub.py): built once, served on 127.0.0.1 until
    the session ends. ``.url``, ``.requests``; ``.environment(hf_home)`` is the environment of
    a process that uses it (offline variables removed), for a subprocess or a kernel only."""
    path = Path(__file__).parent / "tests" / "local_hub.py"
    spec = importlib.util.spec_from_file_location("local_hub", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["local_hub"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    hub = module.LocalHub(module.build_repos(tmp_path_factory.mktemp("local_hub")))
    hub.start()
    hub.environment = lambda hf_home: module.hub_environment(hub.url, hf_home)
    yield hub
    hub.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A notebook cell whose output reads wrong (a bar stopped below 100%, an output shown
    twice, evaluate()'s 'No log' table) fails, although nbval compares no outputs."""
    outcome = yield
    report = outcome.get_result()
    outputs = getattr(item, "test_outputs", None)  # nbval's outputs of the cell just run
    if call.when != "call" or not report.passed or not outputs:
        return
    from course_lib.machinery.progress import output_problems

    problems = output_problems({"cells": [{"cell_type": "code", "outputs": outputs}]})
    if problems:
        report.outcome = "failed"
        report.longrepr = "The cell's output reads wrong in an executed copy:\n" + "\n".join(
            p.replace("cell 0", "this cell", 1) for p in problems
        )
