"""Writing files so that a crash never leaves a half-written one behind."""
from __future__ import annotations

import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def atomic_file(path: str) -> Iterator[str]:
    """Yields a temporary path beside ``path``; on success it replaces ``path``.

    The parent directory is created if needed. If the body raises, the
    temporary file is removed and ``path`` is left as it was.
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="tmp-", suffix=".part")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
