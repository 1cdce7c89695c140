import json
import os
import socket
import subprocess
import sys
import time

import nbformat
import pytest

from course_lib.machinery.cli import main
from course_lib.machinery.runner import NotebookBusy, NotebookFailed, find_notebook, run_notebook


def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)


def test_find_notebook_by_number_or_prefix(tmp_path):
    (tmp_path / "notebooks").mkdir()
    write_notebook(tmp_path / "notebooks" / "03_encoder.ipynb", "1")
    assert find_notebook("3", root=tmp_path).name == "03_encoder.ipynb"
    assert find_notebook("03_enc", root=tmp_path).name == "03_encoder.ipynb"
    with pytest.raises(FileNotFoundError, match="Module 4 has no notebook .*: 03_encoder"):
        find_notebook("4", root=tmp_path)


def test_run_notebook_writes_executed_copy_and_reports_failures(tmp_path):
    good = tmp_path / "good.ipynb"
    write_notebook(good, "x = 6 * 7", "print(x)")
    out, seconds = run_notebook(good, output_dir=tmp_path / "out")
    assert out == tmp_path / "out" / "executed" / "good.executed.ipynb" and seconds > 0
    assert "42" in nbformat.read(out, 4).cells[1].outputs[0]["text"]
    bad = tmp_path / "bad.ipynb"
    write_notebook(bad, "print('ran')", "1 / 0", "print('never')")
    with pytest.raises(NotebookFailed, match="cell 1 failed") as failed:
        run_notebook(bad, output_dir=tmp_path / "out")
    partial = tmp_path / "out" / "executed" / "bad.executed.ipynb"
    message = str(failed.value)
    assert str(partial) in message and "ZeroDivisionError" in message
    assert "\x1b[" not in message, "the error must be plain text, without colour codes"
    executed = nbformat.read(partial, 4)
    assert executed.cells[0].outputs and not executed.cells[2].outputs


def test_run_is_quiet_about_the_kernel_transport(tmp_path, capfd):
    write_notebook(tmp_path / "quiet.ipynb", "print('hello')")
    run_notebook(tmp_path / "quiet.ipynb", output_dir=tmp_path / "out")
    captured = capfd.readouterr()
    assert "without encryption" not in captured.out + captured.err
    assert not list(tmp_path.glob("kernel-ipc*")), "no socket files next to the notebook"


def test_progress_bars_in_the_executed_copy_show_their_final_state(tmp_path):
    loop = (
        "import time\n"
        "from course_lib.machinery.progress import progress_bar\n"
        "for _ in progress_bar(range(4), desc='epochs', mininterval=0):\n"
        "    time.sleep(0.01)"
    )
    write_notebook(tmp_path / "bars.ipynb", loop)
    out, _ = run_notebook(tmp_path / "bars.ipynb", output_dir=tmp_path / "out")
    outputs = nbformat.read(out, 4).cells[0].outputs
    assert [o["output_type"] for o in outputs] == ["stream"], "a text bar, not a widget"
    text = outputs[0]["text"]
    assert "epochs: 100%" in text and "4/4" in text
    assert "0%" not in text.replace("100%", ""), f"an intermediate state was kept: {text!r}"


def test_run_with_record_stores_the_time_and_a_missing_module_is_one_line(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "solutions").mkdir()
    write_notebook(tmp_path / "solutions" / "00_intro.ipynb", "x = 1")
    monkeypatch.setattr("course_lib.machinery.paths.repo_root", lambda: tmp_path)
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    assert main(["run", "0", "--solution", "--record", "--note", "test machine"]) == 0
    record = json.loads((tmp_path / "docs" / "run_times.json").read_text())
    entry = record["runs"]["00_intro"]["ci"]
    assert entry["seconds"] > 0 and entry["note"] == "test machine"
    capsys.readouterr()
    assert main(["run", "4", "--solution"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Module 4 has no solved notebook" in err
    assert "00_intro" in err and "Traceback" not in err


def test_cli_build_check_passes_on_this_repo(capsys):
    assert main(["build", "--check"]) == 0
    assert "notebooks up to date" in capsys.readouterr().out


# Runs that never overwrite each other, and a CLI that refuses bad input in one line (issue 26,
# items 2 and 7).


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course checkout with lesson 00 (source, learner and solved notebook)."""
    (tmp_path / "pyproject.toml").write_text("")
    for folder, says in (("notebooks", "learner"), ("solutions", "solution")):
        (tmp_path / folder).mkdir()
        write_notebook(tmp_path / folder / "00_intro.ipynb", f"print('{says}')")
    (tmp_path / "solutions" / "00_intro.py").write_text("# %%\n")
    monkeypatch.setattr("course_lib.machinery.paths.repo_root", lambda: tmp_path)
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    for name in ("COURSE_DEVICE", "COURSE_THREADS", "COURSE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_the_solved_run_does_not_overwrite_the_learners_copy(course):
    assert main(["run", "0"]) == 0 and main(["run", "0", "--solution"]) == 0
    executed = course / "out" / "executed"
    assert sorted(p.name for p in executed.iterdir()) == [
        "00_intro.executed.ipynb",
        "00_intro.solution.executed.ipynb",
    ]
    learner = nbformat.read(executed / "00_intro.executed.ipynb", 4)
    assert learner.cells[0].outputs[0]["text"] == "learner\n"


def test_a_live_run_holds_its_copy_and_a_dead_ones_lock_is_taken_over(tmp_path):
    write_notebook(tmp_path / "nb.ipynb", "x = 1")
    executed = tmp_path / "out" / "executed"
    executed.mkdir(parents=True)
    lock = executed / "nb.executed.ipynb.lock"
    lock.write_text(f"{os.getpid()} {socket.gethostname()}")  # this process: alive
    with pytest.raises(NotebookBusy, match=f"process {os.getpid()}.*delete .*lock"):
        run_notebook(tmp_path / "nb.ipynb", output_dir=tmp_path / "out")
    assert not (executed / "nb.executed.ipynb").exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(f"{dead.pid} {socket.gethostname()}")
    out, _ = run_notebook(tmp_path / "nb.ipynb", output_dir=tmp_path / "out")
    assert out.is_file() and not lock.exists()
    assert sorted(p.name for p in executed.iterdir()) == ["nb.executed.ipynb"]  # no temp files


def test_two_concurrent_runs_never_both_succeed_at_one_path(tmp_path):
    write_notebook(tmp_path / "slow.ipynb", "import time; time.sleep(2)")
    code = (
        "import sys; from pathlib import Path; from course_lib.machinery.runner import "
        "run_notebook; print(run_notebook(Path(sys.argv[1]), Path(sys.argv[2]))[0])"
    )
    first = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "slow.ipynb"), str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        text=True,
    )
    lock = tmp_path / "out" / "executed" / "slow.executed.ipynb.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(NotebookBusy, match="another run"):
        run_notebook(tmp_path / "slow.ipynb", output_dir=tmp_path / "out")
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 0 and out.strip().endswith("slow.executed.ipynb")
    assert sorted(p.name for p in lock.parent.iterdir()) == ["slow.executed.ipynb"]


def test_a_learners_notebook_does_not_shadow_the_courses(course):
    write_notebook(course / "notebooks" / "00_a_mine.ipynb", "1")
    assert find_notebook("0", root=course).name == "00_intro.ipynb"
    assert find_notebook("00_a_mine", root=course).name == "00_a_mine.ipynb"  # exact name
    write_notebook(course / "notebooks" / "00_intro_v2.ipynb", "1")
    assert find_notebook("00_intro", root=course).name == "00_intro.ipynb"
    assert find_notebook("00_", root=course).name == "00_intro.ipynb"  # the course's wins
    with pytest.raises(ValueError, match=r"several notebooks .*\(00_intro_v2, 00_intro_v3\)"):
        write_notebook(course / "notebooks" / "00_intro_v3.ipynb", "1")
        find_notebook("00_intro_v", root=course)


@pytest.mark.parametrize("module", ["", "  "])
def test_an_empty_module_is_rejected(course, capsys, module):
    assert main(["run", module]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "course run: no module given: name one by number (course run 1) or name prefix."
    assert not (course / "out" / "executed").exists()


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("course run: ") and "\n" not in err and "Traceback" not in err
    assert "running" not in captured.out  # refused before any kernel started
    return err


def test_bad_settings_and_files_are_one_line_errors(course, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "bogus")
    assert "COURSE_PROFILE='bogus'" in _one_line_error(capsys, ["run", "0"])
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    monkeypatch.setenv("COURSE_THREADS", "abc")
    assert "COURSE_THREADS='abc'" in _one_line_error(capsys, ["run", "0"])
    monkeypatch.delenv("COURSE_THREADS")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    assert "no CUDA GPU" in _one_line_error(capsys, ["run", "0"])
    monkeypatch.delenv("COURSE_DEVICE")
    (course / "a-file").write_text("")
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(course / "a-file"))
    assert "is a file, not a folder" in _one_line_error(capsys, ["run", "0"])
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(course / "out"))
    (course / "notebooks" / "00_intro.ipynb").write_text("")
    err = _one_line_error(capsys, ["run", "0"])
    assert "00_intro.ipynb: an empty file" in err and "course build" in err
    (course / "notebooks" / "00_intro.ipynb").write_text("{not json")
    assert "not a notebook" in _one_line_error(capsys, ["run", "0"])


@pytest.mark.parametrize("timeout", ["0", "-5", "soon"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(course, capsys, timeout):
    with pytest.raises(SystemExit) as stop:
        main(["run", "0", f"--timeout={timeout}"])
    assert stop.value.code == 2 and "whole number of seconds >= 1" in capsys.readouterr().err
