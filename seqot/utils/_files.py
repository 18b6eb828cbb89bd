"""Writes that land whole or not at all: one file, or one folder replaced as a whole.

Staged names are hidden siblings of the target (same folder, so :func:`os.replace` and
:func:`os.rename` are atomic renames) with the process id and a random token, so concurrent
writers never share one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

__all__ = ["make_parents", "remove_empty", "replace_folder", "write_text_atomically"]


def _token():
    return f"{os.getpid()}.{uuid.uuid4().hex[:12]}"


def _sibling(path, token, suffix):
    return path.parent / f".{path.name}.{token}.{suffix}"


def make_parents(path):
    """Create the missing folders above ``path``; return them, nearest first."""
    made = []
    for parent in path.parents:
        if parent.exists():
            break
        made.append(parent)
    for folder in reversed(made):
        folder.mkdir(exist_ok=True)
    return made


def remove_empty(folders):
    """Remove the folders of :func:`make_parents`, nearest first, while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def write_text_atomically(path, text):
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path``: the whole file or, on any
    failure (interrupt included), no change at all.

    Parameters
    ----------
    path : pathlib.Path
        The file; its folder must exist. An existing file is replaced.
    text : str
        The new contents.
    """
    # A unique hidden name in the same folder (so os.replace is an atomic rename);
    # os.open with mode 0o666 honours the umask, unlike tempfile.mkstemp's 0o600.
    tmp = _sibling(path, _token(), "tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_folder(out, fill):
    """Fill a new folder with ``fill(folder)`` and put it in place of ``out`` as a whole.

    The folder is staged next to ``out`` (same parent, so the renames are atomic); an
    existing ``out`` is renamed to a backup name, the staged folder renamed into place, and
    the backup removed. Any failure up to that removal (an interrupt included) leaves ``out``
    as it was (or absent, as it was) and no staged or backup folder behind.

    Parameters
    ----------
    out : pathlib.Path
        The folder to create or replace.
    fill : callable
        ``fill(folder)`` writes the new contents into the empty staged folder.
    """
    out = Path(os.path.realpath(out))  # a link to a folder: replace the folder, keep the link
    made = make_parents(out)
    token = _token()
    staging, backup = _sibling(out, token, "tmp"), _sibling(out, token, "old")
    fresh = not out.exists()
    try:
        os.mkdir(staging)  # mode 0o777 & ~umask, as any new folder (not mkdtemp's 0o700)
        fill(staging)
        if not fresh:
            os.rename(out, backup)
        os.rename(staging, out)
    except BaseException:
        # an interrupt can land between any two steps: undo those that happened
        if not staging.exists() and out.exists() and (fresh or backup.exists()):
            os.rename(out, staging)  # the new folder was already in place
        if backup.exists():
            os.rename(backup, out)
        shutil.rmtree(staging, ignore_errors=True)
        remove_empty(made)
        raise
    shutil.rmtree(backup, ignore_errors=True)
