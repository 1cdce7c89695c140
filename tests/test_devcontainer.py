"""The devcontainer parses, is CPU-first and non-root, and installs the course like the README."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from course_lib.machinery import paths

ROOT = paths.repo_root()
CONFIG = ROOT / ".devcontainer" / "devcontainer.json"
DOCKERFILE = ROOT / ".devcontainer" / "Dockerfile"


def config() -> dict:
    return json.loads(CONFIG.read_text(encoding="utf-8"))


def post_create_steps() -> list[str]:
    """The postCreateCommand's steps (it is one shell line of ``&&``-joined commands)."""
    command = config()["postCreateCommand"]
    assert isinstance(command, str), "keep postCreateCommand one shell line"
    return [step.strip() for step in command.split("&&")]


def install_lines(markdown: str, section: str) -> list[str]:
    """The ``pip install`` commands of the fenced bash blocks in ``## section``.

    A line may chain commands (``python -m venv .venv && ... && pip install -e ".[dev]"``):
    each command counts on its own.
    """
    match = re.search(rf"^## {re.escape(section)}\s*$(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"no '## {section}' section"
    blocks = re.findall(r"^```(?:bash|sh|shell)\s*$(.*?)^```", match.group(1), re.M | re.S)
    assert blocks, f"no fenced bash block in '## {section}'"
    commands = []
    for line in (line for block in blocks for line in block.splitlines()):
        code = line.split(" #")[0].strip().removeprefix("$ ")
        commands.extend(part.strip() for part in re.split(r"&&|;", code))
    return [c for c in commands if re.match(r"(python3? -m )?pip install\b", c)]


def test_devcontainer_json_parses_and_names_its_parts():
    cfg = config()
    assert cfg["build"]["dockerfile"] == "Dockerfile"
    assert set(cfg["customizations"]["vscode"]["extensions"]) >= {
        "ms-python.python",
        "ms-toolsai.jupyter",
        "charliermarsh.ruff",
    }
    settings = cfg["customizations"]["vscode"]["settings"]
    assert settings["python.defaultInterpreterPath"] == "/opt/venv/bin/python"


def test_cpu_first_no_gpu_flag_by_default():
    cfg = config()
    assert "--gpus" not in json.dumps(cfg) and "--gpus" not in DOCKERFILE.read_text()
    assert "gpu" not in json.dumps(cfg.get("hostRequirements", {}))


def test_non_root_user_and_current_python():
    text = DOCKERFILE.read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    cfg = config()
    assert cfg["remoteUser"] == cfg["build"]["args"]["USERNAME"] == "learner"
    assert "useradd" in text and "${USERNAME}" in text
    version = cfg["build"]["args"]["PYTHON_VERSION"]
    assert tuple(int(x) for x in version.split(".")) >= (3, 12)
    assert re.search(r"^FROM python:\$\{PYTHON_VERSION\}-slim\s*$", text, re.M)


def test_post_create_installs_the_course_and_registers_a_kernel():
    steps = post_create_steps()
    assert steps[0] == 'pip install -e ".[dev]"'
    kernel = shlex.split(steps[1])
    assert kernel[:4] == ["python", "-m", "ipykernel", "install"]
    assert "--user" in kernel and kernel[kernel.index("--name") + 1] == "transformers-course"


def test_no_package_index_or_host_names_in_the_devcontainer():
    for path in (CONFIG, DOCKERFILE):
        text = path.read_text()
        assert "://" not in text, f"{path.name} names a host"
        assert not re.search(r"--(extra-)?index-url|\s-i\s|--find-links", text), path.name


def test_same_install_command_as_the_readme():
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md is not in this checkout")
    assert post_create_steps()[0] in install_lines(
        readme.read_text(encoding="utf-8"), "Quick start"
    )


def test_same_install_command_as_the_working_anywhere_guide():
    guide = (ROOT / "docs" / "working_anywhere.md").read_text(encoding="utf-8")
    assert post_create_steps()[0] in install_lines(guide, "Local virtualenv")
