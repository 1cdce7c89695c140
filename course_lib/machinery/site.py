"""The course site: ``course site [--out DIR] [--from DIR]`` builds it with mkdocs
(mkdocs-material, mkdocs-jupyter), offline, into ``site/``.

A home page (the README's module map with a link to each module's page and to Colab, and the
README's profiles, measured times and results sections), then one page per module: its
reference run (``docs/reference/NN_topic.ipynb``, see :mod:`reference`) or, with ``--from``,
executed copies from another folder (``NN_topic.ipynb`` or ``course run``'s
``NN_topic.solution.executed.ipynb``). A module without an executed copy gets its solved
notebook without outputs and a note saying so. Every page works offline: MathJax is served
from the site (a copy from the ``jupyter-server-mathjax`` package), the theme loads no web
fonts, the Colab badge is a local image. ``.github/workflows/pages.yml`` publishes it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from course_lib.machinery import colab, reference
from course_lib.machinery.lessons import find_lessons

HOME_SECTIONS = ("Module map", "Profiles", "Results")  # README sections shown on the home page
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,local/course"
MATHJAX_PARTS = (  # what MathJax 2.7's HTML-CSS output with the STIX-Web fonts loads
    "MathJax.js",
    "config/TeX-AMS-MML_HTMLorMML-full.js",
    "jax/input",
    "jax/element",
    "jax/output/HTML-CSS",
    "extensions",
    "fonts/HTML-CSS/STIX-Web/woff",
    "localization/en",
)
# The package ships only the STIX-Web fonts: tell MathJax to use them and no other. Assistive
# MathML is off: its hidden <math> elements ask for TeX fonts the package lacks (404s). The
# blank font MathJax measures with is local() instead of url('about:blank'), which today's
# Chromium refuses with a console error.
MATHJAX_LOCAL_CONFIG = """MathJax.Hub.Config({
  "HTML-CSS": {
    availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
    styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}}
  },
  menuSettings: {zoom: "None", assistiveMML: false}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/course.js");
"""
# Markdown pages (arithmatex) load MathJax through this; notebook pages already have it.
MATHJAX_LOADER = """(function () {
  if (window.MathJax) { return; }
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  var script = document.createElement("script");
  script.src = here + "mathjax/MathJax.js?config=CONFIG";
  document.head.appendChild(script);
})();
""".replace("CONFIG", MATHJAX_CONFIG)
COLAB_BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img"
 aria-label="Open in Colab"><title>Open in Colab</title>
<rect width="117" height="20" rx="3" fill="#555"/><rect x="20" width="97" height="20" rx="3"
 fill="#e37400"/><rect x="20" width="6" height="20" fill="#e37400"/>
<circle cx="8" cy="10" r="4" fill="none" stroke="#f9ab00" stroke-width="2.5"/>
<circle cx="13" cy="10" r="4" fill="none" stroke="#e8710a" stroke-width="2.5"/>
<text x="68" y="14" fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"
 text-anchor="middle">Open in Colab</text></svg>
"""


class SiteError(RuntimeError):
    """The site could not be built; the message says why and what to do."""


def _mathjax_source() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise SiteError(
            "jupyter-server-mathjax (the local MathJax) is missing: pip install -e '.[dev]'"
        ) from None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _write_assets(docs: Path) -> None:
    """The Colab badge and a local MathJax under ``docs/assets``."""
    assets = docs / "assets"
    (assets / "mathjax" / "config" / "local").mkdir(parents=True)
    (assets / "colab-badge.svg").write_text(COLAB_BADGE_SVG, encoding="utf-8")
    (assets / "mathjax-loader.js").write_text(MATHJAX_LOADER, encoding="utf-8")
    source = _mathjax_source()
    for part in MATHJAX_PARTS:
        src, dst = source / part, assets / "mathjax" / part
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    (assets / "mathjax" / "config" / "local" / "course.js").write_text(
        MATHJAX_LOCAL_CONFIG, encoding="utf-8"
    )


def executed_copy(source: Path, stem: str) -> Path | None:
    """The executed notebook of lesson ``stem`` in ``source``, if it holds one."""
    for name in (f"{stem}.ipynb", f"{stem}.solution.executed.ipynb"):
        if (source / name).is_file():
            return source / name
    return None


def _module_page(root: Path, stem: str, source: Path):
    """The notebook of module ``stem``'s page: executed copy, slimmed, links made local."""
    executed = executed_copy(source, stem)
    nb = nbformat.read(executed or root / "solutions" / f"{stem}.ipynb", as_version=4)
    reference.slim(nb)
    if executed is None:
        nb.cells.insert(
            0,
            nbformat.v4.new_markdown_cell(
                "> No reference run of this module yet: the solved notebook is shown without "
                f"outputs. Record one with `{reference.rerecord_command(stem)}`."
            ),
        )
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            # the notebook's own badge cell links the solved and the exercise notebooks
            cell.source = cell.source.replace(colab.COLAB_BADGE, "../assets/colab-badge.svg")
    return nb


def readme_sections(readme: str, titles: tuple[str, ...] = HOME_SECTIONS) -> list[str]:
    """The README's ``## `` sections whose title starts with one of ``titles``, in order."""
    parts = re.split(r"^(?=## )", readme, flags=re.M)
    return [p.strip() for p in parts if p.startswith("## ") and p[3:].startswith(titles)]


def home_page(root: Path, stems: list[str]) -> str:
    """The home page's markdown: the README's title and module map (linked), times, results."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0].lstrip("# ").strip()
    text = "\n\n".join(readme_sections(readme))
    for stem in stems:  # the module map's names become links to the pages and to Colab
        colab_link = colab.colab_url(f"notebooks/{stem}.ipynb")
        text = text.replace(
            f"| `{stem}` | ",
            f"| [`{stem}`]({stem}.ipynb) [![Open in Colab](assets/colab-badge.svg)]"
            f"({colab_link}) | ",
            1,
        )
    intro = (
        "Each module's page shows its solved notebook as a reference run, with every output; "
        "open the exercises in Colab from its badge."
    )
    return f"# {title}\n\n{intro}\n\n{text}\n"


def _mkdocs_config(title: str, stems: list[str]) -> str:
    nav = "\n".join(f"  - '{stem}': {stem}.ipynb" for stem in stems)
    return f"""site_name: "{title}"
use_directory_urls: true
theme:
  name: material
  font: false
nav:
  - Home: index.md
{nav}
plugins:
  - search
  - mkdocs-jupyter:
      include_source: false
      execute: false
      cache: false
      custom_mathjax_url: "../assets/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
markdown_extensions:
  - tables
  - pymdownx.arithmatex:
      generic: true
extra_javascript:
  - assets/mathjax-loader.js
"""


def build_site(root: Path, out: Path | None = None, source: Path | None = None) -> Path:
    """Build the site into ``out`` (default ``site/``) from the executed notebooks in
    ``source`` (default ``docs/reference/``); returns ``out``."""
    out = (out or root / "site").resolve()
    source = (source or root / reference.FOLDER).resolve()
    if source.exists() and not source.is_dir():
        raise SiteError(f"--from {source} is a file: give the folder of executed notebooks.")
    stems = [lesson.stem for lesson in find_lessons(root)]
    readme = (root / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0].lstrip("# ").strip()
    with tempfile.TemporaryDirectory(prefix="course-site-") as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        _write_assets(docs)
        (docs / "index.md").write_text(home_page(root, stems), encoding="utf-8")
        for stem in stems:
            nbformat.write(_module_page(root, stem, source), docs / f"{stem}.ipynb")
        config = Path(tmp) / "mkdocs.yml"
        config.write_text(_mkdocs_config(title.replace('"', "'"), stems), encoding="utf-8")
        command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(config)]
        result = subprocess.run(
            [*command, "-d", str(out)], cwd=tmp, capture_output=True, text=True, timeout=600
        )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip()[-3000:]
        raise SiteError(f"mkdocs failed (is `pip install -e '.[dev]'` done?):\n{tail}")
    return out
