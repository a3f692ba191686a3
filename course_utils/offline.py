"""The offline classroom kit: every dataset and pretrained weight in one checked folder.

    python -m course_utils.offline fetch  [--data-dir DIR] [--only NAME ...]
    python -m course_utils.offline verify [--data-dir DIR] [--only NAME ...]
    python -m course_utils.offline import SOURCE [--data-dir DIR] [--only NAME ...]
    python -m course_utils.offline list

`fetch` downloads every file that the book's registry declares into the data
folder (`COURSE_DATA_DIR`, or `--data-dir`), from the mirrors in
`COURSE_DATA_MIRROR` first, and checks each against its SHA-256. `verify` checks
a folder without touching the network. `import` copies the registered files
from a folder made elsewhere (a USB stick, a network share; the layout of the
data folder or all files side by side) and keeps only those whose SHA-256 is
right: a damaged copy is rejected and reported, a good file already there is
never replaced, and nothing in SOURCE is changed. The exit status is 0 only when
every selected dataset is complete and verified.

A teacher's walk-through: the book's page "A lab without internet" (pages/offline.md).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import data
from .checkpoint import replacing
from .data import DataUnavailable, DatasetInfo, RemoteFile, data_root, verify_file

__all__ = ["Outcome", "all_datasets", "fetch", "import_folder", "main", "verify"]

# The modules that declare datasets of single chapters (importing one registers its data).
_REGISTERING_MODULES = ("datasets", "tabular", "mlbasics", "reviews", "style")


@dataclass
class Outcome:
    """What happened to one dataset: `ok` is True when every file is present and verified."""

    name: str
    ok: bool
    detail: str
    size: int = 0  # bytes of verified files

    def line(self) -> str:
        mark = "ok    " if self.ok else "FAILED"
        return f"{mark} {self.name:16s} {self.size / 1e6:9.1f} MB  {self.detail}"


def all_datasets(only: list[str] | tuple[str, ...] | None = None) -> list[DatasetInfo]:
    """Every registered dataset (the chapters' modules are imported so that theirs are known).

    `only`: names to keep; an unknown name is an error that lists the known ones.
    """
    for module in _REGISTERING_MODULES:
        try:
            importlib.import_module(f"{__package__}.{module}")
        except ImportError as error:  # a chapter's optional package is missing: its data stay unlisted
            print(f"[data] course_utils.{module} could not be imported ({error}); its datasets are skipped.")
    names = sorted(data.DATASETS) if not only else list(only)
    return [data.dataset_info(name) for name in names]


def _folder(root: Path, info: DatasetInfo) -> Path:
    return root / info.folder


def _size(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths if path.is_file())


def verify(root: str | os.PathLike | None = None, only=None) -> list[Outcome]:
    """Check every registered file in the data folder against its SHA-256 (and what was unpacked from it)."""
    root = Path(root) if root is not None else data_root()
    outcomes = []
    for info in all_datasets(only):
        folder = _folder(root, info)
        problems = [f"{remote.name}: {problem}" for remote in info.files
                    if (problem := verify_file(folder / remote.name, remote)) is not None]
        if not problems:
            unpacked = data.check_unpacked(info.name, root)
            if unpacked:
                problems.append(unpacked)
            elif any(data._read_record(folder, remote) is None for remote in info.files if info.extract):
                problems.append("its archives are verified but were never unpacked here (the chapters need to "
                                "unpack them, which fails if students cannot write to the folder): run "
                                f"`python -m course_utils.offline fetch --data-dir {root} --only {info.name}` "
                                "once, while the folder is writable; it downloads nothing that is already verified")
        size = _size([folder / remote.name for remote in info.files])
        outcomes.append(Outcome(info.name, not problems, "; ".join(problems) or "verified", size))
    return outcomes


def fetch(root: str | os.PathLike | None = None, only=None, timeout: float = 60.0) -> list[Outcome]:
    """Download (mirrors in COURSE_DATA_MIRROR first) and verify every registered dataset into the data folder."""
    root = Path(root) if root is not None else data_root()
    outcomes = []
    for info in all_datasets(only):
        try:
            folder = data.download(info.name, root, timeout=timeout, offline=False)
        except DataUnavailable as error:
            outcomes.append(Outcome(info.name, False, str(error)))
            continue
        size = _size([folder / remote.name for remote in info.files])
        outcomes.append(Outcome(info.name, True, f"verified in {folder}", size))
    return outcomes


def _index(source: Path) -> dict[str, list[Path]]:
    """Every file below `source`, by file name."""
    found: dict[str, list[Path]] = {}
    for path in source.rglob("*"):
        if path.is_file() and not path.name.endswith(".part"):
            found.setdefault(path.name, []).append(path)
    return found


def _candidates(source: Path, info: DatasetInfo, remote: RemoteFile, index: dict[str, list[Path]]) -> list[Path]:
    """Where `remote` may lie in `source`: first its place in the data folder's layout, then anywhere."""
    preferred = source / info.folder / remote.name
    others = [path for path in index.get(remote.name, []) if path != preferred]
    return ([preferred] if preferred.is_file() else []) + others


def _copy_verified(candidate: Path, target: Path, remote: RemoteFile) -> str | None:
    """Copy `candidate` to `target` through a temporary file; None on success, else why it was rejected."""
    problem = verify_file(candidate, remote)
    if problem is not None:
        return f"{candidate} rejected ({problem})"
    try:
        with replacing(target) as partial:
            shutil.copyfile(candidate, partial)
            problem = verify_file(partial, remote)  # the copy itself (a failing stick, a full disk)
            if problem is not None:
                return f"the copy of {candidate} is damaged ({problem}); the disk may be full or failing"
    except OSError as error:  # a full disk or quota, a folder that is not writable
        return f"copying {candidate} failed ({error.strerror or error}); the disk may be full or not writable"
    return None


def import_folder(source: str | os.PathLike, root: str | os.PathLike | None = None, only=None) -> list[Outcome]:
    """Copy the registered files found in `source` into the data folder, each only after its SHA-256 is checked.

    A file already in the data folder and verified is kept as it is. A damaged file in
    the data folder is replaced only by a verified copy. Files in `source` are never
    changed. Archives are unpacked after the import, as `download` would.
    """
    source, root = Path(source), Path(root) if root is not None else data_root()
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not a folder: give the folder copied from the other machine "
                                "(the one that was its COURSE_DATA_DIR).")
    data._check_folder(root)
    index = _index(source)
    outcomes = []
    for info in all_datasets(only):
        folder, notes, missing = _folder(root, info), [], []
        needed = [remote for remote in info.files if verify_file(folder / remote.name, remote) is not None]
        if needed:  # the others are already here and verified
            try:
                data._writable_folder(folder)  # said once, before anything is copied
            except DataUnavailable as error:
                outcomes.append(Outcome(info.name, False, str(error)))
                continue
        for remote in needed:
            target = folder / remote.name
            rejected = []
            for candidate in _candidates(source, info, remote, index):
                if candidate.resolve() == target.resolve():
                    continue
                reason = _copy_verified(candidate, target, remote)
                if reason is None:
                    notes.append(f"{remote.name} imported from {candidate}")
                    break
                rejected.append(reason)
            else:
                missing.append(remote.name)
            notes.extend(rejected)
        if missing:
            detail = f"not found in {source} with the right SHA-256: {', '.join(missing)}"
            outcomes.append(Outcome(info.name, False, "; ".join([detail, *notes])))
            continue
        try:
            data.download(info.name, root, offline=True)  # unpacks archives; fetches nothing
        except DataUnavailable as error:
            outcomes.append(Outcome(info.name, False, str(error)))
            continue
        size = _size([folder / remote.name for remote in info.files])
        outcomes.append(Outcome(info.name, True, "; ".join(notes) or "already verified", size))
    return outcomes


def _list(only=None) -> int:
    for info in all_datasets(only):
        size = sum(remote.size or 0 for remote in info.files)
        known = "" if all(remote.size for remote in info.files) else " (size not declared)"
        print(f"{info.name:16s} {size / 1e6:9.1f} MB{known}  {info.folder or '.'}/  {info.title}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.offline", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["fetch", "verify", "import", "list"])
    parser.add_argument("source", nargs="?", help="for import: the folder copied from elsewhere")
    parser.add_argument("--data-dir", help="the data folder (default: COURSE_DATA_DIR, else the book's data/)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these datasets (see `list`)")
    args = parser.parse_args(argv)
    if args.command == "import" and not args.source:
        parser.error("import needs the folder to import from: python -m course_utils.offline import /media/usb/data")
    if args.command != "import" and args.source:
        parser.error(f"{args.command} takes no folder argument; use --data-dir to choose the data folder")
    try:
        if args.command == "list":
            return _list(args.only)
        root = Path(args.data_dir).expanduser() if args.data_dir else data_root()
        print(f"[data] data folder: {root}")
        if os.environ.get("COURSE_DATA_MIRROR") and args.command == "fetch":
            print(f"[data] mirrors tried first: {os.environ['COURSE_DATA_MIRROR']}")
        start = time.perf_counter()
        if args.command == "fetch":
            outcomes = fetch(root, args.only)
        elif args.command == "verify":
            outcomes = verify(root, args.only)
        else:
            outcomes = import_folder(args.source, root, args.only)
    except (KeyError, FileNotFoundError, DataUnavailable) as error:
        print(f"error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. the data folder's disk failing while it is read
        print(f"error: {error}", file=sys.stderr)
        return 2
    for outcome in outcomes:
        print(outcome.line())
    failed = [outcome.name for outcome in outcomes if not outcome.ok]
    total = sum(outcome.size for outcome in outcomes)
    print(f"[data] {len(outcomes) - len(failed)} of {len(outcomes)} datasets complete and verified "
          f"({total / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s"
          + (f"; not complete: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
