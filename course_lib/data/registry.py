"""The course's public data sets, known by name.

Each data set is a few files with known SHA-256 sums. ``dataset_dir(name)`` finds them in this
order: the folder in ``COURSE_DATA_DIR``, the download cache (``data/`` of the repository),
then a download from the public origin (timeout, checksum, progress bar). Offline with no copy,
it raises :class:`DataUnavailableError` naming the missing file and the variable to set.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from course_lib.machinery import paths

DOWNLOAD_TIMEOUT_S = 30


class DataUnavailableError(FileNotFoundError):
    """A data set is neither on disk nor downloadable right now."""


class ChecksumError(ValueError):
    """A data file does not have the SHA-256 sum the registry expects."""


@dataclass(frozen=True)
class DataSet:
    """One data set: its files (path inside the data set folder -> SHA-256) and origin.

    ``url`` is either one archive (``members`` maps each file to its path inside the archive)
    or, when ``members`` is empty, a template with ``{file}`` for files fetched one by one.
    """

    name: str
    url: str
    files: dict[str, str]
    members: dict[str, str] = field(default_factory=dict)
    about: str = ""


_NAMES_SHA = {
    "Arabic": "6f424a8dbe51cbbbabab7a57d38b617210125e4e3991f3c657cb79b8f104bafc",
    "Chinese": "49263ef55a8cb1740e841d65cad8214b2f9b5b869bc534c811746422496fa91e",
    "Czech": "145bbbd6d0816578f03388e92c264d39ef1c60df920b081d371fa5c5cc055a8e",
    "Dutch": "924f32b635170eae561f84538632138fc07d4c8bbd70ba3fb980de1ecc4d2af3",
    "English": "9cca037066d3d5989e24bc01801416162de506b5e28e15b7c092a47905d29bf2",
    "French": "81e65b36c60ed5b89a17422f6edcadbb89546f38ad69e960e64e7ba682012a95",
    "German": "7449cd590b97a733e18d613a4155decd77ec35dc5f8aadd7a82204dce4f051db",
    "Greek": "3555b5186de7f401e6d991b088e9e644ca3099116477818c25ab5793801389e6",
    "Irish": "cf8c7013256252a88d2503127b87282a11f21b2ff6db1bded68834c19a1ec058",
    "Italian": "f88414c27d0606a11a678b4859277828c2565d6cc4d9ee932deef6e94f3b35e4",
    "Japanese": "e0e717e114fec3e7eade4d9dabe0067c475f43147e36a22b47902ee76ad9e67f",
    "Korean": "cd54221ccb362a6cba4c78828838cf3268a0e59744767a37cf6ec4b74036b136",
    "Polish": "45bab898af2f60ed3a728bbf6980e28821011a7caa53227553b5785903a40826",
    "Portuguese": "50a8735f41f4f73757c8ce5b16cb0275cd86b2b214bcbc8c9805f508cb131c53",
    "Russian": "43b3e64ce351f77f1ac9e0cdf7566012d127f4371875fd25208845b5c9d6f7c3",
    "Scottish": "78d0252711d87d948ea86fe34826c51d2d794a8e52d15b5d6f7b6244d45d62dd",
    "Spanish": "1bcb462ed3316756a85781d68232bddae04498fdddd5d9219c53fd1fbdeba7a7",
    "Vietnamese": "4761c0de374ebdfd7dea7faa6fbac707d96cad9a6fc91d3626c462cbd08b6c76",
}

REGISTRY: dict[str, DataSet] = {
    "names": DataSet(
        name="names",
        url="https://download.pytorch.org/tutorial/data.zip",
        files={f"{lang}.txt": sha for lang, sha in _NAMES_SHA.items()},
        members={f"{lang}.txt": f"data/names/{lang}.txt" for lang in _NAMES_SHA},
        about="20,074 surnames in 18 languages (PyTorch char-RNN tutorials)",
    ),
    "tinyshakespeare": DataSet(
        name="tinyshakespeare",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/{file}",
        files={"input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"},
        about="Tiny Shakespeare, 1.1 MB of plain text",
    ),
    "rotten_tomatoes": DataSet(
        name="rotten_tomatoes",
        url="https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",
        files={
            "rt-polarity.neg": "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
            "rt-polarity.pos": "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
        },
        members={
            "rt-polarity.neg": "rt-polaritydata/rt-polarity.neg",
            "rt-polarity.pos": "rt-polaritydata/rt-polarity.pos",
        },
        about="sentence polarity v1.0: 5,331 positive and 5,331 negative review snippets",
    ),
    "multi30k": DataSet(
        name="multi30k",
        url="https://github.com/multi30k/dataset/raw/master/data/task1/raw/{file}",
        files={
            "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
            "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
            "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
            "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
            "test_2016_flickr.de.gz": (
                "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8"
            ),
            "test_2016_flickr.en.gz": (
                "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9"
            ),
        },
        about="Multi30k task 1: English-German image captions (29,000 / 1,014 / 1,000 pairs)",
    ),
}

_verified: set[Path] = set()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _spec(name: str) -> DataSet:
    if name not in REGISTRY:
        raise KeyError(f"Unknown data set {name!r}; the course knows: {', '.join(REGISTRY)}.")
    return REGISTRY[name]


def _complete(folder: Path, spec: DataSet) -> bool:
    return all((folder / f).is_file() for f in spec.files)


def _verify(folder: Path, spec: DataSet) -> None:
    for fname, expected in spec.files.items():
        path = folder / fname
        if path.resolve() in _verified:
            continue
        actual = sha256_of(path)
        if actual != expected:
            origin = spec.url.format(file=fname)
            fix = (
                f"replace it by a good copy (from {origin}), or unset COURSE_OFFLINE, delete "
                f"it and run again to re-download it"
                if _offline()
                else f"delete it and run again to re-download it from {origin}"
            )
            raise ChecksumError(
                f"{path} has SHA-256 {actual[:12]}..., expected {expected[:12]}...: the file is "
                f"corrupt or a different version. {fix[0].upper() + fix[1:]}."
            )
        _verified.add(path.resolve())


def data_root() -> Path:
    """The folder data sets are read from: ``COURSE_DATA_DIR``, else the download cache."""
    return paths.data_dir() or paths.cache_dir()


def _offline() -> bool:
    return os.environ.get("COURSE_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def _fetch(url: str, dest: Path, label: str) -> None:
    """Download ``url`` to ``dest`` with a timeout and a progress bar."""
    from course_lib.machinery.progress import progress_bar

    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with (
            open(dest, "wb") as out,
            progress_bar(
                total=total, unit="B", unit_scale=True, desc=f"downloading {label}", leave=False
            ) as bar,
        ):
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _extract(archive: Path, member: str, dest: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
        return
    with tarfile.open(archive) as tf:
        src = tf.extractfile(member)
        if src is None:
            raise ChecksumError(f"{archive} has no file {member}.")
        with src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)


def _download(spec: DataSet, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        if spec.members:
            archive = staged / "archive"
            _fetch(spec.url, archive, spec.name)
            for fname, member in spec.members.items():
                _extract(archive, member, staged / fname)
        else:
            for fname in spec.files:
                _fetch(spec.url.format(file=fname), staged / fname, f"{spec.name}/{fname}")
        _verify(staged, spec)
        for fname in spec.files:
            shutil.move(str(staged / fname), target / fname)


def _folders(name: str) -> list[Path]:
    """Where data set ``name`` may be: in ``COURSE_DATA_DIR`` (if set), then in the cache."""
    env_dir = paths.data_dir()
    return ([env_dir / name] if env_dir is not None else []) + [paths.cache_dir() / name]


def local_copy(name: str) -> Path | None:
    """The verified folder of data set ``name`` on this machine, or None; never downloads.

    Looks in ``COURSE_DATA_DIR`` first, then in the download cache; raises ChecksumError when
    a file there is corrupt.
    """
    spec = _spec(name)
    for folder in _folders(name):
        if _complete(folder, spec):
            _verify(folder, spec)
            return folder
    return None


def _first_missing(name: str) -> str:
    """The first missing file of the fullest copy of ``name`` (a partial copy's own gap)."""
    files = list(_spec(name).files)
    folder = max(_folders(name), key=lambda f: sum((f / n).is_file() for n in files))
    return next(n for n in files if not (folder / n).is_file())


def missing_fix(name: str) -> str:
    """How to get data set ``name`` onto this machine."""
    spec, cached = _spec(name), paths.cache_dir() / name
    if spec.members:
        inside = next(iter(spec.members.values())).rpartition("/")[0] or "."
        how = f"download {spec.url} yourself and put the files of its {inside}/ in {cached}/"
    else:
        first, *others = spec.files
        more = f" (and likewise {', '.join(others)})" if others else ""
        how = f"download {spec.url.format(file=first)}{more} yourself into {cached}/"
    online = (
        "unset COURSE_OFFLINE and run again with a connection"
        if _offline()
        else "connect to the internet and run again"
    )
    return (
        f"{online}, or {how}, or set COURSE_DATA_DIR to a folder that holds "
        f"{name}/{_first_missing(name)}."
    )


def unavailable_message(name: str, reason: str) -> str:
    """Why data set ``name`` has no local copy (``reason``), and the ways to fix it."""
    env_dir = paths.data_dir()
    where = f"COURSE_DATA_DIR ({env_dir})" if env_dir else "COURSE_DATA_DIR (not set)"
    return (
        f"Data set {name!r}: {name}/{_first_missing(name)} is not in {where} nor in the cache "
        f"({paths.cache_dir()}), and {reason}. Fix: {missing_fix(name)}"
    )


def dataset_dir(name: str) -> Path:
    """The folder holding every file of data set ``name``, verified; downloads if needed."""
    spec = _spec(name)
    found = local_copy(name)
    if found is not None:
        return found
    if _offline():
        raise DataUnavailableError(unavailable_message(name, "COURSE_OFFLINE is set"))
    cached = paths.cache_dir() / name
    try:
        _download(spec, cached)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise DataUnavailableError(
            unavailable_message(name, f"the download failed ({err})")
        ) from None
    return cached


def _lines(path: Path, encoding: str = "utf-8") -> list[str]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    text = io.TextIOWrapper(io.BytesIO(raw), encoding=encoding, newline=None).read()
    return [line.strip() for line in text.split("\n") if line.strip()]


def load_names() -> dict[str, list[str]]:
    """Surnames by language: ``{"English": ["Abbas", ...], ...}`` (18 languages)."""
    folder = dataset_dir("names")
    return {fname[:-4]: _lines(folder / fname) for fname in REGISTRY["names"].files}


def load_tinyshakespeare() -> str:
    """Tiny Shakespeare as one string (about 1.1 million characters)."""
    return (dataset_dir("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")


def load_rotten_tomatoes() -> list[tuple[str, int]]:
    """Review snippets with labels (1 positive, 0 negative); lower-cased and tokenised."""
    folder = dataset_dir("rotten_tomatoes")
    neg = _lines(folder / "rt-polarity.neg", encoding="latin-1")
    pos = _lines(folder / "rt-polarity.pos", encoding="latin-1")
    return [(text, 0) for text in neg] + [(text, 1) for text in pos]


MULTI30K_SPLITS = ("train", "val", "test_2016_flickr")


def load_multi30k(split: str = "train") -> list[tuple[str, str]]:
    """Multi30k (German, English) sentence pairs of one split: train, val or test_2016_flickr."""
    if split not in MULTI30K_SPLITS:
        raise ValueError(f"Unknown Multi30k split {split!r}; use one of {MULTI30K_SPLITS}.")
    folder = dataset_dir("multi30k")
    de = _lines(folder / f"{split}.de.gz")
    en = _lines(folder / f"{split}.en.gz")
    if len(de) != len(en):
        raise ChecksumError(f"Multi30k {split}: {len(de)} German but {len(en)} English lines.")
    return list(zip(de, en))
