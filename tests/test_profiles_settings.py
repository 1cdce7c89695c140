import pytest
import torch

from course_lib.machinery import paths
from course_lib.machinery.profiles import PROFILES, SIZES, detect_profile, sizes_for
from course_lib.machinery.settings import pick_device, pick_threads, setup


def test_profile_from_environment(monkeypatch):
    for name in PROFILES:
        monkeypatch.setenv("COURSE_PROFILE", name.upper())
        assert detect_profile() == name


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "laptop")
    with pytest.raises(ValueError, match="ci, cpu, gpu"):
        detect_profile()


def test_automatic_profile_follows_cuda(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert detect_profile(cuda_available=True) == "gpu"
    assert detect_profile(cuda_available=False) == "cpu"


def test_every_module_has_every_profile_with_the_same_keys():
    for module, table in SIZES.items():
        assert set(table) == set(PROFILES), module
        keys = {name: set(sizes) for name, sizes in table.items()}
        assert keys["ci"] == keys["cpu"] == keys["gpu"], f"module {module}: {keys}"


def test_sizes_for_returns_a_copy_and_rejects_unknowns():
    sizes = sizes_for(0, "ci")
    sizes["steps"] = -1
    assert sizes_for(0, "ci")["steps"] != -1
    with pytest.raises(KeyError, match="No sizes for module 99"):
        sizes_for(99, "ci")
    with pytest.raises(ValueError, match="Unknown profile"):
        sizes_for(0, "tpu")


def test_setup_prints_banner_and_seeds(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "out"))
    cfg = setup(module=0, seed=7)
    first = torch.rand(3)
    banner = capsys.readouterr().out.strip()
    assert banner == cfg.banner()
    assert "profile ci" in banner and "seed 7" in banner and "device cpu" in banner
    assert "threads 1" in banner and torch.get_num_threads() == 1
    assert cfg.output_dir == tmp_path / "out" and cfg.output_dir.is_dir()
    assert cfg.sizes == sizes_for(0, "ci")
    setup(module=0, seed=7, verbose=False)
    assert torch.equal(torch.rand(3), first)


def test_threads_one_in_ci_override_and_bad_value(monkeypatch):
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    assert pick_threads("ci") == 1
    assert pick_threads("cpu") == torch.get_num_threads()
    monkeypatch.setenv("COURSE_THREADS", "3")
    assert pick_threads("ci") == 3
    monkeypatch.setenv("COURSE_THREADS", "many")
    with pytest.raises(ValueError, match="whole number"):
        pick_threads("cpu")


def test_device_override_and_ci_is_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert pick_device("ci") == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert pick_device("gpu") == torch.device("cpu")


@pytest.mark.parametrize(
    ("value", "says"),
    [("cuda", "no CUDA GPU"), ("cuda:1", "no CUDA GPU"), ("quantum", "not a device name"),
     ("meta", "cpu, cuda or mps"), ("mps", "no MPS")],
)
def test_a_device_this_machine_lacks_is_a_clear_error_at_setup(monkeypatch, value, says):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    monkeypatch.setenv("COURSE_DEVICE", value)
    with pytest.raises(ValueError, match=f"COURSE_DEVICE='{value}'.*{says}.*unset it"):
        setup(module=0, verbose=False)


def test_bad_threads_and_outputs_are_clear_errors_at_setup(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_THREADS", "abc")
    with pytest.raises(ValueError, match="COURSE_THREADS='abc': use a whole number"):
        setup(module=0, verbose=False)
    monkeypatch.delenv("COURSE_THREADS")
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "a-file"))
    with pytest.raises(ValueError, match="COURSE_OUTPUT_DIR=.* is a file, not a folder"):
        setup(module=0, verbose=False)
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "a-file" / "below"))
    with pytest.raises(ValueError, match="cannot be created"):
        setup(module=0, verbose=False)


def test_outputs_go_to_drive_when_mounted(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_OUTPUT_DIR", raising=False)
    drive = tmp_path / "MyDrive"
    assert paths.output_dir(drive_root=drive) != drive / paths.DRIVE_FOLDER / "outputs"
    drive.mkdir()
    out = paths.output_dir(drive_root=drive)
    assert out == drive / paths.DRIVE_FOLDER / "outputs" and out.is_dir()


def test_module_4_tables_share_no_key():
    """SIZES[4] merges the two Module 4 tables: a shared key would silently take the
    translation value (the LM's LSTM once got the translation LSTM's width this way)."""
    from course_lib.machinery.profiles import MODULE_04, MODULE_04_TRANSLATION

    for profile in PROFILES:
        assert not set(MODULE_04[profile]) & set(MODULE_04_TRANSLATION[profile]), profile
