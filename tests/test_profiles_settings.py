import pytest
import torch

from course_lib.machinery import paths
from course_lib.machinery.profiles import (
    CI_HUB,
    PROFILES,
    SIZES,
    UNMEASURED_GPU,
    detect_profile,
    lookup,
    sizes_for,
    unmeasured_note,
)
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


def experiments(sizes: dict) -> dict:
    """``{experiment: set of keys}`` of one module's sizes (``{None: keys}`` when flat)."""
    nested = {name: set(value) for name, value in sizes.items() if isinstance(value, dict)}
    return {**nested, None: {name for name in sizes if name not in nested}}


def test_every_profile_of_a_module_has_the_same_experiments_and_keys():
    for module, table in SIZES.items():
        assert set(table) == set(PROFILES), module
        shapes = {name: experiments(sizes) for name, sizes in table.items()}
        assert shapes["ci"] == shapes["cpu"] == shapes["gpu"], f"module {module}: {shapes}"


def test_several_experiments_are_nested_and_no_key_keeps_an_experiment_prefix():
    """Module 4's translation sizes are ``sizes["translation"]["d_model"]``, not ``mt_d_model``;
    a module of one experiment (0, 6) stays flat."""
    assert experiments(SIZES[4]["ci"]).keys() >= {"leak", "toy", "lm", "translation"}
    assert all(not isinstance(v, dict) for m in (0, 6) for v in SIZES[m]["ci"].values())
    # the old flat keys' prefixes, and the experiment's own name
    old = ("mt_", "toy_", "lm_", "s2s_", "w2v_", "char_", "cls_", "gen_", "tok_", "task_", "kv_")
    for module, table in SIZES.items():
        for profile, sizes in table.items():
            for experiment, keys in experiments(sizes).items():
                prefixes = (*old, f"{experiment}_") if experiment else old
                for key in keys:
                    assert not key.startswith(prefixes), (module, profile, experiment, key)


def test_sizes_for_returns_a_deep_copy_and_rejects_unknowns():
    sizes = sizes_for(0, "ci")
    sizes["steps"] = -1
    assert sizes_for(0, "ci")["steps"] != -1
    nested = sizes_for(4, "ci")
    nested["translation"]["d_model"] = -1
    nested["cache"]["lengths"].append(-1)
    assert sizes_for(4, "ci") == SIZES[4]["ci"] and nested != SIZES[4]["ci"]
    with pytest.raises(KeyError, match="No sizes for module 99"):
        sizes_for(99, "ci")
    with pytest.raises(ValueError, match="Unknown profile"):
        sizes_for(0, "tpu")


def test_ci_hub_updates_one_experiment_and_keeps_its_other_keys(monkeypatch):
    monkeypatch.setenv("COURSE_CI_HUB", "1")
    hub = sizes_for(5, "ci")
    plain = SIZES[5]["ci"]
    for experiment, overrides in CI_HUB[5].items():
        assert hub[experiment] == {**plain[experiment], **overrides}, experiment
    assert hub["translation"]["d_model"] == plain["translation"]["d_model"]
    assert hub["classification"]["hub"] == "bert-base-uncased" and hub["tokenizers"] == plain[
        "tokenizers"
    ]
    assert sizes_for(6, "ci")["hub_model"] == CI_HUB[6]["hub_model"]  # a flat module
    assert sizes_for(6, "ci")["d_model"] == SIZES[6]["ci"]["d_model"]
    assert SIZES[5]["ci"]["classification"]["hub"] is None  # the table itself is untouched


def test_every_unmeasured_gpu_path_exists_and_the_note_names_it():
    for module, names in UNMEASURED_GPU.items():
        sizes = sizes_for(module, "gpu")
        note = unmeasured_note(module, "gpu")
        for path in names:
            value = lookup(sizes, path)  # a KeyError names a path that does not exist
            assert not isinstance(value, dict), path
            assert f"{path} {value}" in note, (path, note)
    assert "translation.min_bleu 30.0" in unmeasured_note(4, "gpu")
    with pytest.raises(KeyError):
        lookup(sizes_for(4, "gpu"), "translation.no_such_key")


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
