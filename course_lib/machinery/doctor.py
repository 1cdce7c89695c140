"""The environment doctor: ``course doctor``, or ``doctor()`` in a notebook cell.

It reports the versions that matter (Python, torch, transformers, the course), the profile
and device a notebook will pick, where data and outputs go, whether each data set is on this
machine, whether the Hugging Face Hub answers or the run is offline and which of the course's
Hub models are in the local cache, and sentencepiece (Marian's tokenizer); each problem comes
with its fix. It never hangs: every network probe runs in a background thread with a short
deadline, and none is made when ``COURSE_OFFLINE`` or ``HF_HUB_OFFLINE`` is set.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PROBE_TIMEOUT_S = 3.0  # the longest the doctor waits for any network answer
PACKAGES = ("torch", "transformers", "datasets", "tokenizers", "peft")  # versions reported
INSTALL_FIX = 'install the course: `pip install -e ".[dev]"` in the repository'
# Without an NVIDIA GPU: PyTorch's CPU-only build (a few hundred MB, not GBs of CUDA
# libraries), installed before the course. README, docs and the devcontainer use this line.
CPU_TORCH_INSTALL = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    topic: str  # what was checked ("torch", "data: names", ...)
    status: str  # "ok", "note" (worth knowing) or "PROBLEM" (something will fail)
    detail: str  # what was found
    fix: str = ""  # what to do about it (problems and some notes)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _course_requirements() -> dict[str, str]:
    """What the installed course asks of each package, e.g. {"transformers": ">=5.0"}."""
    try:
        from packaging.requirements import Requirement
    except ImportError:
        return {}
    try:
        declared = importlib.metadata.requires("course-lib") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    specs = {}
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker is None:  # extras (dev tools) are not checked
            specs[requirement.name.lower()] = str(requirement.specifier)
    return specs


def _satisfies(version: str, spec: str) -> bool:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    return not spec or SpecifierSet(spec).contains(Version(version), prereleases=True)


def check_versions() -> list[Finding]:
    """Python, the key packages and the course itself."""
    import course_lib
    from course_lib.machinery import paths

    findings = []
    findings.append(Finding("python", "ok", f"{platform.python_version()} ({sys.executable})"))
    wanted = _course_requirements()
    for name in PACKAGES:
        version = _version(name)
        if version is None:
            findings.append(Finding(name, "PROBLEM", "not installed", INSTALL_FIX))
        elif name in wanted and not _satisfies(version, wanted[name]):
            fix = f'`pip install -U "{name}{wanted[name]}"` (or reinstall the course)'
            detail = f"{version}, but the course needs {name}{wanted[name]}"
            findings.append(Finding(name, "PROBLEM", detail, fix))
        else:
            findings.append(Finding(name, "ok", version))
    findings.append(check_sentencepiece())
    if _version("torch") is not None:
        import torch

        from course_lib.machinery.runtime import in_colab

        findings.append(torch_build(torch.version.cuda, torch.cuda.is_available(), in_colab()))
    root = paths.repo_root()
    where = f"repository {root}" if root else f"installed at {Path(course_lib.__file__).parent}"
    installed = _version("course-lib")
    if installed is None:
        findings.append(
            Finding(
                "course",
                "note",
                f"{course_lib.__version__} ({where}), not pip-installed",
                INSTALL_FIX + " so that `course` and the notebooks' kernel find it",
            )
        )
    else:
        findings.append(Finding("course", "ok", f"{course_lib.__version__} ({where})"))
    return findings


def check_sentencepiece() -> Finding:
    """sentencepiece: Marian's tokenizer (Module 5's opus-mt translator) cannot load without it."""
    version = _version("sentencepiece")
    if version is not None:
        return Finding("sentencepiece", "ok", version)
    return Finding(
        "sentencepiece",
        "PROBLEM",
        "not installed: Module 5's pre-trained translator (Marian, opus-mt) cannot load its "
        "tokenizer",
        "`pip install sentencepiece` (or reinstall the course)",
    )


def torch_build(cuda_version: str | None, gpu: bool, colab: bool = False) -> Finding:
    """Which build of torch is installed: CPU-only, or CUDA (worth it only with a GPU)."""
    if cuda_version is None:
        return Finding("torch build", "ok", "CPU-only (no CUDA libraries)")
    detail = f"CUDA {cuda_version}"
    if gpu or colab:
        return Finding("torch build", "ok", detail + (" (Colab's own)" if colab else ""))
    return Finding(
        "torch build",
        "note",
        f"{detail}, but no NVIDIA GPU: gigabytes of CUDA libraries go unused",
        f"the CPU-only build is far smaller: `{CPU_TORCH_INSTALL}` in a fresh virtualenv, "
        'then `pip install -e ".[dev]"`',
    )


def check_runtime() -> list[Finding]:
    """The profile and device a notebook will pick, and where data and outputs go."""
    import torch

    from course_lib.data.registry import data_root
    from course_lib.machinery import paths
    from course_lib.machinery.profiles import PROFILES, detect_profile
    from course_lib.machinery.runtime import in_colab
    from course_lib.machinery.settings import pick_threads

    findings = []
    cuda = torch.cuda.is_available()
    try:
        profile = detect_profile(cuda)
    except ValueError as err:
        fix = f"set COURSE_PROFILE to one of {', '.join(PROFILES)}, or unset it"
        findings.append(Finding("profile", "PROBLEM", str(err).split(";")[0], fix))
        profile = "gpu" if cuda else "cpu"  # what unsetting it would pick: check the rest so
    else:
        source = "COURSE_PROFILE" if os.environ.get("COURSE_PROFILE", "").strip() else "automatic"
        findings.append(Finding("profile", "ok", f"{profile} ({source})"))
    try:
        threads = pick_threads(profile)
    except ValueError as err:
        detail, _, fix = str(err).partition(": ")
        findings.append(Finding("threads", "PROBLEM", detail, fix))
    else:
        source = "COURSE_THREADS" if os.environ.get("COURSE_THREADS", "").strip() else "default"
        findings.append(Finding("threads", "ok", f"{threads} ({source})"))
    findings.append(_check_device(profile, cuda))
    try:
        data = data_root()
    except ValueError as err:
        detail, _, fix = str(err).partition(": ")
        findings.append(Finding("data folder", "PROBLEM", detail, fix))
    else:
        source = "COURSE_DATA_DIR" if paths.data_dir() else "download cache"
        findings.append(Finding("data folder", "ok", f"{data} ({source})"))
    findings.append(_check_outputs(paths, in_colab()))
    return findings


def _check_device(profile: str, cuda: bool) -> Finding:
    """The device a notebook will pick in ``profile``, and whether it suits the profile."""
    import torch

    from course_lib.machinery.runtime import gpu_heavy_modules_in_words, in_colab
    from course_lib.machinery.settings import pick_device

    try:
        device = pick_device(profile)
    except ValueError as err:
        detail, _, fix = str(err).partition(": ")
        return Finding("device", "PROBLEM", detail, fix)
    gpu = f"CUDA GPU: {torch.cuda.get_device_name(0)}" if cuda else "no CUDA GPU"
    if profile == "gpu" and not cuda:
        return Finding(
            "device",
            "PROBLEM",
            f"{device}: profile gpu but {gpu}",
            "unset COURSE_PROFILE (or set it to cpu), or use a machine with a GPU",
        )
    if cuda or profile == "ci":
        return Finding("device", "ok", f"{device} ({gpu})")
    heavy = gpu_heavy_modules_in_words()
    where = "Runtime > Change runtime type" if in_colab() else "Colab with a GPU runtime"
    return Finding(
        "device",
        "note",
        f"{device} ({gpu})",
        f"fine for every module; modules {heavy} run far faster on a GPU ({where})",
    )


def _check_outputs(paths, on_colab: bool) -> Finding:
    try:
        out = paths.output_dir()
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except ValueError as err:  # a file in the way, or a folder that cannot be created
        detail, _, fix = str(err).partition(": ")
        return Finding("outputs", "PROBLEM", detail, fix)
    except OSError as err:
        return Finding(
            "outputs",
            "PROBLEM",
            f"cannot write there ({err})",
            "set COURSE_OUTPUT_DIR to a folder you can write to",
        )
    if on_colab and not paths.drive_mounted():
        return Finding(
            "outputs",
            "note",
            f"{out}: lost when the runtime disconnects",
            "run colab_bootstrap.ipynb (or the notebook's first cell) to use Drive",
        )
    return Finding("outputs", "ok", str(out))


def probe(urls: list[str], timeout: float = PROBE_TIMEOUT_S) -> dict[str, str | None]:
    """For each URL: None if it answered (any HTTP status) within ``timeout``, else why not.

    Each request runs in a daemon thread, all at once, so a stuck DNS lookup or connection
    costs at most ``timeout`` seconds in total and never blocks the caller.
    """
    results: dict[str, str | None] = {url: f"did not answer within {timeout:g} s" for url in urls}

    def ask(url: str) -> None:
        request = urllib.request.Request(url, method="HEAD")
        try:
            urllib.request.urlopen(request, timeout=timeout).close()
            results[url] = None
        except urllib.error.HTTPError:  # the server answered, with an error status
            results[url] = None
        except Exception as err:  # noqa: BLE001 - any failure means "not reachable"
            reason = getattr(err, "reason", err)
            results[url] = f"is unreachable ({reason})"

    threads = [threading.Thread(target=ask, args=(url,), daemon=True) for url in urls]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return dict(results)


def _offline_reason() -> str | None:
    for name in ("COURSE_OFFLINE", "HF_HUB_OFFLINE"):
        if _flag(name):
            return f"{name}=1"
    return None


def check_data(network: bool = True, timeout: float = PROBE_TIMEOUT_S) -> list[Finding]:
    """Whether each data set of the course is on this machine, or can be downloaded."""
    from course_lib.data.registry import REGISTRY, ChecksumError, local_copy, missing_fix
    from course_lib.machinery import paths

    try:
        paths.data_dir()
    except ValueError:  # reported under "data folder"
        return [Finding("data", "note", "not checked: COURSE_DATA_DIR is not a folder")]
    findings, missing = [], []
    for name in REGISTRY:
        try:
            folder = local_copy(name)
        except ChecksumError as err:
            detail, _, fix = str(err).partition(": ")
            findings.append(Finding(f"data: {name}", "PROBLEM", detail, fix))
            continue
        if folder is None:
            missing.append(name)
            continue
        env_dir = paths.data_dir()
        where = "COURSE_DATA_DIR" if env_dir and folder.parent == env_dir else "cache"
        findings.append(Finding(f"data: {name}", "ok", f"on disk ({where})"))
    offline = _offline_reason()
    answers = {}
    if missing and network and not offline:
        answers = probe([REGISTRY[name].url.format(file="") for name in missing], timeout)
    where = "not in COURSE_DATA_DIR" if paths.data_dir() else "COURSE_DATA_DIR not set"
    for name in missing:
        topic = f"data: {name}"
        if offline:
            detail = f"{where}, not in the cache, and {offline}: notebooks needing it will fail"
            findings.append(Finding(topic, "PROBLEM", detail, missing_fix(name)))
        elif not network:
            detail = f"{where}, not in the cache; downloaded on first use if the network allows"
            findings.append(Finding(topic, "note", detail))
        elif answers[REGISTRY[name].url.format(file="")] is None:
            detail = "not downloaded yet; its origin answers, so it downloads on first use"
            findings.append(Finding(topic, "ok", detail))
        else:
            trouble = answers[REGISTRY[name].url.format(file="")]
            detail = f"{where}, not in the cache, and its origin {trouble}"
            findings.append(Finding(topic, "PROBLEM", detail, missing_fix(name)))
    return findings


def _cached_models() -> tuple[Path | None, list[str]]:
    try:
        from huggingface_hub import constants
    except ImportError:
        return None, []
    cache = Path(constants.HF_HUB_CACHE)
    if not cache.is_dir():
        return cache, []
    names = sorted(
        p.name[len("models--") :].replace("--", "/") for p in cache.glob("models--*") if p.is_dir()
    )
    return cache, names


def course_hub_models() -> list[str]:
    """The Hub models the course's notebooks name (in any profile), from the size tables."""
    from course_lib.machinery.profiles import SIZES

    tables = [sizes for module in SIZES.values() for sizes in module.values()]
    tables += [value for sizes in tables for value in sizes.values() if isinstance(value, dict)]
    names = {
        value
        for sizes in tables
        for key, value in sizes.items()
        if key in ("hub", "hub_model") and isinstance(value, str)
    }
    return sorted(names)


def _in_cache(cache: Path, name: str) -> bool:
    """True when a snapshot of model ``name`` (with its config) is in the Hub cache."""
    snapshots = cache / f"models--{name.replace('/', '--')}" / "snapshots"
    return any(snapshots.glob("*/config.json"))


def check_hub_cache() -> list[Finding]:
    """The Hugging Face cache: where it is, whether downloads can go there, and which of the
    course's models are in it (offline, the others fall back to their stand-ins)."""
    cache, _ = _cached_models()
    if cache is None:
        return []
    wanted = course_hub_models()
    have = [name for name in wanted if _in_cache(cache, name)]
    lacking = [name for name in wanted if name not in have]
    detail = f"{cache}: {len(have)} of the course's {len(wanted)} Hub models cached" + (
        f" ({', '.join(have)})" if have else ""
    )
    usable = cache if cache.exists() else next(p for p in cache.parents if p.exists())
    if not os.access(usable, os.W_OK):
        if _flag("HF_HUB_OFFLINE"):
            return [Finding("Hub cache", "ok", detail + "; read-only, fine offline")]
        return [
            Finding(
                "Hub cache",
                "PROBLEM",
                detail + f"; {usable} is not writable, so no model can be downloaded",
                "set HF_HOME (or HF_HUB_CACHE) to a folder you can write to",
            )
        ]
    if lacking and (_flag("HF_HUB_OFFLINE") or _flag("COURSE_OFFLINE")):
        return [
            Finding(
                "Hub cache",
                "note",
                detail + f"; offline, so {', '.join(lacking)} fall back to the course's stand-ins",
                "to use the real models offline, download them once online (they stay cached)",
            )
        ]
    return [Finding("Hub cache", "ok", detail)]


def check_hub(network: bool = True, timeout: float = PROBE_TIMEOUT_S) -> list[Finding]:
    """Whether the Hugging Face Hub answers, or the run is offline (and what is cached)."""
    cache, models = _cached_models()
    if cache is None:
        return [
            Finding("Hugging Face Hub", "PROBLEM", "huggingface_hub is not installed", INSTALL_FIX)
        ]
    shown = ", ".join(models[:3]) + (", ..." if len(models) > 3 else "")
    cached = f"{len(models)} model(s) cached in {cache}" + (f": {shown}" if models else "")
    if _flag("HF_HUB_OFFLINE"):
        return [Finding("Hugging Face Hub", "ok", f"offline (HF_HUB_OFFLINE=1); {cached}")]
    if _flag("COURSE_OFFLINE"):
        return [
            Finding(
                "Hugging Face Hub",
                "PROBLEM",
                "COURSE_OFFLINE=1 but HF_HUB_OFFLINE is not set: every model name would "
                "wait 20-50 s for the network before failing",
                "also set HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1",
            )
        ]
    if not network:
        return [Finding("Hugging Face Hub", "note", f"not checked (--offline); {cached}")]
    from huggingface_hub import constants

    start = time.monotonic()
    trouble = probe([constants.ENDPOINT], timeout)[constants.ENDPOINT]
    if trouble is None:
        seconds = time.monotonic() - start
        return [Finding("Hugging Face Hub", "ok", f"reachable ({seconds:.1f} s); {cached}")]
    return [
        Finding(
            "Hugging Face Hub",
            "PROBLEM",
            f"the Hub {trouble}; {cached}",
            "check the connection (or HTTPS_PROXY); to work offline set HF_HUB_OFFLINE=1 "
            "and COURSE_OFFLINE=1 (pre-trained models then load from the cache only)",
        )
    ]


def run_checks(network: bool = True, timeout: float = PROBE_TIMEOUT_S) -> list[Finding]:
    """Every check, in report order."""
    return (
        check_versions()
        + check_runtime()
        + check_data(network, timeout)
        + check_hub(network, timeout)
        + check_hub_cache()
    )


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    # Long URLs and paths stay whole (they are copied, not read).
    return textwrap.wrap(
        text,
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def format_report(findings: list[Finding], width: int = 100) -> str:
    """The findings as aligned lines, each fix indented under its finding, then a verdict."""
    lines = ["course doctor: the environment the notebooks will run in"]
    name_width = max(len(f.topic) for f in findings)
    indent = " " * (2 + 8 + name_width + 1)
    for f in findings:
        head = f"  {f.status:<7} {f.topic:<{name_width}} "
        lines.extend(_wrap(f.detail, width, head, indent))
        if f.fix:
            label = "fix" if f.status == "PROBLEM" else "tip"
            lines.extend(_wrap(f"{label}: {f.fix}", width, indent, indent + "     "))
    problems = sum(f.status == "PROBLEM" for f in findings)
    lines.append(
        "no problems found" if not problems else f"{problems} problem(s): see each fix above"
    )
    return "\n".join(lines)


def doctor(network: bool = True, timeout: float = PROBE_TIMEOUT_S) -> list[Finding]:
    """Print the report (in a notebook cell or a terminal); returns the findings."""
    findings = run_checks(network, timeout)
    print(format_report(findings))
    return findings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``course doctor``."""
    parser.add_argument("--offline", action="store_true", help="make no network request at all")
    parser.add_argument(
        "--timeout",
        type=float,
        default=PROBE_TIMEOUT_S,
        help="seconds to wait for any network answer (default %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    """``course doctor``: print the report; exit status 1 when there is a problem."""
    findings = doctor(network=not args.offline, timeout=args.timeout)
    return 1 if any(f.status == "PROBLEM" for f in findings) else 0
