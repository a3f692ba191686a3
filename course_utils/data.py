"""The data registry: every dataset declared once, downloaded, then verified.

Each dataset lists its files with SHA-256 checksums and mirrors. `download`
fetches what is missing or damaged, checks every file after downloading and
keeps nothing that fails the check. Archives are unpacked after the check, and
unpacked again whenever a file unpacked from them is missing or has changed.
Environment variables:

* `COURSE_DATA_DIR`: a folder of pre-downloaded data, laid out as torchvision
  expects (`MNIST/raw/...`, `cifar-10-batches-py/...`); also where downloads go.
  A folder that is a file or read-only is reported as such (DataUnavailable).
  Without it: the repository's `data/` folder in a clone of the book, else
  `~/course_data` (one folder for every chapter, wherever the notebooks lie).
* `COURSE_OFFLINE=1`: never touch the network; a damaged file is reported, not deleted.
* `COURSE_DATA_MIRROR`: the address of an institution's mirror (http(s):// or
  file://), laid out like `COURSE_DATA_DIR`; tried before the public hosts.
  Several mirrors may be given, separated by spaces.

Several processes may share one data folder: writing (fetching, unpacking) is done under
a lock, one process at a time, and through temporary files renamed into place.
`python -m course_utils.offline` fetches, verifies and imports whole data folders.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import http.client
import json
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import filelock

from .checkpoint import replacing
from .utils import env_flag

__all__ = ["DATASETS", "DataUnavailable", "DatasetInfo", "RemoteFile", "check_unpacked", "data_root", "dataset_info",
           "download", "mirror_urls", "register_dataset", "say_fallback", "sha256sum", "verify_file"]


class DataUnavailable(RuntimeError):
    """The dataset cannot be had here (offline, every mirror failed, or the data folder is not writable).

    `summary` is the short reason the one-line fallback notice gives.
    """

    def __init__(self, message: str, summary: str | None = None) -> None:
        super().__init__(message)
        self.summary = summary or message.split("; tried")[0]


@dataclass(frozen=True)
class RemoteFile:
    name: str
    sha256: str
    urls: tuple[str, ...]
    size: int | None = None  # bytes, when known; checked before the hash


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    folder: str  # below the data root, as torchvision lays it out
    files: tuple[RemoteFile, ...]
    license: str
    citation: str
    extract: bool = False  # unpack .tar.gz / .gz files after verifying them


_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/",
                  "https://storage.googleapis.com/cvdf-datasets/mnist/")
_UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/"


def _mnist_file(name: str, sha256: str, size: int) -> RemoteFile:
    return RemoteFile(name, sha256, tuple(m + name for m in _MNIST_MIRRORS), size)


DATASETS: dict[str, DatasetInfo] = {info.name: info for info in [
    DatasetInfo(
        "mnist", "MNIST handwritten digits (60,000 train / 10,000 test, 28x28 greyscale)", "MNIST/raw",
        (_mnist_file("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
         _mnist_file("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
         _mnist_file("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
         _mnist_file("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542)),
        license="CC BY-SA 3.0 (Y. LeCun and C. Cortes)", extract=True,
        citation="LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to document recognition. "
                 "Proc. IEEE 86(11), 1998."),
    DatasetInfo(
        "cifar10", "CIFAR-10 (50,000 train / 10,000 test, 32x32 colour, 10 classes)", "",
        (RemoteFile("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                     "https://storage.googleapis.com/tensorflow/tf-keras-datasets/cifar-10-python.tar.gz"),
                    170498071),),
        license="Free for research and teaching (A. Krizhevsky); no formal licence",
        citation="Krizhevsky. Learning Multiple Layers of Features from Tiny Images. Tech. report, U. Toronto, 2009.",
        extract=True),
    DatasetInfo(
        "somerville", "Somerville Happiness Survey 2015 (UCI 479; 143 answers, 6 ratings, happy or not)", "somerville",
        (RemoteFile("SomervilleHappinessSurvey2015.csv",
                    "1feffca7dd0b9455b4bb16a72c3c5b33ddd78d8a13ea2c7578894481acb5c538",
                    (_UCI + "00479/SomervilleHappinessSurvey2015.csv",)),),
        license="CC BY 4.0 (UCI Machine Learning Repository)",
        citation="Koczkodaj, W. Somerville Happiness Survey [Dataset]. UCI Machine Learning Repository, 2018. "
                 "https://doi.org/10.24432/C5PW4G"),
    DatasetInfo(
        "energy", "Appliances energy prediction (UCI 374; 19,735 ten-minute readings of a low-energy house)", "energy",
        (RemoteFile("energydata_complete.csv", "2820bf712ad0275cb18b85a05250926100d8e65ebb9f4d2d016ca91ea152a25d",
                    (_UCI + "00374/energydata_complete.csv",
                     "https://raw.githubusercontent.com/LuisM78/Appliances-energy-prediction-data/master/"
                     "energydata_complete.csv")),),
        license="CC BY 4.0 (UCI Machine Learning Repository)",
        citation="Candanedo, Feldheim, Deramaix. Data driven prediction models of energy use of appliances in a "
                 "low-energy house. Energy and Buildings 140, 2017."),
    DatasetInfo(
        "credit_default", "Default of credit card clients (UCI 350; 30,000 Taiwanese card holders, 2005)",
        "credit_default",
        (RemoteFile("default of credit card clients.xls",
                    "30c6be3abd8dcfd3e6096c828bad8c2f011238620f5369220bd60cfc82700933",
                    (_UCI + "00350/default%20of%20credit%20card%20clients.xls",), 5539328),),
        license="CC BY 4.0 (UCI Machine Learning Repository)",
        citation="Yeh, Lien. The comparisons of data mining techniques for the predictive accuracy of probability "
                 "of default of credit card clients. Expert Systems with Applications 36(2), 2009."),
]}


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    """Add a dataset to the registry (modules of later chapters declare their own data this way).

    Registering the same entry twice is harmless; a different entry under a known name is an error.
    """
    if DATASETS.get(info.name, info) != info:
        raise ValueError(f"A different dataset is already registered as {info.name!r}.")
    DATASETS[info.name] = info
    return info


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for `name`, with an error that lists the known names."""
    if name not in DATASETS:
        raise KeyError(f"Unknown dataset {name!r}. Known datasets: {', '.join(sorted(DATASETS))}.")
    return DATASETS[name]


def data_root() -> Path:
    """Where data lives: COURSE_DATA_DIR if set, else the repository's `data/` folder.

    Where `course_utils` was installed as a package (Colab, a JupyterHub), there is
    no repository: then `~/course_data`, shared by every chapter.
    """
    if os.environ.get("COURSE_DATA_DIR"):
        return Path(os.environ["COURSE_DATA_DIR"]).expanduser()
    repo_data = Path(__file__).resolve().parents[1] / "data"
    return repo_data if repo_data.is_dir() else Path.home() / "course_data"


def mirror_urls(info: DatasetInfo, remote: RemoteFile) -> list[str]:
    """The addresses of `remote` on the mirrors in COURSE_DATA_MIRROR (same layout as the data folder)."""
    relative = "/".join(part for part in (info.folder, remote.name) if part)
    return [base.rstrip("/") + "/" + urllib.parse.quote(relative)
            for base in os.environ.get("COURSE_DATA_MIRROR", "").split()]


def sha256sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: str | os.PathLike, remote: RemoteFile) -> str | None:
    """None if `path` is the expected file, else what is wrong with it ("missing" when there is none)."""
    return _verify(Path(path), remote)


def _verify(path: Path, remote: RemoteFile) -> str | None:
    """None if `path` is the expected file, else what is wrong with it ("missing" when there is none)."""
    try:
        if not path.is_file():
            return "missing"
        if remote.size is not None and path.stat().st_size != remote.size:
            return f"size {path.stat().st_size} bytes, expected {remote.size} (partial download?)"
        actual = sha256sum(path)
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    return None if actual == remote.sha256 else f"SHA-256 {actual[:12]}..., expected {remote.sha256[:12]}..."


_FIX = "set COURSE_DATA_DIR to a folder you can write to, or put the verified files there yourself"


def _check_folder(folder: Path) -> Path:
    """The nearest existing folder at or above `folder`; DataUnavailable if that is a file."""
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise DataUnavailable(f"the data folder {folder} is not usable: {existing} is a file, not a folder; {_FIX}")
    return existing


def _writable_folder(folder: Path) -> None:
    """Create `folder` if needed; raise DataUnavailable, saying what to do, when it cannot be written to."""
    existing = _check_folder(folder)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataUnavailable(f"the data folder {existing} is read-only (no permission to write); {_FIX}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()  # a read-only file system shows itself only on writing
    except OSError as error:
        raise DataUnavailable(f"cannot write to the data folder {folder} ({error.strerror or error}); {_FIX}") \
            from error


class _Damaged(Exception):
    """A downloaded file failed its check (internal to `_fetch`)."""


def _fetch(remote: RemoteFile, target: Path, timeout: float, mirrors: list[str] | tuple = ()) -> None:
    """Download `remote` to `target` from the first address that gives the right bytes.

    `mirrors` (an institution's, from COURSE_DATA_MIRROR) are tried before the public hosts.
    """
    errors = []
    for url in (*mirrors, *remote.urls):
        try:
            with replacing(target) as partial:
                with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                problem = _verify(partial, remote)
                if problem is not None:
                    raise _Damaged(problem)  # leaves `target` as it was
            return
        except _Damaged as damaged:
            errors.append((url, f"downloaded file is damaged ({damaged})"))
        except OSError as error:  # URLError, timeouts and disk errors are all OSErrors
            errors.append((url, str(getattr(error, "reason", error))))
        except (ValueError, http.client.HTTPException) as error:  # a mirror that is not a URL, a cut response
            errors.append((url, f"{type(error).__name__}: {error}"))
    raise DataUnavailable(f"could not download {remote.name} from {len(errors)} mirror(s): {errors[0][1]}; tried "
                          + "; ".join(f"{url} ({reason})" for url, reason in errors))


# Unpacking. Next to each archive, `.<archive>.extracted` records the archive's SHA-256 and the size and
# SHA-256 of every file unpacked from it. A file that is missing or differs from the record, a record of
# another archive, or no record at all (an unpacking that was killed) means: unpack again.

def _record_path(folder: Path, remote: RemoteFile) -> Path:
    return folder / f".{remote.name}.extracted"


def _read_record(folder: Path, remote: RemoteFile) -> dict | None:
    """{relative path: [size, sha256]} of the last verified unpacking of this very archive, else None."""
    try:
        record = json.loads(_record_path(folder, remote).read_text())
        files = record["files"] if record["archive_sha256"] == remote.sha256 else None
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or an old empty marker
        return None
    return files if isinstance(files, dict) else None


def _check_unpacked(folder: Path, files: dict, hashes: bool = True) -> str | None:
    """None when every recorded file is there with its recorded size (and SHA-256), else what is wrong."""
    for relative, (size, sha256) in files.items():
        path = folder / relative
        try:
            if not path.is_file():
                return f"{path} is missing"
            if path.stat().st_size != size:
                return f"{path} has {path.stat().st_size} bytes instead of {size} (truncated or overwritten)"
            if hashes and sha256sum(path) != sha256:
                return f"{path} is damaged (changed since it was unpacked and verified)"
        except OSError as error:
            return f"{path} cannot be read ({error.strerror or error})"
    return None


def _extract(archive: Path) -> dict:
    """Unpack a verified .tar.gz next to itself, or gunzip a .gz (as torchvision's MNIST expects).

    Returns {path relative to the archive's folder: [size, sha256]} of every file unpacked.
    """
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tar:
            sizes = {member.name: member.size for member in tar.getmembers() if member.isfile()}
            if hasattr(tarfile, "data_filter"):  # Python 3.10.12, 3.11.4 and later
                tar.extractall(archive.parent, filter="data")
            else:  # older Pythons: refuse what the "data" filter would refuse, then unpack
                for member in tar.getmembers():
                    target = (archive.parent / member.name).resolve()
                    if not (member.isfile() or member.isdir()) or archive.parent.resolve() not in target.parents:
                        raise DataUnavailable(f"{archive} holds an unsafe member {member.name!r}; not unpacked")
                tar.extractall(archive.parent)
    elif archive.suffix == ".gz":
        with replacing(archive.with_suffix("")) as partial:
            with gzip.open(archive, "rb") as source, open(partial, "wb") as out:
                shutil.copyfileobj(source, out)
        sizes = {archive.with_suffix("").name: archive.with_suffix("").stat().st_size}
    else:
        return {}
    files = {name: [size, sha256sum(archive.parent / name)] for name, size in sizes.items()}
    problem = _check_unpacked(archive.parent, files, hashes=False)  # sizes as the tar archive declares them
    if problem:
        raise DataUnavailable(f"unpacking {archive} went wrong: {problem}")
    return files


def _unpack(folder: Path, remote: RemoteFile) -> None:
    """Unpack `remote` unless its record shows every unpacked file present and intact."""
    files = _read_record(folder, remote)
    if files is not None and _check_unpacked(folder, files) is None:
        return
    record = _record_path(folder, remote)
    record.unlink(missing_ok=True)  # no record while unpacking: a killed run unpacks again
    try:
        files = _extract(folder / remote.name)
        with replacing(record) as partial:
            partial.write_text(json.dumps({"archive_sha256": remote.sha256, "files": files}))
    except OSError as error:  # a full disk, a quota, a folder made read-only meanwhile
        raise DataUnavailable(f"cannot unpack {remote.name} into {folder} ({error.strerror or error}); free some "
                              f"space there, or {_FIX}") from error


def _unpacked(folder: Path, info: DatasetInfo) -> bool:
    """Whether every archive of `info` has a record and every file unpacked from it is intact."""
    for remote in info.files if info.extract else ():
        files = _read_record(folder, remote)
        if files is None or _check_unpacked(folder, files) is not None:
            return False
    return True


@contextmanager
def _writing(folder: Path, info: DatasetInfo) -> Iterator[None]:
    """Hold the data folder's lock while fetching or unpacking into it, and clear what killed runs left.

    Two notebooks (or a whole class on one shared folder) loading the same dataset for
    the first time take turns: the second waits, then finds the files verified. The lock
    is the operating system's (`filelock`), so a killed process never leaves it held.
    """
    lock = filelock.FileLock(folder / ".course-data.lock")
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        print(f"[data] another process is fetching or unpacking {info.title} in {folder}; waiting for it.")
        lock.acquire()
    try:
        for remote in info.files:  # temporary files of a killed download or unpacking (no one else writes now)
            written = [remote.name, _record_path(folder, remote).name]
            if remote.name.endswith(".gz") and not remote.name.endswith((".tar.gz", ".tgz")):
                written.append(remote.name[:-3])  # what gunzipping writes
            for name in written:
                for stale in folder.glob(f".{glob.escape(name)}.*.part"):
                    stale.unlink(missing_ok=True)
        yield
    finally:
        lock.release()


def check_unpacked(name: str, root: str | os.PathLike | None = None, hashes: bool = True) -> str | None:
    """What is wrong with the files unpacked from dataset `name`'s archives, or None.

    Each file is compared with the record written when `download` unpacked it: its
    size, and its SHA-256 unless `hashes=False`. Files unpacked by other means have
    no record and are not checked here.
    """
    info = dataset_info(name)
    folder = (Path(root) if root is not None else data_root()) / info.folder
    for remote in info.files if info.extract else ():
        files = _read_record(folder, remote)
        problem = _check_unpacked(folder, files, hashes) if files is not None else None
        if problem:
            return problem
    return None


def download(name: str, root: str | os.PathLike | None = None, timeout: float = 30.0,
             offline: bool | None = None) -> Path:
    """Make sure every file of dataset `name` is present and verified; return its folder.

    Files already present are checked against their SHA-256; a damaged or
    partial file is fetched again (offline, it is left as it is and reported).
    Archives are unpacked after verification, and again whenever a file
    unpacked from them is missing or changed. Nothing is created offline
    unless a present archive must be unpacked. The mirrors in COURSE_DATA_MIRROR
    are tried before the public hosts. `offline=None` reads COURSE_OFFLINE.

    Raises:
        KeyError: for an unknown dataset name.
        DataUnavailable: when offline (COURSE_OFFLINE=1), when every mirror fails,
            or when the data folder cannot be written to.
    """
    info = dataset_info(name)
    offline = env_flag("COURSE_OFFLINE") if offline is None else offline
    folder = (Path(root) if root is not None else data_root()) / info.folder
    _check_folder(folder)
    problems = {remote: _verify(folder / remote.name, remote) for remote in info.files}
    problems = {remote: problem for remote, problem in problems.items() if problem is not None}
    if problems and offline:
        raise _offline_error(folder, problems)
    if not problems and _unpacked(folder, info):
        return folder  # the usual case: nothing to write, no lock (a read-only class folder works)
    _writable_folder(folder)
    with _writing(folder, info):
        for remote in info.files:  # again: another process may have fetched them while we waited
            problem = _verify(folder / remote.name, remote)
            if problem is None:
                continue
            if problem != "missing":
                print(f"[data] {folder / remote.name} is damaged ({problem}); fetching it again.")
            _record_path(folder, remote).unlink(missing_ok=True)  # a fetched archive is always unpacked again
            _fetch(remote, folder / remote.name, timeout, mirror_urls(info, remote))
        for remote in info.files if info.extract else ():
            _unpack(folder, remote)
    return folder


def _offline_error(folder: Path, problems: dict) -> DataUnavailable:
    damaged = [f"{folder / remote.name} is damaged ({problem})" for remote, problem in problems.items()
               if problem != "missing"]
    missing = [remote.name for remote, problem in problems.items() if problem == "missing"]
    if not damaged:
        return DataUnavailable(f"{', '.join(missing)} not in {folder}, and COURSE_OFFLINE=1 forbids downloading",
                               summary="COURSE_OFFLINE=1")
    message = (f"{damaged[0]}{f' (and {len(damaged) - 1} more damaged file(s))' if len(damaged) > 1 else ''}; "
               "COURSE_OFFLINE=1 forbids downloading a new copy, so it was left as it is: "
               "delete it or unset COURSE_OFFLINE")
    return DataUnavailable(message)


_ANNOUNCED: set[str] = set()


def say_fallback(name: str, error: Exception, fallback: str) -> None:
    """Print the one line that says the real data is missing and which fallback is used instead.

    Printed once per dataset and Python session (loading the train and test splits says it once).
    """
    if name in _ANNOUNCED:
        return
    _ANNOUNCED.add(name)
    reason = getattr(error, "summary", None) or str(error).split("; tried")[0]
    print(f"[data] {dataset_info(name).title.split(' (')[0]} is not available here ({reason}); using the FALLBACK "
          f"{fallback}. Numbers computed on it are NOT results on the real dataset "
          f"(set COURSE_DATA_DIR to a folder with the real data to use it).")
