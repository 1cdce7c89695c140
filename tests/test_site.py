"""The course site in a real browser: `course site` built from executed notebooks, served on
127.0.0.1 and opened in headless Chromium. Every page loads without console errors, every
image loads, math renders, the navigation reaches every module page; a screenshot is kept.

Built from docs/reference/ when it holds reference runs (what gets published), else from a
ci-profile run of Module 0 made here (the other modules show their solved notebook).
Without Chromium the test is skipped (`apt-get install chromium chromium-driver`); under CI
(CI=true) it fails instead.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin

import nbformat
import pytest
import yaml

from course_lib.machinery import paths, reference
from course_lib.machinery.lessons import find_lessons
from course_lib.machinery.runner import run_notebook
from course_lib.machinery.site import build_site, executed_copy

ROOT = paths.repo_root()
STEMS = [lesson.stem for lesson in find_lessons(ROOT)]
INSTALL = "apt-get install -y chromium chromium-driver (Debian/Ubuntu), and pip install -e '.[dev]'"
INLINE_MATH = re.compile(r"\$[^$\n]+\$")


def _browser_paths() -> tuple[str, str] | None:
    """Chromium (or Chrome) and its chromedriver, found on this machine, or None."""
    names = ("chromium", "chromium-browser", "google-chrome")
    browser = next((shutil.which(n) for n in names if shutil.which(n)), None)
    driver = shutil.which("chromedriver")
    if driver is None and os.environ.get("CHROMEWEBDRIVER"):  # GitHub's runners
        candidate = Path(os.environ["CHROMEWEBDRIVER"]) / "chromedriver"
        driver = str(candidate) if candidate.is_file() else None
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def chromium():
    found = _browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        found = None
    if found is None:
        message = f"headless Chromium is missing: {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=found[1]))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built site's folder and the folder of executed notebooks it was built from."""
    source = ROOT / reference.FOLDER
    if not reference.reference_status(ROOT).recorded:
        source = tmp_path_factory.mktemp("executed")
        run_notebook(ROOT / "solutions" / f"{STEMS[0]}.ipynb", output_dir=source)
        source = source / "executed"
    return build_site(ROOT, out=tmp_path_factory.mktemp("site"), source=source), source


@pytest.fixture(scope="module")
def server(site):
    """The site served on 127.0.0.1 (an ephemeral port) from a thread; stopped afterwards."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=site[0]))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _open(driver, url: str) -> dict:
    """Load ``url``; wait for MathJax (if the page has it) to finish; report what we check."""
    driver.get(url)
    deadline = time.monotonic() + 20
    script = (
        "return document.readyState === 'complete' && (!window.MathJax || "
        "(MathJax.Hub && MathJax.Hub.queue && MathJax.Hub.queue.pending === 0 "
        "&& !MathJax.Hub.queue.running));"
    )
    while not driver.execute_script(script):
        assert time.monotonic() < deadline, f"{url}: the page or MathJax never finished loading"
        time.sleep(0.1)
    return driver.execute_script(
        "return {"
        "broken: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
        "  .map(i => i.src),"
        "images: document.images.length,"
        "math: document.querySelectorAll('.MathJax, .MathJax_Display').length,"
        "math_errors: document.querySelectorAll('.MathJax_Error, merror').length,"
        "links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href)};"
    )


def _has_math(notebook: Path) -> bool:
    nb = nbformat.read(notebook, as_version=4)
    return any(c.cell_type == "markdown" and INLINE_MATH.search(c.source) for c in nb.cells)


def test_every_page_loads_in_chromium_with_images_math_and_navigation(chromium, site, server):
    started = time.monotonic()
    home = _open(chromium, server)
    modules = {stem: urljoin(server, f"{stem}/") for stem in STEMS}
    unreachable = [stem for stem, url in modules.items() if url not in home["links"]]
    assert not unreachable, f"the home page's navigation does not reach: {unreachable}"
    pages = {"home": home}
    errors = {}
    for stem, url in modules.items():
        errors[stem] = [e["message"] for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
        pages[stem] = _open(chromium, url)
    errors["last"] = [e["message"] for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
    assert not any(errors.values()), f"console errors (logged before the named page): {errors}"
    for name, page in pages.items():
        assert not page["broken"], f"{name}: images that did not load: {page['broken']}"
        assert page["math_errors"] == 0, f"{name}: MathJax reported errors"
    executed, source = [], site[1]
    for stem in STEMS:
        notebook = executed_copy(source, stem) or ROOT / "solutions" / f"{stem}.ipynb"
        if _has_math(notebook):
            assert pages[stem]["math"] > 0, f"{stem}: its math was not rendered by MathJax"
        if executed_copy(source, stem):
            executed.append(stem)
    assert executed, "the site was built from no executed notebook"
    figures = sum(pages[stem]["images"] for stem in executed)
    assert figures > 1, f"the executed pages {executed} show no figures"  # badge + figures
    shot = paths.output_dir() / "site-screenshot.png"
    _open(chromium, modules[executed[0]])
    chromium.execute_script("document.querySelector('.jp-OutputArea img').scrollIntoView();")
    time.sleep(0.5)  # the header's title fades to the page's title on scrolling
    chromium.save_screenshot(str(shot))  # the page at its first figure
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}; browser checks took {time.monotonic() - started:.1f} s")


PAGES = ROOT / ".github" / "workflows" / "pages.yml"


def test_pages_workflow_matches_githubs_schema_offline():
    tool = shutil.which("check-jsonschema")
    assert tool, "check-jsonschema is missing: pip install -e '.[dev]'"
    command = [tool, "--builtin-schema", "vendor.github-workflows", str(PAGES)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pages_workflow_builds_with_course_site_and_deploys_what_it_built():
    workflow = yaml.safe_load(PAGES.read_text(encoding="utf-8"))
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads on: as True
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert any('-e ".[dev]"' in run for run in runs), "installs the site tools (dev extra)"
    (site_run,) = [run for run in runs if run.startswith("course site")]
    upload = next(s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert site_run.split("--out")[1].strip() == upload["with"]["path"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any("actions/deploy-pages" in s.get("uses", "") for s in deploy["steps"])
