"""The ``course`` command: ``course build [--check]``, ``course run MODULE``, ``course doctor``,
``course site``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_lib.machinery import paths
from course_lib.machinery.doctor import add_arguments as doctor_options
from course_lib.machinery.doctor import run as run_doctor


def _root() -> Path:
    root = paths.repo_root()
    if root is None:
        sys.exit("course: run this from a clone of the course repository.")
    return root


def _build(args: argparse.Namespace) -> int:
    from course_lib.machinery.lessons import build, build_bootstrap, build_readme
    from course_lib.machinery.reference import refresh_prose

    root = _root()
    stale = (
        build(root, check=args.check)
        + build_bootstrap(root, check=args.check)
        + build_readme(root, check=args.check)
    )
    stale += refresh_prose(root, check=args.check)  # after build: the solved notebooks' text
    if args.check:
        from course_lib.machinery.reference import reference_status, status_lines

        for path in stale:
            print(f"stale: {path.relative_to(root)} (run `course build`)")
        print("notebooks up to date" if not stale else f"{len(stale)} stale file(s)")
        references = reference_status(root)
        for line in status_lines(references):
            print(line)
        return 1 if stale or references.stale else 0
    for path in stale:
        print(f"written: {path.relative_to(root)}")
    print(f"{len(stale)} file(s) written")
    return 0


def _run(args: argparse.Namespace) -> int:
    from course_lib.machinery.profiles import detect_profile
    from course_lib.machinery.reference import load_average, write_reference
    from course_lib.machinery.run_times import record_run
    from course_lib.machinery.runner import (
        NotebookBusy,
        NotebookFailed,
        find_notebook,
        read_notebook,
        run_notebook,
    )
    from course_lib.machinery.settings import check_environment

    root = _root()
    if args.reference and not args.solution:
        print(
            "course run: --reference records the solved notebook: add --solution.", file=sys.stderr
        )
        return 2
    try:
        path = find_notebook(args.module, solution=args.solution, root=root)
        read_notebook(path)
        profile = detect_profile()
        check_environment(profile)
    except (FileNotFoundError, ValueError) as err:
        print(f"course run: {err}", file=sys.stderr)
        return 2
    print(f"running {path.relative_to(root)} in profile {profile}")
    load_at_start = load_average()
    try:
        out, seconds = run_notebook(path, timeout=args.timeout)
    except NotebookBusy as err:
        print(f"course run: {err}", file=sys.stderr)
        return 2
    except NotebookFailed as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{path.name}: {seconds:.1f} s; executed copy: {out}")
    if args.record:
        where = record_run(root, path.stem, profile, seconds, note=args.note)
        print(f"recorded in {where.relative_to(root)}: run `course build` to update the notebooks")
    if args.reference:
        where = write_reference(root, path, out, profile, seconds, load_at_start)
        print(f"reference run written: {where.relative_to(root)}")
    return 0


def _site(args: argparse.Namespace) -> int:
    from course_lib.machinery.site import SiteError, build_site

    root = _root()
    try:
        out = build_site(root, out=args.out, source=args.source)
    except SiteError as err:
        print(f"course site: {err}", file=sys.stderr)
        return 1
    print(f"site built: {out}/index.html")
    return 0


def _seconds(text: str) -> int:
    """A ``--timeout``: a whole number of seconds, at least 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds >= 1")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="generate the notebooks from solutions/NN_*.py")
    build.add_argument("--check", action="store_true", help="only report stale notebooks")
    build.set_defaults(func=_build)
    run = sub.add_parser("run", help="execute a module's notebook headless")
    run.add_argument("module", help="module number (1, 01) or notebook name prefix")
    run.add_argument("--solution", action="store_true", help="run the solved notebook")
    run.add_argument("--timeout", type=_seconds, default=1800, help="seconds allowed per cell")
    run.add_argument(
        "--record", action="store_true", help="store the run time in docs/run_times.json"
    )
    run.add_argument("--note", default="", help="with --record: how the machine was loaded")
    run.add_argument(
        "--reference",
        action="store_true",
        help="with --solution: keep the executed copy as docs/reference/NN_topic.ipynb",
    )
    run.set_defaults(func=_run)
    site = sub.add_parser("site", help="build the course site (offline) with mkdocs")
    site.add_argument("--out", type=Path, default=None, help="output folder (default: site/)")
    site.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=None,
        help="folder of executed notebooks (default: docs/reference/)",
    )
    site.set_defaults(func=_site)
    doctor = sub.add_parser("doctor", help="check versions, device, data, Hub; say how to fix")
    doctor_options(doctor)
    doctor.set_defaults(func=run_doctor)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
