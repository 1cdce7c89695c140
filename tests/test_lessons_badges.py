"""Open-in-Colab badges and the Colab setup cell, added to every notebook by the lesson build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import course_lib
from course_lib.machinery import colab, lessons, paths
from course_lib.machinery.runtime import GPU_HEAVY_MODULES

LESSON = """\
# %% [markdown]
# # {number} · A lesson
#
# Some prose.

# %%
from course_lib import setup

cfg = setup(module={module})

# %%
def double(x):
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION
"""


def badge_url(cell: dict) -> str:
    source = "".join(cell["source"])
    match = re.match(r"\[!\[Open In Colab\]\((?P<img>[^)]+)\)\]\((?P<url>[^)]+)\)", source)
    assert match, f"the first cell is not an Open-in-Colab badge:\n{source}"
    assert match["img"] == colab.COLAB_BADGE
    return match["url"]


@pytest.fixture
def course(tmp_path) -> Path:
    """A course with module 0 and module 4 (GPU-heavy), built."""
    (tmp_path / "solutions").mkdir()
    for number in ("00", "04"):
        lesson = LESSON.format(number=number, module=int(number))
        (tmp_path / "solutions" / f"{number}_lesson.py").write_text(lesson)
    lessons.build(tmp_path)
    lessons.build_bootstrap(tmp_path)
    return tmp_path


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("folder", ["notebooks", "solutions"])
def test_every_notebook_starts_with_its_badge(course, folder):
    slug, branch = course_lib.REPO_SLUG, course_lib.REPO_BRANCH
    for number in ("00", "04"):
        nb = load(course / folder / f"{number}_lesson.ipynb")
        expected = f"https://colab.research.google.com/github/{slug}/blob/{branch}/{folder}/{number}_lesson.ipynb"
        assert badge_url(nb["cells"][0]) == expected
        assert nb["cells"][0]["id"] == f"{number}-badge"


def test_solved_badge_names_itself_and_links_the_exercises(course):
    source = "".join(load(course / "solutions/00_lesson.ipynb")["cells"][0]["source"])
    assert "*Solved version*" in source
    assert colab.colab_url("notebooks/00_lesson.ipynb") in source


def test_gpu_heavy_modules_ask_for_a_gpu_runtime(course):
    assert 4 in GPU_HEAVY_MODULES and 0 not in GPU_HEAVY_MODULES
    for folder in ("notebooks", "solutions"):
        heavy, light = (
            load(course / folder / "04_lesson.ipynb"),
            load(course / folder / "00_lesson.ipynb"),
        )
        assert "use a GPU runtime" in "".join(heavy["cells"][0]["source"])
        assert heavy["metadata"]["accelerator"] == "GPU"  # Colab opens it on a GPU runtime
        assert "GPU" not in "".join(light["cells"][0]["source"])
        assert "accelerator" not in light["metadata"]


def test_setup_cell_comes_just_before_the_first_lesson_code(course):
    for folder in ("notebooks", "solutions"):
        cells = load(course / folder / "00_lesson.ipynb")["cells"]
        ids = [cell["id"] for cell in cells]
        # badge, the lesson's markdown, the Colab cell, then the lesson's code, ids kept
        assert ids == ["00-badge", "00-000", "00-colab", "00-001", "00-002"]
        assert "".join(cells[2]["source"]) == colab.setup_cell_source()
        assert "cfg = setup(module=0)" in "".join(cells[3]["source"])


def test_course_build_writes_the_bootstrap_and_is_then_current(tmp_path, monkeypatch, capsys):
    from course_lib.machinery import cli

    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "00_lesson.py").write_text(LESSON.format(number="00", module=0))
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)
    assert cli.main(["build"]) == 0
    assert (tmp_path / lessons.BOOTSTRAP).is_file()
    assert cli.main(["build", "--check"]) == 0
    (tmp_path / lessons.BOOTSTRAP).write_text("{}")
    assert cli.main(["build", "--check"]) == 1
    assert f"stale: {lessons.BOOTSTRAP}" in capsys.readouterr().out


def test_one_slug_drives_every_link(course, monkeypatch):
    monkeypatch.setattr(course_lib, "REPO_SLUG", "someone/fork")
    monkeypatch.setattr(course_lib, "REPO_BRANCH", "dev")
    stale = lessons.build(course, check=True) + lessons.build_bootstrap(course, check=True)
    assert sorted(p.name for p in stale) == sorted(
        [lessons.BOOTSTRAP] + ["00_lesson.ipynb", "04_lesson.ipynb"] * 2
    )
    lessons.build(course)
    lessons.build_bootstrap(course)
    nb = load(course / "notebooks/00_lesson.ipynb")
    assert badge_url(nb["cells"][0]).startswith(
        "https://colab.research.google.com/github/someone/fork/blob/dev/"
    )
    assert 'REPO_URL = "https://github.com/someone/fork.git"' in "".join(nb["cells"][2]["source"])
    assert "https://github.com/someone/fork.git" in (course / lessons.BOOTSTRAP).read_text()


def test_the_slug_is_written_in_one_place_only():
    root = paths.repo_root()
    sources = [p for p in (root / "course_lib").rglob("*.py")]
    holders = [p.name for p in sources if course_lib.REPO_SLUG in p.read_text(encoding="utf-8")]
    assert holders == ["__init__.py"]


def test_the_course_notebooks_carry_their_badges():
    root = paths.repo_root()
    built = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted(
        (root / "solutions").glob("[0-9][0-9]_*.ipynb")
    )
    assert built, "no generated notebooks found"
    for path in built:
        cells = load(path)["cells"]
        url = badge_url(cells[0])
        assert url == colab.colab_url(f"{path.parent.name}/{path.name}"), path
        gpu_note = "use a GPU runtime" in "".join(cells[0]["source"])
        assert gpu_note == (int(path.name[:2]) in GPU_HEAVY_MODULES), path
        assert sum("".join(c["source"]) == colab.setup_cell_source() for c in cells) == 1, path
