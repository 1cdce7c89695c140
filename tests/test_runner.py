import json

import nbformat
import pytest

from course_lib.machinery.cli import main
from course_lib.machinery.runner import NotebookFailed, find_notebook, run_notebook


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
    assert out == tmp_path / "out" / "executed" / "good.ipynb" and seconds > 0
    assert "42" in nbformat.read(out, 4).cells[1].outputs[0]["text"]
    bad = tmp_path / "bad.ipynb"
    write_notebook(bad, "print('ran')", "1 / 0", "print('never')")
    with pytest.raises(NotebookFailed, match="cell 1 failed") as failed:
        run_notebook(bad, output_dir=tmp_path / "out")
    partial = tmp_path / "out" / "executed" / "bad.ipynb"
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
