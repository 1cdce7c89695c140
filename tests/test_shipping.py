"""Shipping: safetensors + model card + usage file; a fresh process reproduces a prediction."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from course_lib.project.final_project import (
    Seq2SeqBatches,
    seq2seq_loss,
    stand_in_t5,
    stand_in_tokenizer,
)
from course_lib.project.shipping import (
    ModelCard,
    ShippedModelError,
    _write_manifest,
    load_for_use,
    predict_texts,
    reproduce_in_fresh_process,
    save_for_use,
)
from course_lib.training import fit

PAIRS = [(f"zahl {a} plus {b}", f"number {a} plus {b}") for a in range(6) for b in range(6)]


def card(**changes) -> ModelCard:
    fields = dict(
        title="Tiny translator",
        task="translation",
        model="T5 from a config",
        data="36 generated pairs",
        metrics={"bleu": 12.5},
        baseline={"bleu": 3.25},
        limits=["toy vocabulary only"],
        baseline_name="copy the source",
        training="3 epochs on a CPU",
    )
    return ModelCard(**{**fields, **changes})


@pytest.fixture(scope="module")
def trained():
    """A tiny T5 trained for a moment on a toy translation task, and its tokenizer."""
    torch.manual_seed(0)
    tokenizer = stand_in_tokenizer(PAIRS, 80)
    model = stand_in_t5(tokenizer, d_model=32, num_layers=1, num_heads=2, d_ff=64, dropout=0.0)
    loader = DataLoader(PAIRS, batch_size=12, shuffle=True, collate_fn=Seq2SeqBatches(tokenizer))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    fit(model, loader, seq2seq_loss, optimizer, epochs=4, progress=False)
    return model.eval(), tokenizer


def test_model_card_has_data_metrics_baseline_and_limits():
    text = card().to_markdown()
    assert text.startswith("# Tiny translator")
    for part in (
        "## Data",
        "36 generated pairs",
        "| this model | 12.50 |",
        "| baseline: copy the source | 3.25 |",
        "## Limits",
        "- toy vocabulary only",
        "load_for_use",
    ):
        assert part in text


def test_predict_wants_a_list_and_a_known_task(trained):
    model, tokenizer = trained
    with pytest.raises(TypeError, match="list of texts"):
        predict_texts("zahl 1 plus 2", model, tokenizer, "translation")
    with pytest.raises(ValueError, match="Unknown task"):
        predict_texts(["zahl 1 plus 2"], model, tokenizer, "poetry")
    batched = predict_texts(
        [s for s, _ in PAIRS[:5]], model, tokenizer, "translation", max_new_tokens=8, batch_size=2
    )
    assert len(batched) == 5 and all(isinstance(p, str) for p in batched)


def test_save_writes_safetensors_card_and_usage(trained, tmp_path):
    model, tokenizer = trained
    folder = save_for_use(
        tmp_path / "ship",
        model,
        tokenizer,
        card(),
        "zahl 2 plus 3",
        generation={"max_new_tokens": 8},
    )
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    usage = json.loads((folder / "usage.json").read_text())
    text = "zahl 2 plus 3"
    expected = predict_texts([text], model, tokenizer, "translation", max_new_tokens=8)[0]
    assert usage["example"] == {"input": "zahl 2 plus 3", "prediction": expected}
    assert "## Limits" in (folder / "README.md").read_text()
    shipped = load_for_use(folder)
    assert shipped.predict(["zahl 2 plus 3", "zahl 4 plus 1"])[0] == expected
    with pytest.raises(ValueError, match="not translation"):
        save_for_use(tmp_path / "bad", model, tokenizer, card(task="poetry"), "x")


def test_load_incomplete_folder_says_what_is_missing(tmp_path):
    with pytest.raises(ShippedModelError, match="manifest.json.*save_for_use"):
        load_for_use(tmp_path)


def test_a_fresh_process_reproduces_the_saved_prediction(trained, tmp_path):
    model, tokenizer = trained
    folder = save_for_use(
        tmp_path / "ship",
        model,
        tokenizer,
        card(),
        "zahl 5 plus 1",
        generation={"max_new_tokens": 8, "num_beams": 2},
    )
    result = reproduce_in_fresh_process(folder)
    assert result["identical"] and result["prediction"] == result["expected"]


def test_a_different_prediction_in_the_fresh_process_is_caught(trained, tmp_path, monkeypatch):
    model, tokenizer = trained
    folder = save_for_use(tmp_path / "ship", model, tokenizer, card(), "zahl 5 plus 1")
    answer = json.dumps({"texts": ["zahl 5 plus 1"], "predictions": ["something else"]})
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, answer + "\n", "")
    )
    with pytest.raises(AssertionError, match="not in"):
        reproduce_in_fresh_process(folder)
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "boom")
    )
    with pytest.raises(RuntimeError, match="boom"):
        reproduce_in_fresh_process(folder)


# A shipped folder checks itself (issue 26, item 4): each kind of damage is a clear error.


@pytest.fixture(scope="module")
def shipped(trained, tmp_path_factory):
    model, tokenizer = trained
    folder = tmp_path_factory.mktemp("shipped") / "ship"
    return save_for_use(folder, model, tokenizer, card(), "zahl 2 plus 3",
                        generation={"max_new_tokens": 8})


def _flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit in the middle of the tensors
    path.write_bytes(bytes(data))


def _drop_tensor(path: Path) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    tensors.pop(sorted(tensors)[-1])
    save_file(tensors, path, metadata={"format": "pt"})


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _swap_vocab(data: dict) -> None:
    vocab = data["model"]["vocab"]
    a, b = [token for token in vocab if token.isalpha()][:2]
    vocab[a], vocab[b] = vocab[b], vocab[a]


def _drop_from_manifest(folder: Path, *names: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in names:
        del manifest["files"][name]
        (folder / name).unlink()
    (folder / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = {
    "tokenizer files missing": (
        lambda f: [(f / n).unlink() for n in ("tokenizer.json", "tokenizer_config.json")],
        "lacks tokenizer_config.json, tokenizer.json",
    ),
    "a flipped bit in the weights": (lambda f: _flip_bit(f / "model.safetensors"),
                                     "model.safetensors has changed"),
    "a missing tensor": (lambda f: _drop_tensor(f / "model.safetensors"),
                         "model.safetensors has changed"),
    "an edited layer count": (
        lambda f: _edit_json(f / "config.json", lambda c: c.update(num_layers=2)),
        "config.json has changed",
    ),
    "swapped token ids": (lambda f: _edit_json(f / "tokenizer.json", _swap_vocab),
                          "tokenizer.json has changed"),
    "edited generation settings": (
        lambda f: _edit_json(f / "usage.json", lambda u: u["generation"].update(num_beams=3)),
        "usage.json has changed",
    ),
    "no manifest": (lambda f: (f / "manifest.json").unlink(), "has no manifest.json"),
    "tokenizer files and their manifest entries removed": (
        lambda f: _drop_from_manifest(f, "tokenizer.json", "tokenizer_config.json"),
        "lacks tokenizer_config.json",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_each_kind_of_damage_is_caught_on_load_and_by_the_fresh_process_check(
    shipped, tmp_path, damage
):
    folder = Path(shutil.copytree(shipped, tmp_path / "copy"))
    load_for_use(folder)  # the undamaged copy loads
    harm, says = DAMAGE[damage]
    harm(folder)
    with pytest.raises(ShippedModelError, match=says) as info:
        load_for_use(folder)
    assert str(folder) in str(info.value) and "save the model again" in str(info.value)
    with pytest.raises(ShippedModelError, match=says):
        reproduce_in_fresh_process(folder)


@pytest.mark.parametrize("damage", ["a missing tensor", "an edited layer count"])
def test_weights_that_do_not_fit_are_caught_even_with_a_rewritten_manifest(
    shipped, tmp_path, damage
):
    folder = Path(shutil.copytree(shipped, tmp_path / "copy"))
    DAMAGE[damage][0](folder)
    _write_manifest(folder)  # as if the damage had happened before the save
    with pytest.raises(ShippedModelError, match="does not fit .*config.json.*random weights"):
        load_for_use(folder)


def test_the_fresh_process_itself_refuses_a_damaged_folder(shipped, tmp_path):
    folder = Path(shutil.copytree(shipped, tmp_path / "copy"))
    _flip_bit(folder / "model.safetensors")
    done = subprocess.run(
        [sys.executable, "-m", "course_lib.project.shipping", str(folder), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "model.safetensors has changed" in done.stderr.strip().splitlines()[-1]


def test_an_edited_card_only_warns_and_a_new_save_leaves_no_stale_file(trained, shipped, tmp_path):
    folder = Path(shutil.copytree(shipped, tmp_path / "copy"))
    (folder / "README.md").write_text("# my own notes\n")
    with pytest.warns(UserWarning, match="README.md has changed"):
        load_for_use(folder)
    (folder / "vocab.txt").write_text("stale file of an older save")
    model, tokenizer = trained
    generation = {"max_new_tokens": 8}
    save_for_use(folder, model, tokenizer, card(), "zahl 1 plus 1", generation=generation)
    assert not (folder / "vocab.txt").exists() and load_for_use(folder).predict(["zahl 1 plus 1"])
    other = tmp_path / "homework"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds other files"):
        save_for_use(other, model, tokenizer, card(), "zahl 1 plus 1")
    assert (other / "notes.txt").read_text() == "mine"


def test_random_damage_anywhere_in_a_shipped_folder_is_never_loaded_silently(shipped, tmp_path):
    """Fault injection: seeded byte flips and truncations in every file of a shipped folder.
    Each gives a ShippedModelError naming the file (the model card: a warning), never a
    crash from deep inside a library and never a silent load."""
    import random
    import warnings

    rng = random.Random(3)
    files = sorted(p.name for p in Path(shipped).iterdir() if p.is_file())
    counts = {"cases": 0, "clear_errors": 0, "card_warnings": 0, "crashes": 0, "silent": 0}
    for case in range(5 * len(files)):  # every file damaged five ways
        folder = Path(shutil.copytree(shipped, tmp_path / f"case{case}"))
        name = files[case % len(files)]
        data = bytearray((folder / name).read_bytes())
        if case % 4 == 3:
            data = data[: rng.randrange(0, len(data))]
        else:
            for position in rng.sample(range(len(data)), rng.choice([1, 2, 8])):
                data[position] ^= rng.randrange(1, 256)
        (folder / name).write_bytes(bytes(data))
        counts["cases"] += 1
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            try:
                load_for_use(folder)
            except ShippedModelError as error:
                assert name in str(error), (name, str(error))
                counts["clear_errors"] += 1
                continue
            except Exception as error:  # noqa: BLE001 (what the test counts)
                counts["crashes"] += 1
                print(f"{name}: {type(error).__name__}: {error}")
                continue
        if name == "README.md" and any(name in str(w.message) for w in warned):
            counts["card_warnings"] += 1
        else:
            counts["silent"] += 1
    print(f"\nshipped-folder damage ({len(files)} files): {counts}")
    assert counts["crashes"] == 0 and counts["silent"] == 0
    assert counts["clear_errors"] + counts["card_warnings"] == counts["cases"]
