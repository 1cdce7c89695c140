"""The one lock file of the course (machinery/locks.py), used by training and course run."""

import os
import socket
import subprocess
import sys

import pytest

from course_lib.machinery.locks import LockHeld, ProcessLock, process_alive


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_live_holder_refuses_and_release_frees(tmp_path):
    first = ProcessLock(tmp_path / "x.lock")
    assert first.acquire() is None
    assert first.holder() == (os.getpid(), socket.gethostname())
    with pytest.raises(LockHeld) as held:
        ProcessLock(tmp_path / "x.lock").acquire()
    assert held.value.pid == os.getpid()
    first.release()
    assert not (tmp_path / "x.lock").exists()


@pytest.mark.parametrize(
    "content",
    [f"{dead_pid()} {socket.gethostname()}", f"{os.getpid()} another-machine", "garbage", ""],
)
def test_stale_locks_are_taken_over_and_reported(tmp_path, content):
    """A dead process, a recycled runtime's lock, a lock cut short by a crash."""
    (tmp_path / "x.lock").write_text(content)
    lock = ProcessLock(tmp_path / "x.lock")
    stale = lock.acquire()
    assert stale is not None and lock.holder() == (os.getpid(), socket.gethostname())
    lock.release()


def test_release_never_deletes_another_holders_lock(tmp_path):
    lock = ProcessLock(tmp_path / "x.lock")
    lock.acquire()
    (tmp_path / "x.lock").write_text(f"{os.getpid() + 1} {socket.gethostname()}")
    lock.release()
    assert (tmp_path / "x.lock").exists()


def test_process_alive():
    assert process_alive(os.getpid()) and not process_alive(dead_pid())
