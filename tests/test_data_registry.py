import gzip
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from course_lib.data import registry
from course_lib.data.registry import ChecksumError, DataSet, DataUnavailableError, dataset_dir
from course_lib.machinery import paths

CONTENT = {"a.txt": b"alpha\nbeta\n", "b.txt": b"gamma\n"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A fake data set 'toy' with files served from a local folder by file:// URLs."""
    origin = tmp_path / "origin"
    origin.mkdir()
    for name, data in CONTENT.items():
        (origin / name).write_bytes(data)
    spec = DataSet("toy", origin.as_uri() + "/{file}", {n: sha(d) for n, d in CONTENT.items()})
    monkeypatch.setitem(registry.REGISTRY, "toy", spec)
    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    registry._verified.clear()
    return tmp_path


def test_reads_from_course_data_dir_first(fake, monkeypatch):
    local = fake / "local" / "toy"
    local.mkdir(parents=True)
    for name, data in CONTENT.items():
        (local / name).write_bytes(data)
    monkeypatch.setenv("COURSE_DATA_DIR", str(fake / "local"))
    assert dataset_dir("toy") == local
    assert not (fake / "cache").exists()


def test_downloads_into_cache_with_checksums(fake):
    folder = dataset_dir("toy")
    assert folder == fake / "cache" / "toy"
    assert (folder / "a.txt").read_bytes() == CONTENT["a.txt"]


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_downloads_and_extracts_archives(fake, monkeypatch, kind):
    archive = fake / f"bundle.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for name, data in CONTENT.items():
                zf.writestr(f"inner/{name}", data)
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for name, data in CONTENT.items():
                info = tarfile.TarInfo(f"inner/{name}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    spec = DataSet(
        "toy",
        archive.as_uri(),
        {n: sha(d) for n, d in CONTENT.items()},
        members={n: f"inner/{n}" for n in CONTENT},
    )
    monkeypatch.setitem(registry.REGISTRY, "toy", spec)
    assert (dataset_dir("toy") / "b.txt").read_bytes() == CONTENT["b.txt"]


def test_corrupt_local_file_fails_with_checksum_error(fake, monkeypatch):
    local = fake / "local" / "toy"
    local.mkdir(parents=True)
    (local / "a.txt").write_bytes(b"tampered")
    (local / "b.txt").write_bytes(CONTENT["b.txt"])
    monkeypatch.setenv("COURSE_DATA_DIR", str(fake / "local"))
    with pytest.raises(ChecksumError, match=r"a\.txt has SHA-256 .* expected .*Delete it"):
        dataset_dir("toy")


def test_corrupt_download_is_rejected_and_not_cached(fake):
    (fake / "origin" / "b.txt").write_bytes(b"not gamma")
    with pytest.raises(ChecksumError, match="b.txt"):
        dataset_dir("toy")
    assert not (fake / "cache" / "toy" / "b.txt").exists()


def test_offline_without_copy_names_file_and_variable(fake, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match=r"toy/a\.txt.*COURSE_DATA_DIR"):
        dataset_dir("toy")


def test_failed_download_is_a_clear_error(fake, monkeypatch):
    spec = registry.REGISTRY["toy"]
    broken = DataSet("toy", (fake / "nowhere").as_uri() + "/{file}", spec.files)
    monkeypatch.setitem(registry.REGISTRY, "toy", broken)
    with pytest.raises(DataUnavailableError, match="download failed.*set COURSE_DATA_DIR"):
        dataset_dir("toy")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="names, tinyshakespeare, rotten_tomatoes, multi30k"):
        dataset_dir("imdb")


def _sums(path: Path) -> dict[str, str]:
    return dict(reversed(line.split()) for line in path.read_text().splitlines() if line)


def test_registry_checksums_match_the_shipped_data():
    """data/SHA256SUMS, the registry and the files shipped in data/ agree."""
    data = paths.repo_root() / "data"
    expected = _sums(data / "SHA256SUMS")
    ours = {f"{s.name}/{f}": h for s in registry.REGISTRY.values() for f, h in s.files.items()}
    assert ours == expected
    for name, digest in expected.items():
        assert sha((data / name).read_bytes()) == digest, f"data/{name} does not match its sum"


def test_registry_checksums_match_the_shared_sums_file():
    sums = Path(__file__).resolve().parents[2] / "shared" / "data" / "SHA256SUMS"
    if not sums.is_file():
        pytest.skip("../shared/data is not beside this checkout")
    assert _sums(sums) == _sums(paths.repo_root() / "data" / "SHA256SUMS")


def test_real_loaders():
    names = registry.load_names()
    assert len(names) == 18 and sum(map(len, names.values())) == 20074
    reviews = registry.load_rotten_tomatoes()
    assert len(reviews) == 10662 and {label for _, label in reviews} == {0, 1}
    assert sum(label for _, label in reviews) == 5331
    pairs = registry.load_multi30k("val")
    assert len(pairs) == 1014 and all(de and en for de, en in pairs)
    assert len(registry.load_tinyshakespeare()) > 1_000_000
    with pytest.raises(ValueError, match="test_2016_flickr"):
        registry.load_multi30k("test")


def test_gzip_lines_are_read(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"ein\nzwei\n"))
    assert registry._lines(path) == ["ein", "zwei"]


# Advice that is right (issue 26, item 6).


def test_a_partial_copy_names_its_own_missing_file(fake, monkeypatch):
    local = fake / "local" / "toy"
    local.mkdir(parents=True)
    (local / "a.txt").write_bytes(CONTENT["a.txt"])  # b.txt is the one missing
    monkeypatch.setenv("COURSE_DATA_DIR", str(fake / "local"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DataUnavailableError) as info:
        dataset_dir("toy")
    message = str(info.value)
    assert "toy/b.txt" in message and "toy/a.txt" not in message


def test_the_names_loader_names_english_when_english_is_missing(monkeypatch, tmp_path):
    shipped = registry.local_copy("names")  # the course's copy (checked by test_real_loaders)
    local = tmp_path / "local" / "names"
    local.mkdir(parents=True)
    for fname in registry.REGISTRY["names"].files:
        if fname != "English.txt":
            (local / fname).write_bytes((shipped / fname).read_bytes())
    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path / "empty-cache")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match=r"names/English\.txt") as info:
        registry.load_names()
    assert "Arabic" not in str(info.value)


def test_offline_advice_does_not_say_download(fake, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(DataUnavailableError) as info:
        dataset_dir("toy")
    assert "unset COURSE_OFFLINE" in str(info.value)
    assert "connect to the internet and run again" not in str(info.value)
    cached = fake / "cache" / "toy"
    cached.mkdir(parents=True)
    (cached / "a.txt").write_bytes(b"tampered")
    (cached / "b.txt").write_bytes(CONTENT["b.txt"])
    with pytest.raises(ChecksumError) as info:
        dataset_dir("toy")
    assert str(info.value).count("re-download") == 1 and "unset COURSE_OFFLINE" in str(info.value)
    monkeypatch.delenv("COURSE_OFFLINE")
    with pytest.raises(ChecksumError, match="Delete it and run again to re-download"):
        dataset_dir("toy")


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_an_invalid_course_data_dir_is_an_error(fake, monkeypatch, kind):
    target = fake / "typo"
    if kind == "a file":
        target.write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(target))
    with pytest.raises(ValueError, match=f"COURSE_DATA_DIR=.*is {kind}"):
        dataset_dir("toy")
    with pytest.raises(ValueError, match="COURSE_DATA_DIR"):
        registry.data_root()
