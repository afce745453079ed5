"""The output folder of a run: one run at a time (a lock file beside it), checked before any work (a file in its
path, a read-only disk, no permission), and a full disk told apart from other failures."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

from hubembed.errors import HubembedError, NoSpaceError, OutputExistsError, causes


def check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"output {out} is a file; choose another --output")
    if out.is_dir() and os.path.ismount(out):  # the finished run is renamed into place, which a mount point refuses
        raise OutputExistsError(f"output {out} is a mount point; choose a folder inside it, e.g. --output {out / 'run'}")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"output {out} already holds a run; pass --overwrite to replace it or choose another --output")



# --- one run per output folder --------------------------------------------------------------------------------

def lock_file(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


@contextlib.contextmanager
def output_lock(out: Path, log: Callable[[str], None]) -> Iterator[int]:
    """Hold the output folder's lock for the block: an flock on `.NAME.lock` beside it, with this pid written in it.
    The kernel drops an flock when its process dies (even on kill -9), so a lock left by a dead run is stale and
    taken over. Yields the lock's file descriptor (a launcher hands it to the processes it starts)."""
    fd = _take_lock(out, log)
    try:
        yield fd
    finally:
        with contextlib.suppress(OSError):
            lock_file(out).unlink()
        os.close(fd)


def _take_lock(out: Path, log: Callable[[str], None]) -> int:
    path, fd = lock_file(out), -1
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            locked = _flock(fd)
            if locked is None:  # a run goes on unguarded rather than not at all
                log(f"The file system of {out} cannot lock files: a second run into it will not be refused")
                return fd
            if not locked:
                pid = _pid_in(fd)
                os.close(fd)
                raise in_use(out, pid)
            if _still_there(path, fd):
                break
            os.close(fd)  # the run that held it removed the file meanwhile: lock the new one
            fd = -1
        stale = _pid_in(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as err:
        if fd >= 0:
            os.close(fd)
        raise unwritable(out, err) from None
    if stale is not None:
        log(f"The lock of {out} was held by pid {stale}, which is no longer running: taking it over")
    return fd


def _still_there(path: Path, fd: int) -> bool:
    """Whether `path` is still the file `fd` has open (the holder removes it when its run ends)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


# what flock raises on file systems that have no locks (Lustre mounted noflock, some NFS and FUSE mounts)
NO_LOCKS = (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.EBADF)


def _flock(fd: int) -> bool | None:
    """True: locked; False: another process holds it; None: this file system cannot lock."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as err:
        if err.errno in NO_LOCKS:
            return None
        raise
    return True


def _pid_in(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def running_pid(out: Path) -> int | None:
    """The pid of the run that holds the lock of `out` now, or None (no lock, or a stale one)."""
    path = lock_file(out)
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        locked = _flock(fd)
        return None if locked in (True, None) else _pid_in(fd) or -1  # held but no pid written yet: still a live run
    finally:
        os.close(fd)  # closing drops the probe's own lock


def in_use(out: Path, pid: int | None) -> OutputExistsError:
    who = f" (pid {pid})" if pid and pid > 0 else ""
    return OutputExistsError(f"output {out} is in use by a running `hubembed train`{who}; wait for it to end or stop it, "
                             f"or choose another --output")


def unwritable(out: Path, err: OSError) -> HubembedError:
    """One line for an output folder that cannot be made: a file in its path, a read-only disk, no permission."""
    file = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
    where = existing(out.parent)
    if file is not None:
        why = f"{file} is a file, not a folder"
    elif err.errno == errno.EROFS:
        why = f"{where} is on a read-only file system"
    elif err.errno in (errno.EACCES, errno.EPERM):
        why = f"no permission to write in {where}"
    elif err.errno == errno.ENOSPC:
        return NoSpaceError(f"no space left on {mount_point(where)}: free space or choose another --output")
    else:
        why = err.strerror or type(err).__name__
    return OutputExistsError(f"cannot write --output {out}: {why}; choose another --output")


# --- a full disk ----------------------------------------------------------------------------------------------

def no_space_on(err: BaseException, out: Path) -> Path | None:
    """The mount point of the file system that filled up, if that is why `err` happened (in its chain, or, for the
    write errors of torch's serializer, which do not say why, an output file system left without space)."""
    for cause in causes(err):
        if (isinstance(cause, OSError) and cause.errno == errno.ENOSPC) or "No space left on device" in str(cause) \
                or "(os error 28)" in str(cause):
            filename = getattr(cause, "filename", None)
            return mount_point(Path(filename) if isinstance(filename, str) else out)
    if isinstance(err, (OSError, RuntimeError)) and shutil.disk_usage(existing(out)).free < 1 << 20:
        return mount_point(out)
    return None


def existing(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def mount_point(path: Path) -> Path:
    path = existing(path)
    while not os.path.ismount(path):
        path = path.parent
    return path
