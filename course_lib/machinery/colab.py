"""Google Colab: fetch the course, install it, keep outputs on Drive, check the GPU.

``colab_bootstrap.ipynb`` and the first code cell of every module notebook (both generated
by ``course build`` from :func:`setup_cell_source`) fetch the course when it is missing:
they clone ``REPO_URL`` (never waiting for a password, and saying in one sentence what to set
when the clone fails) or, with no URL set (the course has no public home yet), copy it from
Google Drive (``My Drive/transformers-course/course``, or a zip of it uploaded to ``/content``
or to ``My Drive/transformers-course``). Then they call :func:`bootstrap`, which

1. pulls the course's updates without clobbering the learner's edits (:func:`clone_or_pull`):
   a fast-forward only, and nothing at all when an update touches a file the learner changed
   (a copy from Drive has no updates to pull);
2. installs the course once, keeping Colab's own torch build (:func:`install_course`);
3. mounts Google Drive and points ``COURSE_OUTPUT_DIR`` at the course's folder there, so a
   disconnected runtime loses no checkpoint (:func:`outputs_to_drive`);
4. checks for a GPU and says how to switch the runtime if there is none (:func:`gpu_message`);
5. prints the environment doctor's report and links that open each module in Colab.

Nothing here needs Colab to be tested: ``google.colab`` is imported only to mount Drive, git
runs on local repositories just as well, and pip is called through :func:`run_pip`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import course_lib
from course_lib.machinery import paths
from course_lib.machinery.runtime import GPU_HEAVY_MODULES, gpu_heavy_modules_in_words

COLAB_HOME = "/content/transformers-course"  # where the course is cloned on a Colab runtime
KEEP_PREINSTALLED = ("torch",)  # Colab's builds of these are kept (pinned while installing)
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
_INSTALL_MARKER = "course-install.json"  # in .git/ (or the copy): what the last install was from
PLACEHOLDER_OWNER = "your-github-user"  # REPO_SLUG's owner until the course has a public home
CLONE_TIMEOUT_S = 300  # the generated cells give up on a clone after this long
DRIVE_COPY = "course"  # a copy of the course in My Drive/transformers-course/ (no public repo)
COMPLETE_MARKER = "course-complete"  # written last by a fetch: in .git/ of a clone, else .NAME
_WATCHED = ("numpy", "torch", "transformers", "tokenizers", "datasets", "huggingface_hub")


class BootstrapError(RuntimeError):
    """A step of the Colab bootstrap failed; the message says what to do."""


# --- where the course lives -------------------------------------------------------------


def repo_url(slug: str | None = None) -> str:
    """The clone URL of the repository ``slug`` ("user/name"; default ``REPO_SLUG``)."""
    return f"https://github.com/{slug or course_lib.REPO_SLUG}.git"


def repository_configured(slug: str | None = None) -> bool:
    """False while ``REPO_SLUG`` is the placeholder: there is no public repository to clone."""
    return not (slug or course_lib.REPO_SLUG).startswith(f"{PLACEHOLDER_OWNER}/")


def default_url() -> str:
    """The clone URL the generated cells start with: empty until the slug is configured."""
    return repo_url() if repository_configured() else ""


def drive_copy(drive_root: Path | None = None) -> Path:
    """Where a copy of the course goes on Google Drive when there is no public repository."""
    return (drive_root or paths.DRIVE_ROOT) / paths.DRIVE_FOLDER / DRIVE_COPY


def slug_from_url(url: str) -> str | None:
    """The "user/name" of a GitHub clone URL (https or ssh), or None for another host."""
    pattern = r"^(?:https?://|git@)github\.com[/:]([^/]+)/([^/]+?)(?:\.git)?/?$"
    match = re.match(pattern, url.strip())
    return f"{match.group(1)}/{match.group(2)}" if match else None


def colab_url(path: str, slug: str | None = None, branch: str | None = None) -> str:
    """The address that opens ``path`` (relative to the repository root) in Colab."""
    return (
        f"https://colab.research.google.com/github/{slug or course_lib.REPO_SLUG}/blob/"
        f"{branch or course_lib.REPO_BRANCH}/{path}"
    )


# --- clone or pull, keeping the learner's edits -----------------------------------------


@dataclass(frozen=True)
class SyncResult:
    """What :func:`clone_or_pull` did."""

    action: str  # "cloned", "updated", "up to date" or "kept" (an update was not applied)
    message: str  # one or a few lines for the learner
    changed: list[str] = field(default_factory=list)  # files the update brought in
    kept: list[str] = field(default_factory=list)  # files the learner changed, left as they are


def _git(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    # GIT_TERMINAL_PROMPT=0: a private repository fails at once instead of waiting for a
    # password that a notebook cell cannot type.
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
    except subprocess.TimeoutExpired:
        raise BootstrapError(f"`git {' '.join(args)}` took over 10 minutes; run again.") from None
    if check and result.returncode != 0:
        raise BootstrapError(f"`git {' '.join(args)}` failed in {cwd}:\n{result.stderr.strip()}")
    return result


def local_changes(home: Path) -> list[str]:
    """Paths (relative to ``home``) the learner changed, added or deleted (ignored files aside)."""
    out = _git(["status", "--porcelain=v1", "-z", "--untracked-files=all"], cwd=home).stdout
    entries, changed = out.split("\0"), []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if not entry:
            continue
        status, path = entry[:2], entry[3:]
        changed.append(path)
        if "R" in status or "C" in status:  # a rename is followed by its old path
            changed.append(entries[index])
            index += 1
    return sorted(set(changed))


def _same_repository(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return (slug_from_url(url) or url.strip().rstrip("/").removesuffix(".git")).lower()

    return norm(a) == norm(b)


def clone_or_pull(url: str, branch: str, home: str | Path) -> SyncResult:
    """Clone ``url`` at ``branch`` into ``home``, or bring an existing clone up to date.

    An update is applied only as a fast-forward, and only when it touches none of the files the
    learner changed (git itself refuses to overwrite them; we do not even try): otherwise the
    clone is left exactly as it is and the message says which files stand in the way.
    """
    home = Path(home)
    if not home.exists() or (home.is_dir() and not any(home.iterdir())):
        home.parent.mkdir(parents=True, exist_ok=True)
        _git(["clone", "--quiet", "--branch", branch, url, str(home)], cwd=home.parent)
        (home / ".git" / COMPLETE_MARKER).write_text("cloned\n")
        return SyncResult("cloned", f"cloned {url} ({branch}) into {home}")
    if not (home / ".git").exists():
        raise BootstrapError(
            f"{home} exists but is not a git clone. Move it away (or delete it: rm -rf {home}) "
            "and run this cell again."
        )
    origin = _git(["remote", "get-url", "origin"], cwd=home, check=False).stdout.strip()
    if origin and not _same_repository(origin, url):
        raise BootstrapError(
            f"{home} is a clone of {origin}, not of {url}. Point the form at that repository, "
            f"or move {home} away and run this cell again."
        )
    edits = local_changes(home)
    tracking = f"refs/remotes/origin/{branch}"
    known = _git(["rev-parse", "--verify", "--quiet", tracking], cwd=home, check=False)
    before = known.stdout.strip() if known.returncode == 0 else None  # upstream as last seen
    try:
        _git(["fetch", "--quiet", "origin", f"+refs/heads/{branch}:{tracking}"], home)
    except BootstrapError as err:  # offline, or the repository moved: keep working with the clone
        return SyncResult(
            "kept", f"could not fetch updates, working with {home} as it is: {err}", kept=edits
        )
    target = f"origin/{branch}"
    current = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd=home).stdout.strip()
    if current != branch:
        switched = _git(["checkout", "--quiet", branch], cwd=home, check=False)
        if switched.returncode != 0:
            return SyncResult(
                "kept",
                f"{home} is on {current!r}, and switching to {branch!r} would overwrite your "
                f"edits, so nothing was changed. Commit or move your edits, then run again "
                f"(git says: {switched.stderr.strip()})",
                kept=edits,
            )
    incoming = _git(["diff", "--name-only", "HEAD", target], cwd=home).stdout.splitlines()
    behind = int(_git(["rev-list", "--count", f"HEAD..{target}"], cwd=home).stdout)
    if behind == 0:
        return SyncResult("up to date", f"{home} is up to date with {branch}", kept=edits)
    in_the_way = sorted(set(edits) & set(incoming))
    if in_the_way:
        listed = "\n".join(f"    {path}" for path in in_the_way)
        return SyncResult(
            "kept",
            f"The course has updates to files you changed:\n{listed}\nYour versions are kept and "
            f"the update was not applied. To take it, copy each file to another name (for "
            f"example notebooks/01_mine.ipynb), put the course's version back with `git -C "
            f"{home} checkout -- FILE` (or delete FILE if you created it), and run this again.",
            kept=edits,
        )
    rewritten = before is not None and (
        _git(["merge-base", "--is-ancestor", before, target], cwd=home, check=False).returncode
    )
    if rewritten:  # a force-push: the old upstream commits are not in the new history
        own = int(_git(["rev-list", "--count", f"{before}..HEAD"], cwd=home).stdout)
        if own == 0:
            _git(["reset", "--keep", "--quiet", target], cwd=home)
            note = f"; your {len(edits)} changed file(s) kept" if edits else ""
            return SyncResult(
                "updated",
                f"the course's history was rewritten upstream (a force-push): {home} now "
                f"follows the new {branch}, {len(incoming)} file(s) changed{note}",
                incoming,
                edits,
            )
        return SyncResult(
            "kept",
            f"The course's history was rewritten upstream (a force-push), and you have {own} "
            f"commit(s) of your own on {branch}, so nothing was changed. To follow the course: "
            f"`git -C {home} branch mine` (keeps your commits), then `git -C {home} reset "
            f"--keep origin/{branch}`.",
            kept=edits,
        )
    ahead = int(_git(["rev-list", "--count", f"{target}..HEAD"], cwd=home).stdout)
    if ahead:
        return SyncResult(
            "kept",
            f"You have {ahead} commit(s) of your own on {branch}, so the course's update was "
            f"not applied automatically: merge it yourself with `git -C {home} pull`.",
            kept=edits,
        )
    _git(["merge", "--ff-only", "--quiet", target], cwd=home)
    note = f"; your {len(edits)} changed file(s) kept" if edits else ""
    return SyncResult(
        "updated", f"updated {home}: {len(incoming)} file(s) changed{note}", incoming, edits
    )


# --- install, keeping Colab's torch -------------------------------------------------------


def run_pip(command: list[str]) -> None:
    """Run a pip command; on failure raise BootstrapError with the end of pip's output."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise BootstrapError(f"Installing the course failed:\n{tail}")


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def install_command(home: str | Path, constraints: Path | None = None) -> list[str]:
    """pip's command line that installs the course in ``home`` (editable)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--editable", str(home)]
    return command + (["--constraint", str(constraints)] if constraints else [])


def _marker(home: Path) -> Path:
    """The install stamp: in .git/ of a clone, at the top of a copy (from Drive or a zip)."""
    clone = (home / ".git").is_dir()
    return home / ".git" / _INSTALL_MARKER if clone else home / f".{_INSTALL_MARKER}"


def _install_stamp(home: Path) -> dict:
    digest = hashlib.sha256((home / "pyproject.toml").read_bytes()).hexdigest()
    return {"pyproject_sha256": digest, "python": sys.executable}


def needs_install(home: str | Path) -> bool:
    """True unless the course was installed from this very ``pyproject.toml`` by this Python."""
    home = Path(home)
    marker = _marker(home)
    if _installed("course-lib") is None or not marker.is_file():
        return True
    try:
        return json.loads(marker.read_text()) != _install_stamp(home)
    except ValueError:
        return True


def install_course(home: str | Path, force: bool = False) -> str:
    """``pip install -e home``, pinning the installed torch (so Colab's CUDA build stays).

    Skipped when :func:`needs_install` says the install is current. Returns a one-line report,
    which asks for a restart when an already imported package changed version.
    """
    home = Path(home)
    if not (home / "pyproject.toml").is_file():
        raise BootstrapError(f"{home} has no pyproject.toml: is the repository the course's?")
    if not force and not needs_install(home):
        return "the course is already installed"
    keep = {name: _installed(name) for name in KEEP_PREINSTALLED}
    before = {name: _installed(name) for name in _WATCHED if name in sys.modules}
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "keep-preinstalled.txt"
        pins = [f"{name}=={version}" for name, version in keep.items() if version]
        constraints.write_text("\n".join(pins) + "\n")
        run_pip(install_command(home, constraints if pins else None))
    importlib.invalidate_caches()
    _marker(home).write_text(json.dumps(_install_stamp(home)))
    kept = ", ".join(pin.replace("==", " ") for pin in pins)
    report = f"installed the course from {home}" + (f" (kept {kept})" if kept else "")
    changed = [name for name, version in before.items() if _installed(name) != version]
    if changed:
        report += (
            f"\n{', '.join(changed)} changed version while already imported: restart the session "
            "(Runtime > Restart session) and run this cell again."
        )
    return report


# --- Drive and GPU ------------------------------------------------------------------------


def outputs_to_drive(drive_root: Path | None = None) -> Path:
    """Mount Google Drive and send the course's outputs there; returns the output folder.

    Sets ``COURSE_OUTPUT_DIR`` for this kernel and the commands it starts (``course run``),
    so checkpoints and executed notebooks survive a disconnected runtime.
    """
    root = drive_root or paths.DRIVE_ROOT
    again = (
        "Run this cell again and accept the authorisation, or untick MOUNT_DRIVE to keep "
        "outputs in the runtime (lost when it disconnects)"
    )
    if not paths.drive_mounted(root):
        from google.colab import drive

        try:
            drive.mount(str(root.parent))
        except Exception as err:  # noqa: BLE001 - a declined authorisation: ValueError
            raise BootstrapError(
                f"Google Drive was not mounted (the authorisation was declined or failed: "
                f"{err}). {again}."
            ) from None
    if not paths.drive_mounted(root):
        raise BootstrapError(f"Google Drive did not appear at {root}. {again}.")
    out = paths.drive_output_dir(root)
    in_the_way = next((p for p in (out, *out.parents) if p.is_file()), None)
    if in_the_way is not None:
        raise BootstrapError(
            f"{in_the_way} is a file where the course's folder on Drive should be: rename or "
            f"move it in Google Drive, then run this cell again."
        )
    out.mkdir(parents=True, exist_ok=True)
    os.environ["COURSE_OUTPUT_DIR"] = str(out)
    return out


def gpu_message(cuda_available: bool | None = None, device_name: str | None = None) -> str:
    """One line on the GPU, with how to switch the runtime when there is none."""
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
        if cuda_available and device_name is None:
            device_name = torch.cuda.get_device_name(0)
    if cuda_available:
        return f"GPU: {device_name or 'CUDA device'}; notebooks use the gpu profile (full sizes)."
    heavy = gpu_heavy_modules_in_words()
    return (
        f"No GPU in this runtime. Modules {heavy} train far faster on one: choose Runtime > "
        "Change runtime type > Hardware accelerator: a GPU (T4 is free) > Save, then run this "
        "notebook again from the top (the new runtime starts empty; your outputs on Drive "
        "stay). Without a GPU every notebook still runs, at the smaller cpu profile sizes."
    )


# --- links to the modules -----------------------------------------------------------------


@dataclass(frozen=True)
class ModuleLink:
    """One module's notebooks, with the addresses that open them in Colab."""

    module: int  # module number
    title: str  # the notebook's title (its first heading)
    notebook: str  # Colab address of the learner's notebook
    solution: str | None  # Colab address of the solved notebook, if there is one
    gpu: bool  # should run on a GPU runtime


def _title(path: Path) -> str:
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def module_links(root: str | Path, slug: str | None = None, branch: str | None = None):
    """A :class:`ModuleLink` per learner notebook in ``root/notebooks``, in module order."""
    root, links = Path(root), []
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        module = int(path.name[:2])
        solved = f"solutions/{path.name}"
        links.append(
            ModuleLink(
                module=module,
                title=_title(path),
                notebook=colab_url(f"notebooks/{path.name}", slug, branch),
                solution=colab_url(solved, slug, branch) if (root / solved).exists() else None,
                gpu=module in GPU_HEAVY_MODULES,
            )
        )
    return links


def links_markdown(links: list[ModuleLink]) -> str:
    """The links as a markdown list (one line per module)."""
    lines = []
    for link in links:
        line = f"- [{link.title}]({link.notebook})"
        if link.solution:
            line += f" · [solved]({link.solution})"
        lines.append(line + (" · *GPU runtime*" if link.gpu else ""))
    return "\n".join(lines)


def _show_markdown(text: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
            return
    except ImportError:
        pass
    print(text)


# --- the whole bootstrap --------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapReport:
    """What :func:`bootstrap` did, step by step."""

    sync: SyncResult  # the clone or pull
    install: str  # the install step's report
    output_dir: Path | None  # the outputs folder on Drive (None when Drive was not mounted)
    gpu: str  # the GPU line
    links: list[ModuleLink]  # the modules' Colab links (empty for another host than GitHub)


def bootstrap(
    url: str | None = None,
    branch: str | None = None,
    home: str | Path = COLAB_HOME,
    mount_drive: bool = True,
    drive_root: Path | None = None,
    brief: bool = False,
) -> BootstrapReport:
    """Clone or pull, install, mount Drive, check the GPU; print what happened.

    ``brief`` (the first cell of a module notebook) prints one line per step; otherwise the
    doctor's report and the links to every module follow.
    """
    url = default_url() if url is None else url
    branch, home = branch or course_lib.REPO_BRANCH, Path(home)
    if url:
        sync = clone_or_pull(url, branch, home)
    elif (home / "pyproject.toml").is_file():  # a copy (from Drive or a zip), or a clone
        kind = "clone" if (home / ".git").exists() else "copy (from Drive or a zip)"
        sync = SyncResult(
            "copied",
            f"using the {kind} of the course in {home}; REPO_URL is empty, "
            "so no updates are pulled",
        )
    else:
        raise BootstrapError(
            f"No course to install in {home}: set REPO_URL to the course's clone URL, or put a "
            f"copy of the course in {drive_copy()} and run this cell again."
        )
    print(f"[colab] {sync.message}")
    installed = install_course(home)
    print(f"[colab] {installed}")
    if str(home) not in sys.path:
        sys.path.insert(0, str(home))
    out = None
    if mount_drive:
        try:
            out = outputs_to_drive(drive_root)
            print(f"[colab] outputs and checkpoints go to Drive: {out}")
        except BootstrapError as err:  # carry on without Drive, and say what that means
            local = home / "outputs"
            os.environ["COURSE_OUTPUT_DIR"] = str(local)
            print(
                f"[colab] {err} Until then outputs go to {local} and are lost when the "
                "runtime disconnects."
            )
    else:
        print(
            f"[colab] Drive not mounted: outputs go to {paths.output_dir(drive_root)} "
            "and are lost when the runtime disconnects"
        )
    gpu = gpu_message()
    print(f"[colab] {gpu}")
    slug = slug_from_url(url) if url else None
    links = module_links(home, slug, branch) if slug else []
    if not brief:
        from course_lib.machinery.doctor import doctor

        print()
        doctor()
        if links:
            _show_markdown(
                "**Open a module in Colab** (each opens in its own runtime):\n\n"
                + links_markdown(links)
            )
        else:
            print(
                "No Open-in-Colab links: the repository is not on GitHub. Run a module here "
                "with `!course run N`, or open its notebook with File > Upload notebook."
            )
    return BootstrapReport(sync, installed, out, gpu, links)


# --- the generated cells ----------------------------------------------------------------------

COLAB_DRIVE_MOUNT = "/content/drive"  # where the generated cells mount Google Drive
COLAB_UPLOADS = "/content"  # where Colab's Files panel uploads (a zip of the course, say)


def fetch_course(
    url: str, branch: str, home: str, drive_folder: str, uploads: str, mount_drive=None
) -> str:
    """Put the course in ``home`` on a fresh runtime, before ``course_lib`` can be imported.

    With ``url``: a clone that never waits for a password and fails in one sentence. Without:
    ``mount_drive()`` (if given; a declined authorisation is reported and the uploads are
    still searched), then the folder ``drive_folder/course`` (a copy of the course on Drive),
    or the first zip in ``drive_folder`` or ``uploads`` that holds this course (its
    ``pyproject.toml`` names ``course-lib`` and ``course_lib/`` is there). Every fetch goes
    to a staging folder, gets a marker and is renamed to ``home``: a ``home`` without the
    marker (a copy cut short) is moved aside to ``home.incomplete-N`` and fetched again.
    Standard library only: the generated cells carry this function's source. Returns what it
    did.
    """
    import glob
    import os
    import re
    import shutil
    import subprocess
    import tempfile

    marker = "course-complete"

    def complete(folder):
        return os.path.isfile(os.path.join(folder, ".git", marker)) or os.path.isfile(
            os.path.join(folder, "." + marker)
        )

    def course_in(folder):  # this course, not any project with a pyproject.toml
        try:
            with open(os.path.join(folder, "pyproject.toml"), encoding="utf-8") as f:
                named = re.search(r"""^name\s*=\s*["']course-lib["']""", f.read(), re.M)
        except (OSError, UnicodeDecodeError):
            return False
        return bool(named) and os.path.isfile(os.path.join(folder, "course_lib", "__init__.py"))

    def settle(fetch, where):  # fetch into staging, mark it complete, rename it into place
        staging = home + ".partial"
        shutil.rmtree(staging, ignore_errors=True)
        fetch(staging)
        git_dir = os.path.join(staging, ".git")
        clone = os.path.isdir(git_dir)
        with open(
            os.path.join(git_dir, marker) if clone else os.path.join(staging, "." + marker), "w"
        ) as f:
            f.write(where + "\n")
        os.rename(staging, home)

    if complete(home):
        return f"the course is in {home}"
    note = ""
    if os.path.exists(home):
        aside = next(
            f"{home}.incomplete-{n}"
            for n in range(1, 1000)
            if not os.path.exists(f"{home}.incomplete-{n}")
        )
        os.rename(home, aside)
        note = f" ({home} was incomplete, a fetch cut short: it is kept in {aside})"
        print(f"{home} is incomplete (a fetch cut short): moved to {aside}, fetching again.")
    if url:
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0")  # a private repository fails at once

        def clone(staging):
            command = ["git", "clone", "--quiet", "--branch", branch, url, staging]
            try:
                failed = subprocess.run(command, env=env, timeout=300).returncode != 0
            except subprocess.TimeoutExpired:
                failed = True
            if failed:
                shutil.rmtree(staging, ignore_errors=True)
                raise SystemExit(
                    f"Could not clone {url} (private, misspelt or unreachable): set REPO_URL to "
                    f"the course's public clone URL, or empty it and put a copy of the course "
                    f"in {drive_folder}/course."
                )
            if not course_in(staging):
                shutil.rmtree(staging, ignore_errors=True)
                raise SystemExit(
                    f"{url} is not this course (its pyproject.toml does not name course-lib, or "
                    f"course_lib/ is missing): set REPO_URL to the course's clone URL."
                )

        settle(clone, url)
        return f"cloned {url}{note}"
    if mount_drive is not None:
        try:
            mount_drive()
        except Exception as err:  # noqa: BLE001 - a declined authorisation is a ValueError
            print(f"Google Drive is not mounted ({err}): looking for a zip in {uploads} only.")
    copy = os.path.join(drive_folder, "course")
    skip = shutil.ignore_patterns(".git", ".venv", "outputs", "__pycache__")
    if course_in(copy):
        settle(lambda staging: shutil.copytree(copy, staging, ignore=skip), copy)
        return f"copied the course from {copy}{note}"
    refused = [copy] if os.path.exists(copy) else []
    for archive in sorted(glob.glob(f"{drive_folder}/*.zip") + glob.glob(f"{uploads}/*.zip")):
        unpacked = tempfile.mkdtemp()
        try:
            shutil.unpack_archive(archive, unpacked)
        except (OSError, ValueError, shutil.ReadError):
            refused.append(os.path.basename(archive))
            continue
        # the course at the top of the zip, or in one folder (GitHub's Download ZIP)
        found = [unpacked] + sorted(glob.glob(f"{unpacked}/*/"))
        top = next((os.path.normpath(f) for f in found if course_in(f)), None)
        if top is None:
            refused.append(os.path.basename(archive))
            continue
        settle(lambda staging, top=top: shutil.move(top, staging), archive)
        return f"unpacked the course from {archive}{note}"
    others = f" ({', '.join(refused)} do not hold this course)" if refused else ""
    raise SystemExit(
        f"No course to install{others}: set REPO_URL to the course's clone URL, or put a copy "
        f"of the course folder in {copy} (or its zip in {drive_folder} or {uploads})."
    )


def setup_cell_source(
    url: str | None = None, branch: str | None = None, home: str = COLAB_HOME, form: bool = False
) -> str:
    """The code cell that sets a Colab runtime up; does nothing anywhere else.

    With ``form`` (colab_bootstrap.ipynb) REPO_URL, BRANCH and MOUNT_DRIVE come from the form
    cell above it and the full report is printed; otherwise (the first code cell of every
    module notebook) they are written into the cell and the report is brief. An empty
    REPO_URL (the default until ``REPO_SLUG`` is configured) installs from Google Drive.
    """
    import inspect

    fetch = inspect.getsource(fetch_course).splitlines()
    drive_folder = f"{COLAB_DRIVE_MOUNT}/MyDrive/{paths.DRIVE_FOLDER}"
    if form:
        head = [
            "# Fetch the course (first run) and hand over to course_lib.machinery.colab.bootstrap.",
            "import sys",
            "",
            "",
            *fetch,
            "",
            "",
            f'HOME = "{home}"',
            'if "google.colab" not in sys.modules:',
            '    print("Not on Colab: nothing to do here; see docs/working_anywhere.md.")',
            "else:",
        ]
        call = "    bootstrap(REPO_URL, BRANCH, HOME, mount_drive=MOUNT_DRIVE)"
    else:
        head = [
            '# @title On Colab: set the course up (elsewhere: nothing) { display-mode: "form" }',
            "# On Colab only (elsewhere this cell does nothing): fetch and install the course,",
            "# and keep outputs on Google Drive. Set MOUNT_DRIVE = False to skip Drive.",
            "# An empty REPO_URL installs a copy of the course from Google Drive instead.",
            "import sys",
            "",
            "",
            *fetch,
            "",
            "",
            'if "google.colab" in sys.modules:',
            f'    REPO_URL = "{default_url() if url is None else url}"',
            f'    BRANCH, HOME, MOUNT_DRIVE = "{branch or course_lib.REPO_BRANCH}", "{home}", True',
        ]
        call = "    bootstrap(REPO_URL, BRANCH, HOME, mount_drive=MOUNT_DRIVE, brief=True)"
    body = [
        "",
        "    def mount_drive():",
        "        from google.colab import drive",
        "",
        f'        drive.mount("{COLAB_DRIVE_MOUNT}")',
        "",
        "    fetch_course(",
        f'        REPO_URL, BRANCH, HOME, "{drive_folder}", "{COLAB_UPLOADS}",',
        "        mount_drive,",
        "    )",
        "    sys.path.insert(0, HOME)",
        "    from course_lib.machinery.colab import bootstrap",
        "",
        call,
    ]
    return "\n".join(head + body)


def form_cell_source(url: str | None = None, branch: str | None = None) -> str:
    """The Colab form of colab_bootstrap.ipynb: the repository, its branch, Drive or not."""
    return "\n".join(
        [
            '# @title Which course? { display-mode: "form" }',
            f'REPO_URL = "{default_url() if url is None else url}"  # @param {{type:"string"}}',
            f'BRANCH = "{branch or course_lib.REPO_BRANCH}"  # @param {{type:"string"}}',
            'MOUNT_DRIVE = True  # @param {type:"boolean"}',
        ]
    )


BOOTSTRAP_INTRO = """\
# Transformers from scratch · start here on Google Colab

{badge}

This notebook prepares a Colab runtime for the course, in one *Run all*:

1. it clones the course from `REPO_URL` (or, on a later run, pulls its updates **without
   touching the files you edited**); with `REPO_URL` empty, it copies the course from your
   Google Drive instead: the course folder as `My Drive/{drive_folder}/course`, or its zip in
   `My Drive/{drive_folder}` or uploaded to `/content` (*Files* panel);
2. installs it, keeping Colab's own PyTorch;
3. mounts your Google Drive and sends every output and checkpoint to
   `My Drive/{drive_folder}/outputs`, so a disconnected runtime loses nothing;
4. checks for a GPU and says how to get one;
5. prints an environment report, then a link that opens each module in Colab.

Each module notebook's first code cell does steps 1-4 by itself in its own runtime, so you can
also open a module directly from its badge."""

BOOTSTRAP_OUTRO = """\
## Next

Open a module from the links above. Modules {heavy} want a GPU runtime
(*Runtime > Change runtime type*).

To run a whole module here instead, with the executed copy saved on Drive, run
`!course run 4 --solution` in a new cell (drop `--solution` for your own version).

Files in `{home}` last as long as this runtime; outputs and checkpoints are on Drive. To
keep a notebook you changed, use *File > Save a copy in Drive* (or download it)."""


def bootstrap_notebook(slug: str | None = None, branch: str | None = None):
    """colab_bootstrap.ipynb as an nbformat notebook (``course build`` writes it)."""
    import nbformat

    url = repo_url(slug) if repository_configured(slug) else ""
    badge = f"[![Open In Colab]({COLAB_BADGE})]({colab_url('colab_bootstrap.ipynb', slug, branch)})"
    heavy = gpu_heavy_modules_in_words()
    cells = [
        nbformat.v4.new_markdown_cell(
            BOOTSTRAP_INTRO.format(badge=badge, drive_folder=paths.DRIVE_FOLDER)
        ),
        nbformat.v4.new_code_cell(form_cell_source(url, branch)),
        nbformat.v4.new_code_cell(setup_cell_source(url, branch, form=True)),
        nbformat.v4.new_markdown_cell(BOOTSTRAP_OUTRO.format(heavy=heavy, home=COLAB_HOME)),
    ]
    for index, cell in enumerate(cells):
        cell.id = f"bootstrap-{index}"
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "colab": {"provenance": []},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb
