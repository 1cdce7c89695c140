import json
import shutil
from pathlib import Path

import pytest

from course_lib.machinery.lessons import Lesson, LessonError, build, build_notebooks, find_lessons

ROOT = Path(__file__).resolve().parents[1]

SOURCE = '''# %% [markdown]
# # A lesson
#
# <!-- BEGIN SOLUTION -->
# The secret answer.
# <!-- END SOLUTION -->

# %%
def double(x):
    """Twice x."""
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION


# %%
print(double.__doc__)
'''


def make_repo(tmp_path: Path, source: str = SOURCE) -> Path:
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_demo.py").write_text(source)
    return tmp_path


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def cell_with(path: Path, text: str) -> str:
    """The source of the first cell of ``path`` that contains ``text``."""
    return next(s for s in ("".join(c["source"]) for c in cells(path)) if text in s)


def test_build_writes_solution_and_learner_versions(tmp_path):
    root = make_repo(tmp_path)
    written = build(root)
    solution, learner = root / "solutions" / "01_demo.ipynb", root / "notebooks" / "01_demo.ipynb"
    assert set(written) == {solution, learner}
    sol_code = cell_with(solution, "def double")
    assert "return 2 * x" in sol_code and "BEGIN SOLUTION" not in sol_code
    learner_code = cell_with(learner, "def double")
    assert "return 2 * x" not in learner_code
    assert "    # YOUR CODE HERE\n    raise NotImplementedError(" in learner_code
    assert '"""Twice x."""' in learner_code
    learner_md = cell_with(learner, "# A lesson")
    assert "secret" not in learner_md and "*Your answer here.*" in learner_md
    assert "The secret answer." in cell_with(solution, "# A lesson")


def test_learner_stub_raises_not_implemented(tmp_path):
    root = make_repo(tmp_path)
    build(root)
    namespace: dict = {}
    exec(cell_with(root / "notebooks" / "01_demo.ipynb", "def double"), namespace)
    with pytest.raises(NotImplementedError, match="not attempted"):
        namespace["double"](3)


def test_check_mode_detects_a_notebook_edited_by_hand(tmp_path):
    root = make_repo(tmp_path)
    build(root)
    assert build(root, check=True) == []
    learner = root / "notebooks" / "01_demo.ipynb"
    learner.write_text(learner.read_text().replace("YOUR CODE HERE", "my edit"))
    assert build(root, check=True) == [learner]
    assert "my edit" in learner.read_text()  # check mode writes nothing


@pytest.mark.parametrize(
    "broken, message",
    [
        ("# BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n# END SOLUTION\n", "without BEGIN"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "inside another"),
    ],
)
def test_malformed_fences_are_reported(tmp_path, broken, message):
    root = make_repo(tmp_path, "# %%\n" + broken)
    with pytest.raises(LessonError, match=message):
        build(root)


def test_build_is_deterministic(tmp_path):
    root = make_repo(tmp_path)
    lesson = Lesson(root / "solutions" / "01_demo.py")
    assert build_notebooks(lesson) == build_notebooks(lesson)


def test_committed_notebooks_are_fresh():
    stale = build(ROOT, check=True)
    assert stale == [], f"stale notebooks, run `course build`: {stale}"


def test_every_lesson_has_both_notebooks_without_outputs():
    lessons = find_lessons(ROOT)
    assert lessons, "no lessons found"
    for lesson in lessons:
        for path in (lesson.solution_path(), lesson.learner_path()):
            for cell in cells(path):
                assert not cell.get("outputs"), f"{path} is committed with outputs"
        learner_text = lesson.learner_path().read_text()
        assert "BEGIN SOLUTION" not in learner_text


def test_an_edited_copy_of_the_repo_fails_the_freshness_check(tmp_path):
    shutil.copytree(
        ROOT / "solutions", tmp_path / "solutions", ignore=shutil.ignore_patterns("*.ipynb")
    )
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")  # the measured run times of the first cells
    for lesson in find_lessons(tmp_path):
        shutil.copy(ROOT / "solutions" / lesson.solution_path().name, lesson.solution_path())
    assert build(tmp_path, check=True) == []
    target = find_lessons(tmp_path)[0].learner_path()
    nb = json.loads(target.read_text())
    nb["cells"][0]["source"] = "edited by hand"
    target.write_text(json.dumps(nb))
    assert build(tmp_path, check=True) == [target]
