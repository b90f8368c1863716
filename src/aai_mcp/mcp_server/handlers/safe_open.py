"""Open a caller's path beneath an upload root without following any link, and judge the opened file.

Blocking: run it in a worker thread. Checking a name and then opening it lets a directory be swapped
for a symlink in between; here the open itself refuses links (openat2 RESOLVE_BENEATH and
RESOLVE_NO_SYMLINKS where the kernel has them, else a walk of O_NOFOLLOW opens from the root's
descriptor), and what is judged afterwards is the descriptor, never the name again.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from aai_mcp.caller_input import ToolInputError, quoted

# A path is refused before it touches the filesystem past these: Linux's PATH_MAX, and a depth no
# real recording needs (a million-component path once held the event loop for 93 s).
MAX_PATH_CHARS = 4096
MAX_PATH_COMPONENTS = 128

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
OPENAT2_SYSCALL = {"x86_64": 437, "aarch64": 437}
# Answers meaning "no usable openat2 here" (old kernel, a seccomp filter, an unknown flag): walk instead.
NO_OPENAT2 = frozenset({errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG})
# Refusals that mean "a link or an escape was in the way" rather than "no such file".
ESCAPES = frozenset({errno.ELOOP, errno.EXDEV})

O_PATH = getattr(os, "O_PATH", os.O_RDONLY)
DIR_FLAGS = O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# The name is looked up with O_PATH: nothing is opened, so a device's open never acts (a watchdog arms,
# a serial line raises DTR, a tape rewinds) before fstat has refused it. Only a regular file is then
# opened for reading, through the descriptor (/proc/self/fd), never by its name again.
LOOKUP_FLAGS = O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
# Where that is impossible (no O_PATH, no /proc): open for reading at once; O_NONBLOCK so a FIFO does
# not wait for a writer.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


@dataclass(frozen=True)
class OpenedFile:
    handle: BinaryIO
    size: int


def open_beneath_roots(raw: str, roots: Sequence[Path]) -> OpenedFile:
    """The regular file `raw` names, opened read-only, if it lies beneath one of `roots`."""
    parts = path_components(raw)
    for root in roots:
        for form in _root_forms(root):
            if parts[: len(form)] == form:
                return _open_in(form, parts[len(form) :], raw)
    listed = ", ".join(str(root) for root in roots)
    raise ToolInputError(f"Refused: {quoted(raw)} is outside the allowed upload roots ({listed}).")


def path_components(raw: str) -> list[str]:
    """The absolute path's components, bounded, with `..` refused and `.` dropped (never resolved)."""
    if len(raw) > MAX_PATH_CHARS:
        raise ToolInputError(
            f"Refused: the path is {len(raw)} characters long; the limit is {MAX_PATH_CHARS}."
        )
    if "\x00" in raw:
        raise ToolInputError("Refused: the path contains a NUL character.")
    try:
        os.fsencode(raw)  # a lone surrogate from JSON has no bytes: every open would raise a bug
    except UnicodeEncodeError:
        raise ToolInputError("Refused: the path is not valid text for a file name.") from None
    if raw.count("/") > MAX_PATH_COMPONENTS:
        raise ToolInputError(f"Refused: the path has more than {MAX_PATH_COMPONENTS} components.")
    full = os.path.expanduser(raw)
    if not os.path.isabs(full):
        full = os.path.join(os.getcwd(), full)
    parts = [part for part in full.split("/") if part not in ("", ".")]
    if ".." in parts or len(parts) > MAX_PATH_COMPONENTS:
        # `..` is never resolved: after a symlink it would lead somewhere the text does not show.
        raise ToolInputError(
            f"Refused: {quoted(raw)} is outside the allowed upload roots (paths with '..' are not followed)."
        )
    return parts


def _root_forms(root: Path) -> list[list[str]]:
    """A root as configured and as the filesystem resolves it (the operator's links are trusted)."""
    forms = []
    for text in (os.path.abspath(os.path.expanduser(root)), os.path.realpath(os.path.expanduser(root))):
        form = [part for part in text.split("/") if part]
        if form not in forms:
            forms.append(form)
    return forms


def _open_in(root: list[str], rest: list[str], raw: str) -> OpenedFile:
    missing = f"No readable file at {quoted(raw)}."
    if not rest:
        raise ToolInputError(missing)
    try:
        root_fd = os.open("/" + "/".join(root), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        raise ToolInputError(missing) from None
    try:
        fd = _open_beneath(root_fd, rest)
    except OSError as exc:
        if exc.errno in ESCAPES:
            raise ToolInputError(
                f"Refused: {quoted(raw)} is outside the allowed upload roots "
                "(symbolic links beneath a root are not followed)."
            ) from None
        raise ToolInputError(missing) from None
    finally:
        os.close(root_fd)
    return _checked(fd, missing)


def _checked(fd: int, missing: str) -> OpenedFile:
    """Judge the descriptor, not the name: only a regular file is read."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ToolInputError(missing)
    return OpenedFile(handle=os.fdopen(fd, "rb", buffering=0), size=info.st_size)


def _open_beneath(root_fd: int, rest: list[str]) -> int:
    flags = LOOKUP_FLAGS if _reopens() else FILE_FLAGS
    fd = openat2_beneath(root_fd, "/".join(rest), flags)
    return _readable(fd if fd is not None else walk_beneath(root_fd, rest, flags))


def _readable(fd: int) -> int:
    """A blocking read descriptor for the regular file `fd` holds; anything else is refused unopened."""
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISLNK(mode):  # O_PATH|O_NOFOLLOW hands back a final symlink itself
            raise OSError(errno.ELOOP, "a symbolic link")
        if not stat.S_ISREG(mode):
            raise OSError(errno.ENOENT, "not a regular file")
        if _reopens():
            return os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
        os.set_blocking(fd, True)
        readable, fd = fd, -1  # already open for reading: handed over, not closed
        return readable
    finally:
        if fd >= 0:
            os.close(fd)


@functools.cache
def _reopens() -> bool:
    """Whether an O_PATH descriptor can be opened for reading here (Linux with /proc mounted)."""
    return O_PATH != os.O_RDONLY and os.path.isdir("/proc/self/fd")


def walk_beneath(root_fd: int, rest: list[str], flags: int) -> int:
    """Open `rest` one component at a time from `root_fd`, refusing a symlink at every step."""
    current = root_fd
    try:
        for name in rest[:-1]:
            step = _open_dir(name, current)
            if current != root_fd:
                os.close(current)
            current = step
        return os.open(rest[-1], flags, dir_fd=current)
    finally:
        if current != root_fd:
            os.close(current)


def _open_dir(name: str, dir_fd: int) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except NotADirectoryError:
        # O_PATH|O_NOFOLLOW says ENOTDIR for a link; report it as the link it is (ELOOP).
        if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise OSError(errno.ELOOP, "a symbolic link") from None
        raise


def openat2_beneath(dir_fd: int, relative: str, flags: int) -> int | None:
    """openat2(2) confined beneath `dir_fd` with no symlinks at all; None where it is unavailable."""
    syscall = _syscall()
    number = OPENAT2_SYSCALL.get(platform.machine())
    if syscall is None or number is None:
        return None
    how = _OpenHow(flags, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    fd = syscall(
        ctypes.c_long(number),
        ctypes.c_int(dir_fd),
        ctypes.c_char_p(os.fsencode(relative)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd >= 0:
        return int(fd)
    code = ctypes.get_errno()
    if code in NO_OPENAT2:
        return None
    raise OSError(code, os.strerror(code))


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


@functools.cache
def _syscall() -> Any:
    if platform.system() != "Linux":
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_long
    return function
