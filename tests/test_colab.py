"""The Colab bootstrap, tested here without Colab and without a network.

``google.colab`` is a fake module whose ``drive.mount`` creates a folder; the course's
"remote" is a local git repository in ``tmp_path``; pip is never run (its command is recorded).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from course_lib import REPO_SLUG
from course_lib.machinery import colab, lessons, paths
from course_lib.machinery.colab import BootstrapError, bootstrap, clone_or_pull

NOTEBOOK = "notebooks/00_intro.ipynb"


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def notebook_text(title: str) -> str:
    cell = {"cell_type": "markdown", "id": "a", "metadata": {}, "source": [f"# {title}\n", "Text."]}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)


def _force_push(origin: Path) -> None:
    """Rewrite the origin's last commit (as `git commit --amend && git push --force` would)."""
    (origin / "README.md").write_text("# Course, rewritten\n")
    git(origin, "add", "-A")
    git(origin, "commit", "--quiet", "--amend", "-m", "course (rewritten)")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Git identity for the fixture's commits; sys.path and COURSE_OUTPUT_DIR restored after."""
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Course Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.invalid")
    monkeypatch.setenv("COURSE_OUTPUT_DIR", "unset-after-the-test")
    monkeypatch.delenv("COURSE_OUTPUT_DIR")  # bootstrap sets it; the undo removes it again
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # the full report's doctor makes no request
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(paths, "DRIVE_ROOT", tmp_path / "drive" / "MyDrive")


@pytest.fixture
def origin(tmp_path) -> Path:
    """The course's repository, with two lessons (module 4 is GPU-heavy)."""
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "--quiet", "-b", "main")
    commit(
        repo,
        {
            "pyproject.toml": '[project]\nname = "course-lib"\n',
            "course_lib/__init__.py": "",
            "README.md": "# Course\n",
            NOTEBOOK: notebook_text("00 · Intro"),
            "solutions/00_intro.ipynb": notebook_text("00 · Intro"),
            "notebooks/04_transformer.ipynb": notebook_text("04 · The full Transformer"),
        },
        "course",
    )
    return repo


@pytest.fixture
def pip_calls(monkeypatch) -> list[dict]:
    """Every pip command the bootstrap runs, with its constraints file's text; none runs."""
    calls = []

    def fake_pip(command: list[str]) -> None:
        constraints = (
            command[command.index("--constraint") + 1] if "--constraint" in command else None
        )
        calls.append(
            {
                "command": command,
                "constraints": Path(constraints).read_text() if constraints else "",
            }
        )

    monkeypatch.setattr(colab, "run_pip", fake_pip)
    return calls


def _fake_google_colab(monkeypatch, mount) -> None:
    """Install a ``google.colab`` module whose ``drive.mount`` is ``mount``."""
    package = types.ModuleType("google.colab")
    package.drive = types.SimpleNamespace(mount=mount)
    if "google" not in sys.modules:
        monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", package)
    monkeypatch.setitem(sys.modules, "google.colab.drive", package.drive)


@pytest.fixture
def fake_colab(monkeypatch) -> list[str]:
    """A ``google.colab`` whose ``drive.mount(mountpoint)`` creates ``mountpoint/MyDrive``."""
    mounts = []

    def mount(mountpoint: str, force_remount: bool = False) -> None:
        mounts.append(mountpoint)
        (Path(mountpoint) / "MyDrive").mkdir(parents=True, exist_ok=True)

    _fake_google_colab(monkeypatch, mount)
    return mounts


def test_first_run_clones_installs_and_sends_outputs_to_drive(
    origin, tmp_path, pip_calls, fake_colab
):
    home, drive = tmp_path / "content" / "course", tmp_path / "drive" / "MyDrive"
    report = bootstrap(str(origin), "main", home, brief=True)
    assert report.sync.action == "cloned"
    assert (home / NOTEBOOK).read_text() == (origin / NOTEBOOK).read_text()
    # installed once, editable, from the clone, with the installed torch pinned
    import torch

    assert len(pip_calls) == 1
    command = pip_calls[0]["command"]
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert command[command.index("--editable") + 1] == str(home)
    assert f"torch=={torch.__version__}" in pip_calls[0]["constraints"].splitlines()
    # Drive mounted at its usual place relative to My Drive, outputs sent there
    assert fake_colab == [str(tmp_path / "drive")]
    expected = drive / "transformers-course" / "outputs"
    assert report.output_dir == expected and expected.is_dir()
    assert paths.output_dir() == expected
    assert str(home) in sys.path


def test_second_run_pulls_and_keeps_a_modified_notebook(origin, tmp_path, pip_calls, fake_colab):
    home = tmp_path / "course"
    bootstrap(str(origin), "main", home, brief=True)
    mine = notebook_text("00 · Intro, with my notes")
    (home / NOTEBOOK).write_text(mine)
    commit(
        origin, {"notebooks/01_rnn.ipynb": notebook_text("01 · RNNs"), "README.md": "# New\n"}, "m1"
    )

    report = bootstrap(str(origin), "main", home, brief=True)
    assert report.sync.action == "updated"
    assert (home / "notebooks/01_rnn.ipynb").is_file()
    assert (home / "README.md").read_text() == "# New\n"
    assert (home / NOTEBOOK).read_text() == mine
    assert report.sync.kept == [NOTEBOOK]
    assert git(home, "rev-parse", "HEAD") == git(origin, "rev-parse", "HEAD")
    assert len(pip_calls) == 1, "pyproject.toml did not change: no second install"
    assert len(fake_colab) == 1, "Drive was already mounted"


def test_third_run_with_nothing_new_is_up_to_date(origin, tmp_path, pip_calls, fake_colab):
    home = tmp_path / "course"
    bootstrap(str(origin), "main", home, brief=True)
    assert bootstrap(str(origin), "main", home, brief=True).sync.action == "up to date"


def test_update_to_an_edited_file_is_not_applied(origin, tmp_path):
    home = tmp_path / "course"
    clone_or_pull(str(origin), "main", home)
    before = git(home, "rev-parse", "HEAD")
    mine = notebook_text("my version")
    (home / NOTEBOOK).write_text(mine)
    commit(origin, {NOTEBOOK: notebook_text("course's fix")}, "fix")

    result = clone_or_pull(str(origin), "main", home)
    assert result.action == "kept"
    assert NOTEBOOK in result.message and "checkout --" in result.message
    assert (home / NOTEBOOK).read_text() == mine
    assert git(home, "rev-parse", "HEAD") == before


def test_an_unreachable_origin_keeps_the_clone_as_it_is(origin, tmp_path):
    home = tmp_path / "course"
    clone_or_pull(str(origin), "main", home)
    origin.rename(tmp_path / "moved")
    result = clone_or_pull(str(origin), "main", home)
    assert result.action == "kept" and "could not fetch updates" in result.message
    assert (home / NOTEBOOK).is_file()


def test_learner_file_where_the_update_adds_one_is_kept(origin, tmp_path):
    home = tmp_path / "course"
    clone_or_pull(str(origin), "main", home)
    (home / "notebooks/01_rnn.ipynb").write_text("mine, untracked")
    commit(origin, {"notebooks/01_rnn.ipynb": notebook_text("01")}, "add 01")
    result = clone_or_pull(str(origin), "main", home)
    assert result.action == "kept"
    assert (home / "notebooks/01_rnn.ipynb").read_text() == "mine, untracked"


@pytest.mark.parametrize("upstream", ["a new commit", "a force-push"])
def test_learner_commits_are_never_rewritten(origin, tmp_path, upstream):
    home = tmp_path / "course"
    clone_or_pull(str(origin), "main", home)
    commit(home, {"notes.md": "my notes"}, "my notes")
    mine = git(home, "rev-parse", "HEAD")
    if upstream == "a force-push":
        _force_push(origin)
    else:
        commit(origin, {"README.md": "# New\n"}, "m1")
    result = clone_or_pull(str(origin), "main", home)
    assert result.action == "kept" and "1 commit(s) of your own" in result.message
    assert ("force-push" in result.message) == (upstream == "a force-push")
    assert git(home, "rev-parse", "HEAD") == mine


def test_changed_pyproject_installs_again(origin, tmp_path, pip_calls):
    home = tmp_path / "course"
    bootstrap(str(origin), "main", home, mount_drive=False, brief=True)
    commit(origin, {"pyproject.toml": '[project]\nname = "course-lib"\nversion = "2"\n'}, "deps")
    bootstrap(str(origin), "main", home, mount_drive=False, brief=True)
    assert len(pip_calls) == 2


def test_folders_that_are_not_the_course_are_refused(origin, tmp_path):
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "file.txt").write_text("not a clone")
    with pytest.raises(BootstrapError, match="not a git clone"):
        clone_or_pull(str(origin), "main", stray)
    home = tmp_path / "course"
    clone_or_pull(str(origin), "main", home)
    with pytest.raises(BootstrapError, match="is a clone of"):
        clone_or_pull("https://github.com/someone/else.git", "main", home)


def test_a_drive_that_does_not_mount_is_reported(monkeypatch, tmp_path):
    package = types.ModuleType("google.colab")
    package.drive = types.SimpleNamespace(mount=lambda mountpoint, force_remount=False: None)
    monkeypatch.setitem(sys.modules, "google.colab", package)
    with pytest.raises(BootstrapError, match="did not appear"):
        colab.outputs_to_drive(tmp_path / "drive" / "MyDrive")


def test_without_drive_outputs_stay_local(origin, tmp_path, pip_calls, capsys):
    report = bootstrap(str(origin), "main", tmp_path / "course", mount_drive=False, brief=True)
    assert report.output_dir is None
    assert "lost when the runtime disconnects" in capsys.readouterr().out


def test_gpu_message_says_how_to_switch_only_without_a_gpu():
    without = colab.gpu_message(cuda_available=False)
    assert "No GPU" in without and "Change runtime type" in without
    with_gpu = colab.gpu_message(cuda_available=True, device_name="Tesla T4")
    assert "Tesla T4" in with_gpu and "Change runtime type" not in with_gpu


def test_no_gpu_here_is_reported_by_the_bootstrap(
    origin, tmp_path, pip_calls, fake_colab, monkeypatch
):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    report = bootstrap(str(origin), "main", tmp_path / "course", brief=True)
    assert "Change runtime type" in report.gpu


def test_installing_over_an_imported_package_asks_for_a_restart(origin, tmp_path, monkeypatch):
    versions = {"numpy": "1.0", "torch": "2.0+cu121", "course-lib": None}
    monkeypatch.setattr(colab, "_installed", lambda name: versions.get(name))
    monkeypatch.setattr(colab, "run_pip", lambda command: versions.update(numpy="2.0"))
    clone_or_pull(str(origin), "main", tmp_path / "course")
    message = colab.install_course(tmp_path / "course")
    assert "kept torch 2.0+cu121" in message
    assert "numpy changed version" in message and "Restart session" in message


def test_full_report_lists_modules_with_colab_links(
    origin, tmp_path, pip_calls, fake_colab, capsys, monkeypatch
):
    url = f"https://github.com/{REPO_SLUG}.git"
    home = tmp_path / "course"
    clone_or_pull(str(origin), "main", home)
    # as if cloned from GitHub (which this test cannot reach)
    monkeypatch.setattr(colab, "clone_or_pull", lambda *args: colab.SyncResult("up to date", "ok"))
    report = bootstrap(url, "main", home)
    out = capsys.readouterr().out
    assert "course doctor" in out  # the doctor's report follows the steps
    assert [link.module for link in report.links] == [0, 4]
    intro, heavy = report.links
    assert intro.title == "00 · Intro" and not intro.gpu
    assert (
        intro.notebook
        == f"https://colab.research.google.com/github/{REPO_SLUG}/blob/main/{NOTEBOOK}"
    )
    assert intro.solution.endswith("/solutions/00_intro.ipynb")
    assert heavy.gpu and heavy.solution is None
    assert "[04 · The full Transformer](" in out and "GPU runtime" in out


def test_urls():
    assert colab.slug_from_url("https://github.com/a-b/c.d.git") == "a-b/c.d"
    assert colab.slug_from_url("git@github.com:a/b.git") == "a/b"
    assert colab.slug_from_url("https://gitlab.com/a/b.git") is None
    assert colab.repo_url() == f"https://github.com/{REPO_SLUG}.git"
    assert (
        colab.colab_url("x.ipynb", "u/r", "dev")
        == "https://colab.research.google.com/github/u/r/blob/dev/x.ipynb"
    )


# --- the generated cells, executed as Colab would run them ----------------------------------


def _code_cells(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def _localised(source: str, home: Path, url: str, tmp_path: Path | None = None) -> str:
    """A cell's code with Colab's folders moved into tmp_path and REPO_URL set to ``url``.

    Drive is mounted at ``tmp_path/drive`` (where the fake ``google.colab`` puts My Drive),
    uploads land in ``tmp_path/uploads``.
    """
    source = source.replace(colab.COLAB_HOME, str(home)).replace(colab.repo_url(), url)
    source = source.replace('REPO_URL = ""', f'REPO_URL = "{url}"')
    if tmp_path is not None:
        source = source.replace(f'"{colab.COLAB_DRIVE_MOUNT}', f'"{tmp_path / "drive"}')
        source = source.replace(f'"{colab.COLAB_UPLOADS}"', f'"{tmp_path / "uploads"}"')
    assert '"/content' not in source, "a test must not touch this machine's /content"
    return source


def test_bootstrap_notebook_does_nothing_outside_colab(capsys, tmp_path):
    namespace = {}
    for source in _code_cells(colab.bootstrap_notebook()):
        exec(_localised(source, tmp_path / "course", "unused", tmp_path), namespace)
    assert "Not on Colab" in capsys.readouterr().out
    assert not (tmp_path / "course").exists()


def test_bootstrap_notebook_runs_end_to_end_on_fake_colab(
    origin, tmp_path, pip_calls, fake_colab, capsys
):
    home = tmp_path / "content" / "course"
    namespace = {}
    for source in _code_cells(colab.bootstrap_notebook()):
        exec(_localised(source, home, str(origin), tmp_path), namespace)
    out = capsys.readouterr().out
    assert (home / NOTEBOOK).is_file()  # cloned by the notebook's first step
    assert len(pip_calls) == 1 and fake_colab
    assert "outputs and checkpoints go to Drive" in out and "course doctor" in out
    assert "No Open-in-Colab links" in out  # a local path is not on GitHub


def test_module_notebook_first_cell_is_inert_outside_colab(tmp_path):
    source = _localised(colab.setup_cell_source(), tmp_path / "course", "unused", tmp_path)
    exec(source, {})
    assert not (tmp_path / "course").exists()


def test_module_notebook_first_cell_sets_colab_up(origin, tmp_path, pip_calls, fake_colab, capsys):
    home = tmp_path / "content" / "course"
    exec(_localised(colab.setup_cell_source(), home, str(origin), tmp_path), {})
    assert (home / NOTEBOOK).is_file() and len(pip_calls) == 1
    out = capsys.readouterr().out
    assert "outputs and checkpoints go to Drive" in out
    assert "course doctor" not in out  # brief in module notebooks


def test_built_bootstrap_notebook_is_current():
    root = paths.repo_root()
    text = (root / lessons.BOOTSTRAP).read_text(encoding="utf-8")
    import nbformat

    assert text == nbformat.writes(colab.bootstrap_notebook()) + "\n", "run `course build`"
    form = nbformat.reads(text, as_version=4).cells[1].source
    if colab.repository_configured():
        assert f'REPO_URL = "https://github.com/{REPO_SLUG}.git"' in form
    else:  # no public home yet: the form starts empty and the course comes from Drive
        assert 'REPO_URL = ""' in form


# --- without a public repository: a copy on Drive, a zip, and failures in one sentence -------


def _course_copy(folder: Path, origin: Path) -> Path:
    """A copy of the course (the origin's files, no .git) in ``folder``."""
    shutil.copytree(origin, folder, ignore=shutil.ignore_patterns(".git"))
    return folder


def _run_module_cell(home: Path, tmp_path: Path, url: str = "") -> None:
    exec(_localised(colab.setup_cell_source(), home, url, tmp_path), {})


def test_without_a_url_the_course_is_copied_from_drive(
    origin, tmp_path, pip_calls, fake_colab, capsys
):
    drive_folder = tmp_path / "drive" / "MyDrive" / "transformers-course"
    _course_copy(drive_folder / "course", origin)
    home = tmp_path / "content" / "course"
    _run_module_cell(home, tmp_path)
    assert (home / NOTEBOOK).is_file() and not (home / ".git").exists()
    assert len(pip_calls) == 1 and pip_calls[0]["command"][-3] == str(home)
    out = capsys.readouterr().out
    assert "using the copy (from Drive or a zip) of the course" in out
    assert "outputs and checkpoints go to Drive" in out
    _run_module_cell(home, tmp_path)  # a second run: already there, already installed
    assert len(pip_calls) == 1


@pytest.mark.parametrize("where", ["drive", "uploads"])
def test_without_a_url_a_zip_of_the_course_is_unpacked(
    origin, tmp_path, pip_calls, fake_colab, where
):
    folder = tmp_path / "drive" / "MyDrive" / "transformers-course" if where == "drive" else (
        tmp_path / "uploads"
    )
    folder.mkdir(parents=True)
    top = _course_copy(tmp_path / "zipped" / "transformers-course-main", origin)
    shutil.make_archive(str(folder / "transformers-course-main"), "zip", top.parent)
    home = tmp_path / "content" / "course"
    _run_module_cell(home, tmp_path)
    assert (home / NOTEBOOK).is_file() and (home / "pyproject.toml").is_file()
    assert len(pip_calls) == 1


def test_without_a_url_or_a_copy_one_sentence_says_what_to_set(tmp_path, fake_colab):
    with pytest.raises(SystemExit) as stop:
        _run_module_cell(tmp_path / "content" / "course", tmp_path)
    message = str(stop.value)
    assert message.startswith("No course to install: set REPO_URL")
    assert message.count(". ") == 0 and "transformers-course/course" in message


def test_a_failing_clone_is_fast_and_one_sentence(tmp_path, fake_colab, monkeypatch):
    """A repository that asks for credentials: git must not wait for a password."""
    calls = []
    real_run = subprocess.run

    def run(command, **kwargs):
        calls.append(kwargs.get("env", {}).get("GIT_TERMINAL_PROMPT"))
        assert kwargs.get("timeout"), "a clone must have a timeout"
        return real_run(command, **kwargs)

    monkeypatch.setattr(subprocess, "run", run)
    missing = tmp_path / "no-such-repository"
    with pytest.raises(SystemExit) as stop:
        _run_module_cell(tmp_path / "content" / "course", tmp_path, url=str(missing))
    assert calls == ["0"]
    message = str(stop.value)
    assert message.startswith(f"Could not clone {missing}") and "set REPO_URL" in message
    assert not (tmp_path / "content" / "course").exists()


def test_the_placeholder_slug_means_no_repository():
    assert not colab.repository_configured("your-github-user/transformers-course")
    assert colab.repository_configured("someone/transformers-course")
    assert colab.default_url() == (colab.repo_url() if colab.repository_configured() else "")



# --- Colab edge cases (issue 26, item 8) ------------------------------------------------------


@pytest.fixture
def declining_colab(monkeypatch) -> list[str]:
    """A ``google.colab`` whose ``drive.mount`` fails as a declined authorisation does."""
    tries = []

    def mount(mountpoint: str, force_remount: bool = False) -> None:
        tries.append(mountpoint)
        raise ValueError("mount failed")

    _fake_google_colab(monkeypatch, mount)
    return tries


def _zip_of(folder: Path, name: str, files: dict[str, str], tmp_path: Path) -> Path:
    top = tmp_path / "zipped" / name / name
    for rel, text in files.items():
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text(text)
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.make_archive(str(folder / name), "zip", top.parent))


def test_a_declined_drive_authorisation_is_explained_and_the_run_goes_on(
    origin, tmp_path, pip_calls, declining_colab, capsys
):
    report = bootstrap(str(origin), "main", tmp_path / "course", mount_drive=True, brief=True)
    out = capsys.readouterr().out
    assert declining_colab and report.output_dir is None
    assert "Google Drive was not mounted (the authorisation was declined" in out
    assert "lost when the runtime disconnects" in out and "Traceback" not in out
    # without a URL the first cell still finds an uploaded zip of the course
    top = _course_copy(tmp_path / "zipped" / "transformers-course-main", origin)
    (tmp_path / "uploads").mkdir()
    shutil.make_archive(str(tmp_path / "uploads" / "course"), "zip", top.parent)
    home = tmp_path / "content" / "course"
    _run_module_cell(home, tmp_path)
    out = capsys.readouterr().out
    assert "Google Drive is not mounted (mount failed): looking for a zip" in out
    assert (home / NOTEBOOK).is_file()


def test_a_file_where_the_drive_folder_should_be_is_explained(
    origin, tmp_path, pip_calls, fake_colab, capsys
):
    drive = tmp_path / "drive" / "MyDrive"
    drive.mkdir(parents=True)
    (drive / paths.DRIVE_FOLDER).write_text("a file, not a folder")
    with pytest.raises(BootstrapError, match="is a file where the course's folder on Drive"):
        colab.outputs_to_drive(drive)
    report = bootstrap(str(origin), "main", tmp_path / "course", mount_drive=True, brief=True)
    out = capsys.readouterr().out
    assert report.output_dir is None and f"{drive / paths.DRIVE_FOLDER} is a file" in out


def test_an_upstream_force_push_is_reported_as_such_and_followed(origin, tmp_path):
    home = tmp_path / "course"
    clone_or_pull(str(origin), "main", home)
    _force_push(origin)
    result = clone_or_pull(str(origin), "main", home)
    assert result.action == "updated" and "force-push" in result.message
    assert "of your own" not in result.message
    assert git(home, "rev-parse", "HEAD") == git(origin, "rev-parse", "HEAD")
    assert (home / "README.md").read_text() == "# Course, rewritten\n"


def test_a_half_copied_course_is_moved_aside_and_fetched_again(
    origin, tmp_path, pip_calls, fake_colab, capsys
):
    _course_copy(tmp_path / "drive" / "MyDrive" / "transformers-course" / "course", origin)
    home = tmp_path / "content" / "course"
    home.mkdir(parents=True)
    (home / "pyproject.toml").write_text('[project]\nname = "course-lib"\n')  # cut short here
    (home / "my-notes.txt").write_text("keep me")
    _run_module_cell(home, tmp_path)
    assert (home / NOTEBOOK).is_file() and (home / "course_lib" / "__init__.py").is_file()
    aside = tmp_path / "content" / "course.incomplete-1"
    assert (aside / "my-notes.txt").read_text() == "keep me"  # nothing deleted
    assert f"{home} is incomplete (a fetch cut short): moved to {aside}" in capsys.readouterr().out
    _run_module_cell(home, tmp_path)  # complete now: not fetched again
    assert not (tmp_path / "content" / "course.incomplete-2").exists()


def test_a_clone_cut_short_is_cloned_again(origin, tmp_path, pip_calls, fake_colab):
    home = tmp_path / "content" / "course"
    subprocess.run(["git", "clone", "--quiet", str(origin), str(home)], check=True)
    (home / "course_lib" / "__init__.py").unlink()  # as if the runtime died mid-checkout
    _run_module_cell(home, tmp_path, url=str(origin))
    assert (home / "course_lib" / "__init__.py").is_file()
    assert (home / ".git" / colab.COMPLETE_MARKER).is_file()
    assert (tmp_path / "content" / "course.incomplete-1").is_dir()


def test_a_zip_that_is_not_this_course_is_not_installed(origin, tmp_path, pip_calls, fake_colab):
    uploads = tmp_path / "uploads"
    _zip_of(uploads, "a-other-project", {"pyproject.toml": '[project]\nname = "other"\n'}, tmp_path)
    _zip_of(uploads, "b-no-package", {"pyproject.toml": '[project]\nname = "course-lib"\n'},
            tmp_path)
    (uploads / "c-broken.zip").write_bytes(b"not a zip")
    drive_copy = tmp_path / "drive" / "MyDrive" / "transformers-course" / "course"
    drive_copy.mkdir(parents=True)
    (drive_copy / "pyproject.toml").write_text('[project]\nname = "someone-elses"\n')
    home = tmp_path / "content" / "course"
    with pytest.raises(SystemExit) as stop:
        _run_module_cell(home, tmp_path)
    message = str(stop.value)
    assert message.startswith(f"No course to install ({drive_copy}, a-other-project.zip, "
                              "b-no-package.zip, c-broken.zip do not hold this course)")
    assert not home.exists()
    top = _course_copy(tmp_path / "zipped" / "transformers-course-main", origin)
    shutil.make_archive(str(uploads / "d-course"), "zip", top.parent)
    _run_module_cell(home, tmp_path)  # the real one is found among the others
    assert (home / NOTEBOOK).is_file() and (home / ".course-complete").is_file()


def test_a_clone_of_another_project_is_not_installed(tmp_path, pip_calls, fake_colab):
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "--quiet", "-b", "main")
    commit(other, {"pyproject.toml": '[project]\nname = "other"\n'}, "other project")
    home = tmp_path / "content" / "course"
    with pytest.raises(SystemExit, match=f"{other} is not this course"):
        _run_module_cell(home, tmp_path, url=str(other))
    assert not home.exists() and not pip_calls
