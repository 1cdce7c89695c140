"""Start the tests' local Hugging Face Hub by hand (tests/local_hub.py), until Ctrl-C.

    python scripts/local_hub.py [--port 8765] [--folder DIR]

It builds the tiny models and data sets (a few seconds) into ``--folder`` (a temporary one by
default), serves them on 127.0.0.1 only, and prints the environment a shell needs to use it,
e.g. to run a notebook's online branches offline:

    export HF_ENDPOINT=http://127.0.0.1:8765 HF_HOME=/tmp/hf_home COURSE_CI_HUB=1
    unset COURSE_OFFLINE HF_HUB_OFFLINE HF_DATASETS_OFFLINE TRANSFORMERS_OFFLINE
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from local_hub import OFFLINE_VARIABLES, LocalHub, build_repos  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--folder", type=Path, help="where to build the repos (default: temp)")
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="local_hub_"))
    start = time.perf_counter()
    hub = LocalHub(build_repos(folder))
    url = hub.start(port=args.port)
    print(f"built {len(hub.repos)} repositories in {folder} ({time.perf_counter() - start:.0f} s)")
    for kind, name in sorted(hub.repos):
        print(f"  {kind:8s} {name}")
    print(f"\nserving {url} (Ctrl-C stops it); in another shell:\n")
    print(f"  export HF_ENDPOINT={url} HF_HOME={folder / 'hf_home'} COURSE_CI_HUB=1")
    print(f"  unset {' '.join(OFFLINE_VARIABLES)}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
