"""A lock file one process holds: ``pid host`` in a file only one process can create.

The training engine locks its output folder with it (``checkpoints.FolderLock``) and
``course run`` the executed copy it writes (``runner``). A lock whose process is gone is
stale and taken over, and so is one written on another machine: a recycled Colab runtime
leaves its locks on Drive, and its processes are gone with it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


class LockHeld(RuntimeError):
    """A live process on this machine holds the lock (``pid``; None if it never let go)."""

    def __init__(self, path: Path, pid: int | None):
        self.path, self.pid = path, pid
        super().__init__(f"{path} is held by process {pid if pid is not None else '?'}")


def process_alive(pid: int) -> bool:
    """True while process ``pid`` runs on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ProcessLock:
    """``acquire()`` creates ``path`` holding this process's ``pid host``; ``release()``
    deletes it. ``acquire`` raises ``LockHeld`` while a live process on this machine holds
    it, takes over a stale lock (and returns its holder, ``(pid, host)``, to report), and lets
    ``OSError`` through (a folder that cannot be written)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.owner = f"{os.getpid()} {socket.gethostname()}"

    def holder(self) -> tuple[int | None, str | None]:
        """``(pid, host)`` written in the lock; ``(None, None)`` if unreadable (cut short)."""
        try:
            pid, host = self.path.read_text().split()
            return int(pid), host
        except (OSError, ValueError):
            return None, None

    def acquire(self) -> tuple[int | None, str | None] | None:
        stale = None
        for _ in range(3):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid, host = self.holder()
                if pid is not None and host == socket.gethostname() and process_alive(pid):
                    raise LockHeld(self.path, pid) from None
                stale = (pid, host)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(descriptor, "w") as file:
                file.write(self.owner + "\n")
            return stale
        raise LockHeld(self.path, None)  # others keep taking it between our tries

    def release(self) -> None:
        """Delete the lock if this process still holds it."""
        try:
            if self.path.read_text().strip() == self.owner:
                self.path.unlink()
        except OSError:
            pass  # already gone (the folder deleted meanwhile)
