"""A local Hugging Face Hub for the tests: the Hub's HTTP API on 127.0.0.1, offline.

``build_repos(folder)`` writes, in a few seconds and a few MB, one repository for every name
the course loads from the Hub: tiny randomly initialised models of the real classes with
tokenizers of the real classes (``bert-base-uncased``, ``gpt2``, ``t5-small``,
``Helsinki-NLP/opus-mt-de-en`` with real SentencePiece files), the packaged all-MiniLM-L6-v2
under its Hub name (real weights, served from the installed package), and a
CNN/DailyMail-shaped data set (``abisee/cnn_dailymail``, config ``3.0.0``, columns
``article``/``highlights``/``id``, splits ``train``/``validation``/``test``, parquet).

``LocalHub(folder)`` serves them with a stdlib ``http.server`` in a daemon thread on one
loopback port: the endpoints ``huggingface_hub``, ``transformers`` and ``datasets`` call
(``HEAD``/``GET {repo}/resolve/{rev}/{file}`` with ``ETag``, ``X-Repo-Commit`` and
``Content-Length``; ``api/{models|datasets}/{repo}[/revision/{rev}]``;
``api/.../tree/{rev}[/{path}]``; ``POST api/.../paths-info/{rev}``), and logs every request.
``hub_environment(url, hf_home)`` is the environment a process needs to use it (the offline
variables removed): the tests pass it to a subprocess or a kernel, so the rest of the suite
stays offline. ``python scripts/local_hub.py`` starts one by hand.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import string
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
CNN_DAILYMAIL = "abisee/cnn_dailymail"
CNN_SPLITS = {"train": 400, "validation": 40, "test": 40}  # rows per split (tiny)
MODEL_NAMES = (
    "bert-base-uncased",
    "gpt2",
    "t5-small",
    "Helsinki-NLP/opus-mt-de-en",
    MINILM_NAME,
)
OFFLINE_VARIABLES = (
    "COURSE_OFFLINE",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
)
CACHE_VARIABLES = (  # each would send a process to another cache than its HF_HOME
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_DATASETS_CACHE",
    "TRANSFORMERS_CACHE",
    "HF_XET_CACHE",
)


# ------------------------------------------------------------------------------- building


def _english_and_german(count: int) -> list[tuple[str, str]]:
    from course_lib.data import load_multi30k

    return load_multi30k("train")[:count]


def _sentencepiece(lines: list[str], path: Path, vocab_size: int, **ids) -> None:
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type="unigram",
        hard_vocab_limit=False,
        minloglevel=2,
        **ids,
    )
    path.write_bytes(buffer.getvalue())


def _pieces(path: Path) -> list[tuple[str, float]]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(path))
    return [(processor.id_to_piece(i), processor.get_score(i)) for i in range(len(processor))]


def _save(folder: Path, model, tokenizer) -> None:
    import torch

    torch.manual_seed(0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def build_bert(folder: Path, texts: list[str]) -> None:
    """``bert-base-uncased``: a 2-layer ``BertForMaskedLM`` with a WordPiece ``BertTokenizer``."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    wordpiece = BertWordPieceTokenizer(lowercase=True)
    alphabet = [c for c in string.printable if not c.isspace()]  # no [UNK] for "97%"
    inside = [" ".join(f"x{c}{c}" for c in alphabet)]  # every character also as "##c"
    wordpiece.train_from_iterator(
        texts + inside, vocab_size=1000, initial_alphabet=alphabet, show_progress=False
    )
    tokenizer = BertTokenizer(vocab=wordpiece.get_vocab(), do_lower_case=True)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        pad_token_id=tokenizer.pad_token_id,
        architectures=["BertForMaskedLM"],
    )
    _save(folder, BertForMaskedLM(config), tokenizer)


def build_gpt2(folder: Path, texts: list[str]) -> None:
    """``gpt2``: a 2-layer ``GPT2LMHeadModel`` with a byte-level BPE ``GPT2Tokenizer``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=400, special_tokens=["<|endoftext|>"])
    merges = [tuple(m) for m in json.loads(bpe._tokenizer.to_str())["model"]["merges"]]
    tokenizer = GPT2Tokenizer(vocab=bpe.get_vocab(), merges=merges)
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=1024,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
        architectures=["GPT2LMHeadModel"],
    )
    _save(folder, GPT2LMHeadModel(config), tokenizer)


def build_t5(folder: Path, texts: list[str]) -> None:
    """``t5-small``: a 2-layer ``T5ForConditionalGeneration``; ``spiece.model`` (SentencePiece
    Unigram, pad 0, eos 1, unk 2) and the ``T5Tokenizer`` built from it, 100 extra ids."""
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration, T5Tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    _sentencepiece(texts, folder / "spiece.model", 400, pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    tokenizer = T5Tokenizer(vocab=_pieces(folder / "spiece.model"), extra_ids=100)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        architectures=["T5ForConditionalGeneration"],
    )
    model = T5ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=0, eos_token_id=1, pad_token_id=0
    )
    _save(folder, model, tokenizer)


def build_marian(folder: Path, pairs: list[tuple[str, str]]) -> None:
    """``Helsinki-NLP/opus-mt-de-en``: a 1-layer ``MarianMTModel``; ``source.spm`` and
    ``target.spm`` (SentencePiece), a shared ``vocab.json`` (``</s>`` 0, ``<unk>`` 1, ``<pad>``
    last) and the real generation settings of opus-mt (4 beams, pad never generated)."""
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    _sentencepiece([de for de, _ in pairs], folder / "source.spm", 300)
    _sentencepiece([en for _, en in pairs], folder / "target.spm", 300)
    vocab = {"</s>": 0, "<unk>": 1}
    for name in ("source.spm", "target.spm"):
        for piece, _ in _pieces(folder / name):
            if piece not in vocab and piece not in ("<s>", "<unk>", "</s>"):
                vocab[piece] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = MarianTokenizer(
        str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json")
    )
    pad = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=512,
        pad_token_id=pad,
        eos_token_id=0,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
        architectures=["MarianMTModel"],
    )
    model = MarianMTModel(config)
    model.generation_config = GenerationConfig(  # as opus-mt-de-en's generation_config.json
        bad_words_ids=[[pad]],
        decoder_start_token_id=pad,
        eos_token_id=0,
        forced_eos_token_id=0,
        max_length=512,
        num_beams=4,
        pad_token_id=pad,
    )
    _save(folder, model, tokenizer)


def build_cnn_dailymail(folder: Path, english: list[str]) -> None:
    """``abisee/cnn_dailymail``: config ``3.0.0`` as parquet, one file per split, declared in
    the README's YAML as on the Hub; ``article`` (10 sentences), ``highlights`` (3 lines)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(0)
    data = folder / "3.0.0"
    data.mkdir(parents=True, exist_ok=True)
    for split, rows in CNN_SPLITS.items():
        articles, highlights, ids = [], [], []
        for i in range(rows):
            sentences = rng.sample(english, 10)
            articles.append(" ".join(sentences))
            highlights.append("\n".join(sentences[j] for j in (0, 2, 5)))
            ids.append(hashlib.sha1(f"{split}{i}".encode()).hexdigest())
        table = pa.table({"article": articles, "highlights": highlights, "id": ids})
        pq.write_table(table, data / f"{split}-00000-of-00001.parquet")
    files = "\n".join(f"  - split: {split}\n    path: 3.0.0/{split}-*" for split in CNN_SPLITS)
    (folder / "README.md").write_text(
        f"---\nconfigs:\n- config_name: 3.0.0\n  data_files:\n{files}\n---\n"
        "# cnn_dailymail (a tiny local stand-in for the tests)\n",
        encoding="utf-8",
    )


def build_repos(root: str | Path) -> dict[tuple[str, str], Path]:
    """Write every repository under ``root``; ``{(kind, repo_id): folder}``, kind ``model``
    or ``dataset``."""
    from course_lib.pretrained import minilm_path

    root = Path(root)
    pairs = _english_and_german(2000)
    english = [en for _, en in pairs]
    repos = {("model", MINILM_NAME): minilm_path(), ("dataset", CNN_DAILYMAIL): root / "cnn"}
    builders = {
        "bert-base-uncased": lambda f: build_bert(f, english),
        "gpt2": lambda f: build_gpt2(f, english),
        "t5-small": lambda f: build_t5(f, english + [de for de, _ in pairs]),
        "Helsinki-NLP/opus-mt-de-en": lambda f: build_marian(f, pairs),
    }
    for name, build in builders.items():
        folder = root / name.replace("/", "--")
        build(folder)
        repos["model", name] = folder
    build_cnn_dailymail(repos["dataset", CNN_DAILYMAIL], english)
    return repos


# -------------------------------------------------------------------------------- serving


def _commit(kind: str, repo_id: str) -> str:
    return hashlib.sha1(f"{kind}/{repo_id}".encode()).hexdigest()


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )


@dataclass
class LocalHub:
    """The Hub's API for ``repos`` (from :func:`build_repos`) on ``http://127.0.0.1:PORT``.

    ``start()`` returns the URL; ``stop()`` closes the port; ``requests`` lists
    ``(method, path)`` of every request answered.
    """

    repos: dict[tuple[str, str], Path]
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def start(self, port: int = 0) -> str:
        """Serve on ``127.0.0.1:port`` (0: a free port) in a daemon thread; the URL."""
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # the tests read hub.requests instead
                pass

            def do_HEAD(self):
                hub._answer(self, "HEAD")

            def do_GET(self):
                hub._answer(self, "GET")

            def do_POST(self):
                hub._answer(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalHub:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- routing

    def _find(self, kind: str, rest: str) -> tuple[str, Path, str] | None:
        """The repo whose id starts ``rest``: ``(repo_id, folder, what follows)``."""
        for (repo_kind, repo_id), folder in self.repos.items():
            if repo_kind == kind and (rest == repo_id or rest.startswith(repo_id + "/")):
                return repo_id, folder, rest[len(repo_id) + 1 :]
        return None

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path, query = unquote(parts.path).strip("/"), parse_qs(parts.query)
        self.requests.append((method, handler.path))
        body = b""
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length)
        if not path:
            return self._send(handler, method, 200, b"local hub")
        if path.startswith("api/"):
            return self._api(handler, method, path[4:], query, body)
        kind = "model"
        if path.startswith("datasets/"):
            kind, path = "dataset", path[len("datasets/") :]
        found = self._find(kind, path)
        if found is None or not found[2].startswith("resolve/"):
            return self._error(handler, method, "RepoNotFound", f"{kind} {path} not found")
        repo_id, folder, rest = found
        revision, _, filename = rest[len("resolve/") :].partition("/")
        if revision not in ("main", _commit(kind, repo_id)):
            return self._error(handler, method, "RevisionNotFound", revision)
        file = folder / filename
        if not file.is_file():
            return self._error(handler, method, "EntryNotFound", f"{filename} not in {repo_id}")
        data = file.read_bytes()
        headers = {
            "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "X-Repo-Commit": _commit(kind, repo_id),
            "Accept-Ranges": "bytes",
        }
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes="):  # streaming reads parquet footers and row groups
            first, _, last = wanted[len("bytes=") :].partition("-")
            start = len(data) - int(last) if not first else int(first)
            end = len(data) - 1 if not first or not last else min(int(last), len(data) - 1)
            headers["Content-Range"] = f"bytes {max(start, 0)}-{end}/{len(data)}"
            return self._send(handler, method, 206, data[max(start, 0) : end + 1], headers)
        return self._send(handler, method, 200, data, headers)

    def _api(self, handler, method: str, path: str, query: dict, body: bytes) -> None:
        kind_plural, _, rest = path.partition("/")
        kind = {"models": "model", "datasets": "dataset"}.get(kind_plural)
        found = self._find(kind, rest) if kind else None
        if found is None:
            return self._error(handler, method, "RepoNotFound", f"{path} not found")
        repo_id, folder, rest = found
        commit = _commit(kind, repo_id)
        action, _, rest = rest.partition("/")
        revision, _, sub = rest.partition("/")
        if action and revision not in ("main", commit):
            return self._error(handler, method, "RevisionNotFound", revision)
        if action in ("", "revision"):
            info = {
                "_id": commit[:24],
                "id": repo_id,
                "sha": commit,
                "private": False,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "lastModified": "2024-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": f} for f in _files(folder)],
            }
            if kind == "model":
                info["modelId"] = repo_id
            return self._json(handler, method, info)
        if action == "tree":
            base = folder / sub if sub else folder
            if not base.is_dir():
                return self._error(handler, method, "EntryNotFound", sub)
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            children = base.rglob("*") if recursive else base.iterdir()
            entries = [self._entry(folder, p) for p in sorted(children)]
            return self._json(handler, method, [e for e in entries if e])
        if action == "paths-info":
            if handler.headers.get("Content-Type", "").startswith("application/json"):
                paths = json.loads(body or b"{}").get("paths", [])
            else:
                paths = parse_qs(body.decode()).get("paths", [])
            entries = [self._entry(folder, folder / p) for p in paths if (folder / p).exists()]
            return self._json(handler, method, [e for e in entries if e])
        return self._error(handler, method, "EntryNotFound", f"no endpoint {action}")

    @staticmethod
    def _entry(folder: Path, path: Path) -> dict | None:
        if path.name.startswith("."):
            return None
        relative = path.relative_to(folder).as_posix()
        if path.is_dir():
            return {"type": "directory", "path": relative, "oid": _commit("dir", relative)}
        data = path.read_bytes()
        return {
            "type": "file",
            "path": relative,
            "size": len(data),
            "oid": hashlib.sha1(data).hexdigest(),
        }

    # -- responses

    @staticmethod
    def _send(handler, method: str, status: int, data: bytes, headers: dict | None = None):
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(data)

    def _json(self, handler, method: str, value) -> None:
        data = json.dumps(value).encode()
        self._send(handler, method, 200, data, {"Content-Type": "application/json"})

    def _error(self, handler, method: str, code: str, message: str) -> None:
        data = json.dumps({"error": message}).encode()
        headers = {"X-Error-Code": code, "X-Error-Message": message}
        headers["Content-Type"] = "application/json"
        self._send(handler, method, 404, data, headers)


def hub_environment(url: str, hf_home: str | Path, base: dict | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) pointed at the hub at ``url``, with an empty cache in
    ``hf_home`` and the offline variables removed: the environment of a process online."""
    env = {k: v for k, v in (os.environ if base is None else base).items()}
    for name in OFFLINE_VARIABLES + CACHE_VARIABLES:
        env.pop(name, None)
    env.update(
        HF_ENDPOINT=url,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_XET="1",
        HF_HUB_ETAG_TIMEOUT="5",
        HF_HUB_DOWNLOAD_TIMEOUT="30",
    )
    return env
