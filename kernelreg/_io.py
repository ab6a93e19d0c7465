"""Atomic file writes shared by feature export and the benchmark runner (a leaf module).

A write goes to a temporary file beside the target, named ``.<name>.kernelreg-tmp-<pid>-<random>``,
which is fsynced and renamed over the target only when complete. The target must be a regular file
or absent: a symlink, FIFO, device node, socket or directory there is refused before anything is
written (renaming over it would silently replace it). The temporary file is removed when the write
raises (``KeyboardInterrupt`` included), when SIGTERM arrives during the write, and — for writers
killed outright (SIGKILL, power loss) — by the next write to the same target, which deletes
temporaries whose process is gone. The file is created with mode 0o666 and the process umask
applied by the kernel, like any ``open(path, "w")``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "temp_prefix", "remove_stale_temps"]

_TAG = ".kernelreg-tmp-"
_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def temp_prefix(path: str | os.PathLike) -> str:
    """Name prefix of the temporary files written for ``path`` (long names are hashed to stay under NAME_MAX)."""
    name = Path(path).name
    if len(os.fsencode(name)) > 180:
        name = hashlib.sha256(os.fsencode(name)).hexdigest()[:32]
    return f".{name}{_TAG}"


def _check_target(path: Path) -> None:
    """Refuse a target that is anything but a regular file or nothing: renaming over it would replace it."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    kind = next((text for test, text in _KINDS if test(mode)), f"a special file (mode {stat.filemode(mode)})")
    raise FileExistsError(
        errno.EEXIST,
        f"refusing to write {str(path)!r}: it is {kind}, and kernelreg writes by renaming a new regular file over "
        "its target, which would replace it. Remove it or choose another path",
        str(path),
    )


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (unknown counts as alive: its files are kept)."""
    if pid == os.getpid():
        return True
    if os.name != "posix" or pid <= 0:
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists under another user
        return True
    return True


def remove_stale_temps(path: str | os.PathLike) -> list[str]:
    """Delete temporaries of earlier writes to ``path`` whose writer process is gone; return their names."""
    path = Path(path)
    prefix = temp_prefix(path)
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(entry.name)
        except FileNotFoundError:  # another writer cleaned it first
            continue
    return removed


def _create_temp(path: Path) -> tuple[int, str]:
    """Create a fresh temporary file beside ``path`` (mode 0o666 minus the umask, like a plain open)."""
    prefix = temp_prefix(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(path.parent, f"{prefix}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # a name collision: draw again
            continue


def _unlink_quietly(tmp: str) -> None:
    """Remove a temporary file if it is still there."""
    with suppress(FileNotFoundError):
        os.unlink(tmp)


@contextmanager
def _sigterm_removes(tmp: str) -> Iterator[None]:
    """While the block runs, SIGTERM first removes ``tmp``, then does what it would have done without us.

    Installed only from the main thread (Python allows no other) and only over the default action
    or a Python handler; the previous handler is restored on exit. With the default action the
    signal is re-delivered, so the process still dies of SIGTERM. A Python handler is called as
    is: if it raises, the write unwinds and ``atomic_open`` removes the file; if it returns, the
    write goes on.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL and not callable(previous):
        yield  # ignored (SIG_IGN) or set outside Python: leave it as it is
        return

    def on_sigterm(signum, frame):
        if callable(previous) and not getattr(previous, "_kernelreg_removes_temp", False):
            previous(signum, frame)
            return
        _unlink_quietly(tmp)
        signal.signal(signum, previous)
        if callable(previous):  # an outer atomic write: it removes its own file and re-delivers
            previous(signum, frame)
        else:
            os.kill(os.getpid(), signum)

    on_sigterm._kernelreg_removes_temp = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:  # leave a handler set meanwhile by the caller's code
            signal.signal(signal.SIGTERM, previous)


@contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open a binary temporary file beside ``path``; on success fsync and ``os.replace`` it into place.

    A crash or exception midway leaves either the old file or none at ``path``, never half a
    file, and no temporary file behind (see the module docstring for SIGTERM and SIGKILL).

    Raises
    ------
    FileExistsError
        ``path`` is a symlink, directory, FIFO, device node or socket (checked before writing and
        again just before the rename).
    """
    path = Path(path)
    _check_target(path)
    remove_stale_temps(path)
    fd, tmp = _create_temp(path)
    try:
        with _sigterm_removes(tmp):
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            _check_target(path)  # something may have appeared there while we wrote
            os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
