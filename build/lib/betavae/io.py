"""Atomic file output: a file appears under its final name only once it is complete.

A write that fails (a full disk, no permission) raises WriteError naming the file: the file under its
final name keeps its old content, and no temporary file is left beside it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from betavae.errors import WriteError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it into place if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise WriteError(_cannot_write(path, error)) from None
    try:
        os.close(fd)
        os.chmod(temporary, 0o644)  # mkstemp creates 0600
        yield Path(temporary)
        os.replace(temporary, path)
    except OSError as error:
        raise WriteError(_cannot_write(path, error)) from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _cannot_write(path: Path, error: OSError) -> str:
    kept = "its previous content is kept" if path.exists() else "nothing was written"
    return f"cannot write {path}: {error.strerror or error}; {kept}"


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces `path` only when the block succeeds."""
    with atomic_path(path) as temporary, open(temporary, mode) as f:
        yield f


def save_torch(obj: Any, path: str | Path) -> None:
    """torch.save, atomically; through a buffer, since saving to a file embeds its temporary name."""
    import torch  # here, not above: the params stage writes through this module and needs no torch
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_write(path, "wb") as f:
        f.write(buffer.getbuffer())


def write_json(path: str | Path, data: Any) -> None:
    with atomic_write(path) as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
