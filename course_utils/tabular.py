"""Tabular datasets from the UCI repository, with honest, labelled offline fallbacks.

Each loader returns a `Table`: a pandas DataFrame, the name of its target
column, and where the data came from (`source` is "real" or "fallback").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .data import DataUnavailable, dataset_info, download, say_fallback
from .synthetic import make_credit_like, make_survey

if TYPE_CHECKING:  # pandas is imported by the loaders, so that `import course_utils` stays quick
    import pandas as pd

__all__ = ["Table", "load_credit_default", "load_energy", "load_somerville"]


@dataclass
class Table:
    """A tabular dataset: `frame` holds features and the `target` column."""

    frame: pd.DataFrame
    target: str
    name: str
    source: str  # "real" or "fallback"
    description: str

    @property
    def is_fallback(self) -> bool:
        return self.source != "real"

    @property
    def features(self) -> pd.DataFrame:
        return self.frame.drop(columns=[self.target])

    @property
    def labels(self) -> pd.Series:
        return self.frame[self.target]

    def __repr__(self) -> str:
        return f"Table({self.name}, {self.source}: {self.frame.shape[0]} rows x {self.frame.shape[1]} columns, target {self.target!r})"


def _path(name: str):
    """Local path of the dataset's single file, downloaded and verified if needed."""
    folder = download(name)
    return folder / dataset_info(name).files[0].name


def load_somerville() -> Table:
    """Somerville Happiness Survey 2015: target D (1 = happy), six ratings X1..X6 from 1 to 5."""
    import pandas as pd

    try:
        path = _path("somerville")
    except DataUnavailable as error:
        fallback = "synthetic survey: 143 rows of six 1-5 ratings and a 0/1 answer from a logistic model (course_utils)"
        say_fallback("somerville", error, fallback)
        return Table(make_survey(), "D", "Somerville fallback (synthetic survey)", "fallback",
                     f"FALLBACK for the Somerville survey: {fallback}")
    frame = pd.read_csv(path, encoding="utf-16")  # the UCI file is UTF-16 encoded
    return Table(frame, "D", "Somerville Happiness Survey", "real", "Somerville Happiness Survey 2015 (real, UCI 479)")


def load_energy() -> Table:
    """Appliances energy prediction: target "Appliances" (Wh per 10 minutes), 27 other columns incl. "date"."""
    import pandas as pd

    try:
        path = _path("energy")
    except DataUnavailable as error:
        fallback = "scikit-learn diabetes: 442 real patients, 10 features, disease progression after one year"
        say_fallback("energy", error, fallback)
        from sklearn.datasets import load_diabetes

        frame = load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})
        return Table(frame, "progression", "energy fallback (scikit-learn diabetes)", "fallback",
                     f"FALLBACK for the appliances-energy data: {fallback}")
    frame = pd.read_csv(path)
    return Table(frame, "Appliances", "Appliances energy prediction", "real",
                 "Appliances energy prediction (real, UCI 374)")


def load_credit_default() -> Table:
    """Default of credit card clients: target "default payment next month" (1 = default), ID dropped."""
    import pandas as pd

    try:
        path = _path("credit_default")
    except DataUnavailable as error:
        fallback = ("synthetic imbalanced table: 30,000 rows, 23 features, about 22% positives "
                    "(scikit-learn make_classification with 5% label noise)")
        say_fallback("credit_default", error, fallback)
        return Table(make_credit_like(), "default payment next month", "credit-default fallback (synthetic)",
                     "fallback", f"FALLBACK for the credit-card default data: {fallback}")
    frame = pd.read_excel(path, header=1).drop(columns=["ID"])  # the header is on the sheet's second row
    return Table(frame, "default payment next month", "Default of credit card clients", "real",
                 "Default of credit card clients (real, UCI 350)")
