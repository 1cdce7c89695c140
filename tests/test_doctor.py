"""The environment doctor: every problem is found, comes with its fix, and nothing hangs."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
import urllib.request

import pytest

from course_lib.data import registry
from course_lib.data.registry import DataSet
from course_lib.machinery import doctor, paths
from course_lib.machinery.cli import main

REAL_URLOPEN = urllib.request.urlopen


def by_topic(findings, topic):
    (found,) = [f for f in findings if f.topic == topic]
    return found


@pytest.fixture(autouse=True)
def environment(monkeypatch, tmp_path):
    """A known environment: ci profile, outputs in tmp_path, no network allowed."""
    monkeypatch.setenv("COURSE_PROFILE", "ci")
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "outputs"))
    for name in ("COURSE_DEVICE", "COURSE_OFFLINE", "HF_HUB_OFFLINE", "COURSE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("the doctor made a real network request")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


@pytest.fixture
def toy_data(monkeypatch, tmp_path):
    """A registry with one tiny data set, ``toy/a.txt``, whose checksum we know."""
    text = b"hello\n"
    spec = DataSet(
        name="toy",
        url="https://example.invalid/toy/{file}",
        files={"a.txt": hashlib.sha256(text).hexdigest()},
    )
    monkeypatch.setattr(registry, "REGISTRY", {"toy": spec})
    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path / "cache")
    registry._verified.clear()
    return text


def test_data_found_in_course_data_dir_and_in_the_cache(toy_data, tmp_path, monkeypatch):
    (tmp_path / "shared" / "toy").mkdir(parents=True)
    (tmp_path / "shared" / "toy" / "a.txt").write_bytes(toy_data)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "shared"))
    found = by_topic(doctor.check_data(), "data: toy")
    assert (found.status, found.detail) == ("ok", "on disk (COURSE_DATA_DIR)")
    monkeypatch.delenv("COURSE_DATA_DIR")
    (tmp_path / "cache" / "toy").mkdir(parents=True)
    (tmp_path / "cache" / "toy" / "a.txt").write_bytes(toy_data)
    assert by_topic(doctor.check_data(), "data: toy").detail == "on disk (cache)"


def test_corrupt_data_is_a_problem_with_its_fix(toy_data, tmp_path):
    (tmp_path / "cache" / "toy").mkdir(parents=True)
    (tmp_path / "cache" / "toy" / "a.txt").write_bytes(b"something else\n")
    found = by_topic(doctor.check_data(), "data: toy")
    assert found.status == "PROBLEM" and "SHA-256" in found.detail
    assert "Delete it" in found.fix


def test_missing_data_offline_is_a_problem_and_says_how_to_fix(toy_data, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    found = by_topic(doctor.check_data(), "data: toy")
    assert found.status == "PROBLEM" and "COURSE_OFFLINE=1" in found.detail
    assert "COURSE_DATA_DIR" in found.fix and f"{tmp_path / 'cache' / 'toy'}/" in found.fix


def test_missing_data_online_depends_on_its_origin(toy_data, monkeypatch):
    monkeypatch.setattr(doctor, "probe", lambda urls, timeout: dict.fromkeys(urls))
    found = by_topic(doctor.check_data(), "data: toy")
    assert found.status == "ok" and "downloads on first use" in found.detail
    down = {"https://example.invalid/toy/": "is unreachable (no route)"}
    monkeypatch.setattr(doctor, "probe", lambda urls, timeout: down)
    found = by_topic(doctor.check_data(), "data: toy")
    assert found.status == "PROBLEM" and "is unreachable (no route)" in found.detail
    assert "download https://example.invalid/toy/" in found.fix


def test_missing_data_without_network_checks_is_only_a_note(toy_data):
    found = by_topic(doctor.check_data(network=False), "data: toy")
    assert found.status == "note"


def test_hub_offline_makes_no_request_and_lists_the_cache(monkeypatch, tmp_path):
    from huggingface_hub import constants

    (tmp_path / "hub" / "models--org--tiny-model").mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(doctor, "probe", pytest.fail)
    (found,) = doctor.check_hub()
    assert found.status == "ok" and "offline" in found.detail
    assert "1 model(s) cached" in found.detail and "org/tiny-model" in found.detail


def test_course_offline_without_hub_offline_is_a_problem(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(doctor, "probe", pytest.fail)
    (found,) = doctor.check_hub()
    assert found.status == "PROBLEM" and "HF_HUB_OFFLINE=1" in found.fix


def test_hub_reachable_or_not(monkeypatch):
    monkeypatch.setattr(doctor, "probe", lambda urls, timeout: dict.fromkeys(urls))
    (found,) = doctor.check_hub()
    assert found.status == "ok" and found.detail.startswith("reachable")
    monkeypatch.setattr(
        doctor, "probe", lambda urls, timeout: dict.fromkeys(urls, "did not answer within 3 s")
    )
    (found,) = doctor.check_hub()
    assert found.status == "PROBLEM" and "did not answer" in found.detail
    assert "HF_HUB_OFFLINE=1" in found.fix


def test_probe_gives_up_on_time_even_when_a_request_hangs(monkeypatch):
    def hang(request, timeout):  # a stuck DNS lookup ignores urlopen's timeout
        time.sleep(30)

    monkeypatch.setattr(urllib.request, "urlopen", hang)
    start = time.monotonic()
    answers = doctor.probe(["https://a.invalid/", "https://b.invalid/"], timeout=0.3)
    assert time.monotonic() - start < 2
    assert set(answers.values()) == {"did not answer within 0.3 s"}


def test_probe_counts_any_http_answer_as_reachable(monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", REAL_URLOPEN)  # on a local server only
    monkeypatch.setenv("NO_PROXY", "*")  # even where a proxy is configured
    monkeypatch.setenv("no_proxy", "*")

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        closed = "http://127.0.0.1:9/"  # the discard port: nothing listens there
        answers = doctor.probe([url, closed], timeout=2)
    finally:
        server.shutdown()
    assert answers[url] is None
    assert answers[closed].startswith("is unreachable")


def test_missing_or_old_packages_are_problems(monkeypatch):
    real = doctor._version
    fake = {"peft": None, "transformers": "4.46.0"}
    monkeypatch.setattr(doctor, "_version", lambda name: fake.get(name, real(name)))
    monkeypatch.setattr(doctor, "_course_requirements", lambda: {"transformers": ">=5.0"})
    findings = doctor.check_versions()
    peft, transformers = by_topic(findings, "peft"), by_topic(findings, "transformers")
    assert peft.status == "PROBLEM" and 'pip install -e ".[dev]"' in peft.fix
    assert transformers.status == "PROBLEM" and "transformers>=5.0" in transformers.detail
    assert by_topic(findings, "torch").status == "ok"


def test_requirements_come_from_the_installed_course():
    wanted = doctor._course_requirements()
    assert "torch" in wanted and "transformers" in wanted
    assert "pytest" not in wanted  # extras are not checked


@pytest.mark.parametrize(
    ("variable", "value", "topic", "hint"),
    [
        ("COURSE_PROFILE", "fast", "profile", "one of ci, cpu, gpu"),
        ("COURSE_DEVICE", "quantum", "device", "COURSE_DEVICE to cpu"),
        ("COURSE_DEVICE", "cuda", "device", "COURSE_DEVICE to cpu"),
        ("COURSE_THREADS", "abc", "threads", "use a whole number"),
    ],
)
def test_bad_settings_are_problems(monkeypatch, variable, value, topic, hint):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setenv(variable, value)
    found = by_topic(doctor.check_runtime(), topic)
    assert found.status == "PROBLEM" and hint in found.fix


def test_gpu_profile_without_gpu_is_a_problem_and_cpu_a_note(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setenv("COURSE_PROFILE", "gpu")
    assert by_topic(doctor.check_runtime(), "device").status == "PROBLEM"
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    device = by_topic(doctor.check_runtime(), "device")
    assert device.status == "note" and "modules 4, 5 and 6" in device.fix


def test_a_data_dir_that_does_not_exist_is_a_problem(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "typo"))
    found = by_topic(doctor.check_runtime(), "data folder")
    assert found.status == "PROBLEM" and "COURSE_DATA_DIR" in found.fix


def test_unwritable_outputs_are_a_problem(monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path / "a-file"))
    found = by_topic(doctor.check_runtime(), "outputs")
    assert found.status == "PROBLEM" and "COURSE_OUTPUT_DIR" in found.fix


def test_report_format():
    findings = [
        doctor.Finding("torch", "ok", "2.13.0"),
        doctor.Finding("data: names", "PROBLEM", "missing " * 30, "set COURSE_DATA_DIR"),
        doctor.Finding("device", "note", "cpu", "use a GPU for modules 4 and 5"),
    ]
    report = doctor.format_report(findings, width=80)
    lines = report.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[1] == "  ok      torch       2.13.0"
    assert "                      fix: set COURSE_DATA_DIR" in lines
    assert "                      tip: use a GPU for modules 4 and 5" in lines
    assert lines[-1] == "1 problem(s): see each fix above"
    assert doctor.format_report(findings[:1]).endswith("no problems found")


def test_course_doctor_command(toy_data, tmp_path, monkeypatch, capsys):
    (tmp_path / "cache" / "toy").mkdir(parents=True)
    (tmp_path / "cache" / "toy" / "a.txt").write_bytes(toy_data)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    start = time.monotonic()
    assert main(["doctor"]) == 0
    assert time.monotonic() - start < 10
    out = capsys.readouterr().out
    for topic in ("python", "torch", "transformers", "course", "profile", "device", "data: toy"):
        assert f" {topic} " in out
    assert out.rstrip().endswith("no problems found")
    (tmp_path / "cache" / "toy" / "a.txt").unlink()
    assert main(["doctor", "--offline"]) == 1  # offline and the data set is missing
    assert "1 problem(s)" in capsys.readouterr().out


def test_a_data_dir_that_is_a_file_is_a_problem_and_data_is_not_misreported(monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "a-file"))
    found = by_topic(doctor.check_runtime(), "data folder")
    assert found.status == "PROBLEM" and "is a file" in found.detail
    assert [f.topic for f in doctor.check_data(network=False)] == ["data"]


def test_sentencepiece_is_reported(monkeypatch):
    real = doctor._version
    assert doctor.check_sentencepiece().status == "ok"  # installed here
    monkeypatch.setattr(doctor, "_version", lambda n: None if n == "sentencepiece" else real(n))
    found = by_topic(doctor.check_versions(), "sentencepiece")
    assert found.status == "PROBLEM" and "Marian" in found.detail
    assert "pip install sentencepiece" in found.fix


def test_hub_cache_lists_the_course_models_it_holds(monkeypatch, tmp_path):
    from huggingface_hub import constants

    wanted = doctor.course_hub_models()
    assert {"gpt2", "t5-small", "Helsinki-NLP/opus-mt-de-en"} <= set(wanted)
    hub = tmp_path / "hub"
    (hub / "models--gpt2" / "snapshots" / "abc").mkdir(parents=True)
    (hub / "models--gpt2" / "snapshots" / "abc" / "config.json").write_text("{}")
    (hub / "models--t5-small" / "snapshots").mkdir(parents=True)  # a download cut short
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    (found,) = doctor.check_hub_cache()
    assert found.status == "ok" and f"1 of the course's {len(wanted)} Hub models cached (gpt2)" in (
        found.detail
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (found,) = doctor.check_hub_cache()
    assert found.status == "note" and "t5-small" in found.detail and "stand-ins" in found.detail
    assert "gpt2," not in found.detail.split("offline")[1]
    assert "Hub cache" in [f.topic for f in doctor.run_checks(network=False)]


def test_an_unwritable_hub_cache_is_a_problem_online(monkeypatch, tmp_path):
    from huggingface_hub import constants

    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(doctor.os, "access", lambda path, mode: False)
    (found,) = doctor.check_hub_cache()
    assert found.status == "PROBLEM" and "HF_HOME" in found.fix
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert doctor.check_hub_cache()[0].status == "ok"


def test_every_bad_setting_is_reported_at_once(monkeypatch, tmp_path):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    (tmp_path / "a-file").write_text("")
    for name, value in {
        "COURSE_PROFILE": "bogus",
        "COURSE_THREADS": "abc",
        "COURSE_DEVICE": "cuda",
        "COURSE_DATA_DIR": str(tmp_path / "typo"),
        "COURSE_OUTPUT_DIR": str(tmp_path / "a-file"),
    }.items():
        monkeypatch.setenv(name, value)
    findings = doctor.check_runtime()
    problems = [f.topic for f in findings if f.status == "PROBLEM"]
    assert problems == ["profile", "threads", "device", "data folder", "outputs"]
