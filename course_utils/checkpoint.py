"""Saving and loading: atomic writes, RNG state, clear errors on mismatch."""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["atomic_save", "get_rng_state", "load_checkpoint", "load_state_dict_checked", "new_file_mode",
           "plain_numbers", "replacing", "set_rng_state"]


STALE_SECONDS = 60  # a temporary file this old is not being written any more


def plain_numbers(obj):
    """`obj` with every NumPy number replaced by the Python number it holds, in nested dicts, lists and tuples.

    A learning rate from `np.logspace` or a schedule written with `np.exp` is a NumPy number; `torch.save`
    writes it, but `load_checkpoint` (`weights_only=True`) refuses to read it back.
    """
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {key: plain_numbers(value) for key, value in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
        return type(obj)(*(plain_numbers(value) for value in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain_numbers(value) for value in obj)
    return obj


def new_file_mode() -> int:
    """The permissions a newly created file gets here (0o666 less the umask): what `open` would give it."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def replacing(path: str | os.PathLike, suffix: str = ".part") -> Iterator[Path]:
    """A temporary file next to `path`, for writing `path` safely; yields its name.

    When the block ends without an error, the temporary file replaces `path` in one
    step (readers see the old file or the new one, never half of it) and gets the
    permissions of any new file (a class's shared folder stays readable). When the
    block raises, the temporary file is removed and `path` is untouched. Its name is
    unique (`.<name>.<random><suffix>`), so processes writing the same file at the
    same time do not overwrite each other's halves.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, new_file_mode())  # mkstemp makes it private (0o600)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_save(obj, path: str | os.PathLike) -> Path:
    """`torch.save` that never leaves a half-written file behind.

    The object is written to a temporary file in the same folder, flushed to
    disk, then renamed over `path` in one step; if anything fails, the old
    file (if any) is untouched. Temporary files left by a killed write are removed
    by the next save to the same path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a write that was killed (kill -9, power)
        if time.time() - stale.stat().st_mtime > STALE_SECONDS:
            stale.unlink(missing_ok=True)
    with replacing(path, suffix=".tmp") as temporary, open(temporary, "wb") as handle:
        torch.save(obj, handle)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def load_checkpoint(path: str | os.PathLike, map_location=None) -> dict:
    """Load a file written by `atomic_save` safely (`weights_only=True`), after checking its integrity.

    `torch.save` writes a zip archive with a CRC-32 checksum for every record; PyTorch does not
    check them when loading, so a damaged file can load with wrong weights. We check them first.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: if the file is damaged or not a readable PyTorch checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}: check the path, or train first with save_path={str(path)!r}.")
    damage = _zip_damage(path)
    if damage:
        raise ValueError(f"Checkpoint {path} is damaged ({damage}); it cannot be trusted. Delete it and save or "
                         f"train again (a resumed run then starts from scratch).")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in str(error):
            raise ValueError(f"Checkpoint {path} is intact but holds Python objects other than tensors and plain "
                             f"numbers (for example NumPy numbers), which a safe load refuses ({error}). Save only "
                             f"tensors and Python numbers (course_utils.checkpoint.plain_numbers converts NumPy "
                             f"ones); if you trust this file, torch.load(path, weights_only=False) reads it."
                             ) from error
        raise ValueError(f"Could not read checkpoint {path}: {error}. The file is damaged or was not written by "
                         "torch.save with tensors only; delete it and save it again.") from error


def _zip_damage(path: Path) -> str | None:
    """What is wrong with a torch.save zip archive, or None if every record's CRC-32 matches."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            if handle.read(4) == b"PK\x03\x04":  # starts as a zip archive but its directory is gone
                return "truncated or overwritten zip archive"
        return None  # an old-format (non-zip) file: torch.load checks what it can
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        return f"unreadable archive: {error}"
    return None if bad is None else f"checksum mismatch in record {bad}"


def load_state_dict_checked(model: nn.Module, state_dict: dict, source: str = "checkpoint") -> None:
    """`model.load_state_dict(state_dict)` with an error that says what differs.

    Raises:
        ValueError: listing missing keys, unexpected keys and shape mismatches,
            when the checkpoint was saved from a different architecture.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        details = []
        for label, items in (("missing in checkpoint", missing), ("not in model", unexpected),
                             ("shape differs", mismatched)):
            if items:
                shown = ", ".join(items[:5]) + (f", ... ({len(items)} in all)" if len(items) > 5 else "")
                details.append(f"{label}: {shown}")
        raise ValueError(f"The {source} does not fit this model ({type(model).__name__}); it was saved from a "
                         f"different architecture. " + "; ".join(details) +
                         ". Build the model with the same layers and sizes that were used when saving.")
    model.load_state_dict(state_dict)


def get_rng_state() -> dict:
    """Every random-number generator's state, as tensors and plain values."""
    bit_generator, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"bit_generator": bit_generator, "keys": torch.from_numpy(keys.astype(np.int64)),
                  "position": int(position), "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():  # Apple GPUs: dropout and augmentation drawn there
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the generators saved by `get_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    saved = state["numpy"]
    np.random.set_state((saved["bit_generator"], saved["keys"].numpy().astype(np.uint32), saved["position"],
                         saved["has_gauss"], saved["cached"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"].cpu())
