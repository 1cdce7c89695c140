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
    with pytest.raises(FileNotFoundError, match="known: 03_encoder"):
        find_notebook("4", root=tmp_path)


def test_run_notebook_writes_executed_copy_and_reports_failures(tmp_path):
    good = tmp_path / "good.ipynb"
    write_notebook(good, "x = 6 * 7", "print(x)")
    out, seconds = run_notebook(good, output_dir=tmp_path / "out")
    assert out == tmp_path / "out" / "executed" / "good.ipynb" and seconds > 0
    assert "42" in nbformat.read(out, 4).cells[1].outputs[0]["text"]
    bad = tmp_path / "bad.ipynb"
    write_notebook(bad, "print('ran')", "1 / 0", "print('never')")
    with pytest.raises(NotebookFailed, match="cell 1 failed"):
        run_notebook(bad, output_dir=tmp_path / "out")
    executed = nbformat.read(tmp_path / "out" / "executed" / "bad.ipynb", 4)
    assert executed.cells[0].outputs and not executed.cells[2].outputs


def test_cli_build_check_passes_on_this_repo(capsys):
    assert main(["build", "--check"]) == 0
    assert "notebooks up to date" in capsys.readouterr().out
