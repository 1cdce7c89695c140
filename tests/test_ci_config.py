"""The GitHub workflow and the pre-commit config: valid, and running what .ci/run runs."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from course_lib.machinery import paths

ROOT = paths.repo_root()
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
PRE_COMMIT = ROOT / ".pre-commit-config.yaml"


def run_tool(*command: str) -> subprocess.CompletedProcess:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is missing: pip install -e '.[dev]'")
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_workflow_matches_githubs_schema_offline():
    result = run_tool(
        "check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_runs_ci_run_on_every_change_on_cpu_with_a_pip_cache():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads on: as True
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    assert job["env"]["PIP_EXTRA_INDEX_URL"].endswith("/whl/cpu")
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    runs = [s["run"].strip() for s in job["steps"] if "run" in s]
    assert runs == ["bash .ci/run"], "the workflow runs exactly what .ci/run runs"


def test_ci_run_executes_every_notebook():
    """.ci/run calls plain `pytest`, which collects the notebooks of both folders with nbval."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "\npytest\n" in script
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert {"solutions", "notebooks"} <= set(options["testpaths"])
    assert "--nbval-lax" in options["addopts"]


def test_pre_commit_config_is_valid_and_runs_ruff_and_the_build_check():
    result = run_tool("pre-commit", "validate-config", str(PRE_COMMIT))
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = [h for repo in yaml.safe_load(PRE_COMMIT.read_text())["repos"] for h in repo["hooks"]]
    entries = {h["id"]: h["entry"] for h in hooks}
    assert entries["ruff"].startswith("ruff check")
    assert entries["course-build-check"] == "course build --check"


def test_readme_names_the_pre_commit_config_for_maintainers():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    maintainers = readme[readme.index("## For maintainers") :]
    assert ".pre-commit-config.yaml" in maintainers and "pre-commit install" in maintainers
    assert ".github/workflows/ci.yml" in maintainers
