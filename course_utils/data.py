"""The data registry: every dataset declared once, downloaded, then verified.

Each dataset lists its files with SHA-256 checksums and mirrors. `download`
fetches what is missing or damaged, checks every file after downloading and
keeps nothing that fails the check. Environment variables:

* `COURSE_DATA_DIR`: a folder of pre-downloaded data, laid out as torchvision
  expects (`MNIST/raw/...`, `cifar-10-batches-py/...`); also where downloads go.
* `COURSE_OFFLINE=1`: never touch the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .utils import env_flag

__all__ = ["DATASETS", "DataUnavailable", "DatasetInfo", "RemoteFile", "data_root", "dataset_info", "download",
           "register_dataset", "say_fallback", "sha256sum"]


class DataUnavailable(RuntimeError):
    """The dataset cannot be had here (offline, or every mirror failed)."""


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
    """Where data lives: COURSE_DATA_DIR if set, else the repository's `data/` folder."""
    if os.environ.get("COURSE_DATA_DIR"):
        return Path(os.environ["COURSE_DATA_DIR"]).expanduser()
    repo_data = Path(__file__).resolve().parents[1] / "data"
    return repo_data if repo_data.is_dir() else Path.cwd() / "data"


def sha256sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, remote: RemoteFile) -> str | None:
    """None if `path` is the expected file, else what is wrong with it."""
    if remote.size is not None and path.stat().st_size != remote.size:
        return f"size {path.stat().st_size} bytes, expected {remote.size} (partial download?)"
    actual = sha256sum(path)
    return None if actual == remote.sha256 else f"SHA-256 {actual[:12]}..., expected {remote.sha256[:12]}..."


def _fetch(remote: RemoteFile, target: Path, timeout: float) -> None:
    """Download `remote` to `target` from the first mirror that gives the right bytes."""
    errors = []
    partial = target.with_name(target.name + ".part")
    for url in remote.urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
            problem = _verify(partial, remote)
            if problem is None:
                os.replace(partial, target)
                return
            errors.append((url, f"downloaded file is damaged ({problem})"))
        except OSError as error:  # URLError, timeouts and disk errors are all OSErrors
            errors.append((url, str(getattr(error, "reason", error))))
        finally:
            partial.unlink(missing_ok=True)
    raise DataUnavailable(f"could not download {remote.name} from {len(errors)} mirror(s): {errors[0][1]}; tried "
                          + "; ".join(f"{url} ({reason})" for url, reason in errors))


def _extract(archive: Path) -> None:
    """Unpack a verified .tar.gz next to itself, or gunzip a .gz (as torchvision's MNIST expects)."""
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tar:
            tar.extractall(archive.parent, filter="data")
    elif archive.suffix == ".gz":
        partial = archive.with_suffix(".part")
        with gzip.open(archive, "rb") as source, open(partial, "wb") as out:
            shutil.copyfileobj(source, out)
        os.replace(partial, archive.with_suffix(""))


def download(name: str, root: str | os.PathLike | None = None, timeout: float = 30.0) -> Path:
    """Make sure every file of dataset `name` is present and verified; return its folder.

    Files already present are checked against their SHA-256; a damaged or
    partial file is fetched again. Archives are unpacked after verification.

    Raises:
        KeyError: for an unknown dataset name.
        DataUnavailable: when offline (COURSE_OFFLINE=1) or when every mirror fails.
    """
    info = dataset_info(name)
    folder = Path(root) if root is not None else data_root()
    target_dir = folder / info.folder
    target_dir.mkdir(parents=True, exist_ok=True)
    for remote in info.files:
        target = target_dir / remote.name
        if target.exists():
            problem = _verify(target, remote)
            if problem is None:
                continue
            print(f"[data] {target} is damaged ({problem}); fetching it again.")
            target.unlink()
        if env_flag("COURSE_OFFLINE"):
            raise DataUnavailable(f"{remote.name} is not in {target_dir} and COURSE_OFFLINE=1 forbids downloading")
        _fetch(remote, target, timeout)
    for remote in info.files:
        marker = target_dir / f".{remote.name}.extracted"
        if info.extract and not marker.exists():
            _extract(target_dir / remote.name)
            marker.touch()
    return target_dir


_ANNOUNCED: set[str] = set()


def say_fallback(name: str, error: Exception, fallback: str) -> None:
    """Print the one line that says the real data is missing and which fallback is used instead.

    Printed once per dataset and Python session (loading the train and test splits says it once).
    """
    if name in _ANNOUNCED:
        return
    _ANNOUNCED.add(name)
    reason = "COURSE_OFFLINE=1" if env_flag("COURSE_OFFLINE") else str(error).split("; tried")[0]
    print(f"[data] {dataset_info(name).title.split(' (')[0]} is not available here ({reason}); using the FALLBACK "
          f"{fallback}. Numbers computed on it are NOT results on the real dataset "
          f"(set COURSE_DATA_DIR to a folder with the real data to use it).")
