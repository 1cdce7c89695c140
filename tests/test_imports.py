"""Every ``course_lib`` module imports on its own, first, in a clean interpreter: no import
circle. One subprocess imports the third-party libraries once, then forks a child per
module, so each child starts with no ``course_lib`` module loaded (seconds, not minutes)."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys

import pytest

import course_lib

CHILD = """
import importlib, os, sys
import numpy, torch  # third-party libraries once; each child imports course_lib alone
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException as error:
            print(f"{name}: {type(error).__name__}: {error}", flush=True)
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    failed += [name] if status else []
sys.exit(1 if failed else 0)
"""


def course_modules() -> list[str]:
    found = pkgutil.walk_packages(course_lib.__path__, "course_lib.")
    return ["course_lib", *sorted(m.name for m in found if not m.name.endswith("__main__"))]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (Linux, macOS)")
def test_every_module_imports_alone_in_a_fresh_interpreter():
    modules = course_modules()
    assert "course_lib.engine" in modules and "course_lib.machinery.doctor" in modules
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *modules], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"these modules fail to import alone:\n{result.stdout}"
