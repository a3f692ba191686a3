"""Machine-learning basics (chapter 3): the song-year data, resampling, test-set selection.

* `load_song_years` reads UCI's YearPredictionMSD (515,345 songs, 90 timbre
  features, target: release year) through the data registry, with a labelled
  synthetic fallback of the same layout when the file cannot be had.
* `oversample_indices` / `undersample_indices` balance the classes of a
  training set: copy minority rows, or drop majority rows. Apply them to the
  training part only, after the split.
* `simulate_test_selection` shows how optimistic a test score becomes when the
  test set is used to choose among models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import (DataUnavailable, DatasetInfo, RemoteFile, download,
                   register_dataset, say_fallback)
from .tabular import Table

__all__ = ["SONG_COLUMNS", "SONG_ROWS", "SONG_TEST_ROWS", "SONG_YEARS",
           "load_song_years", "make_song_like", "oversample_indices",
           "simulate_test_selection", "undersample_indices"]

_UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/"
SONG_ROWS, SONG_TEST_ROWS = 515_345, 51_630  # UCI: the last 51,630 rows are the test set
FALLBACK_ROWS = 100_000  # the synthetic stand-in never grows beyond this
SONG_COLUMNS = (["year"] + [f"timbre_avg_{i}" for i in range(1, 13)]
                + [f"timbre_cov_{i}" for i in range(1, 79)])

# SHA-256 of YearPredictionMSD.txt.zip as published by two independent loaders:
# JackDunnNZ/UCIData.jl (src/data/regression/year-prediction-msd.jl) and
# IntelPython/scikit-learn_bench (sklbench/datasets/loaders.py).
SONG_YEARS = register_dataset(DatasetInfo(
    "song_years",
    "YearPredictionMSD (UCI 203; 515,345 songs, 90 timbre features, "
    "release year 1922-2011)",
    "song_years",
    (RemoteFile("YearPredictionMSD.txt.zip",
                "06f801af323bb7798e800583acce4ea1ed2697ac12c23f4424aea0a7a3d09e11",
                (_UCI + "00203/YearPredictionMSD.txt.zip",)),),
    license="CC BY 4.0 (UCI Machine Learning Repository)",
    citation="Bertin-Mahieux, Ellis, Whitman, Lamere. The Million Song Dataset. "
             "Proc. ISMIR 2011. UCI Machine Learning Repository, dataset 203."))


def make_song_like(num_rows: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """A synthetic stand-in for YearPredictionMSD, with the same columns.

    Years from 1922 to 2011, most of them recent (as in the real data); 90
    features on very different scales, a few of them heavy-tailed, about a
    fifth of them weakly related to the year, so that a linear model learns
    something and standardising matters.
    """
    if num_rows < 1:
        raise ValueError(f"num_rows must be at least 1, got {num_rows}.")
    rng = np.random.default_rng(seed)
    years_back = np.minimum(rng.gamma(shape=1.5, scale=9.0, size=num_rows), 89)
    year = np.round(2011 - years_back)
    era = (year - year.mean()) / year.std()  # (N,) standardised
    weights = np.zeros(90)
    related = rng.choice(90, size=18, replace=False)
    weights[related] = rng.normal(0, 0.2, size=18)
    noise = rng.standard_t(df=5, size=(num_rows, 90))  # heavy tails: outliers
    scales = np.concatenate([rng.uniform(5, 50, 12), rng.uniform(50, 5000, 78)])
    features = (era[:, None] * weights + noise) * scales + rng.normal(0, 20, 90)
    frame = pd.DataFrame(features.astype(np.float32), columns=SONG_COLUMNS[1:])
    frame.insert(0, "year", year.astype(np.float32))
    return frame


def load_song_years(num_rows: int | None = None) -> Table:
    """YearPredictionMSD: target "year", 90 features, rows in the file's order.

    Args:
        num_rows: read only the first `num_rows` songs (all 515,345 if None).
            The file keeps UCI's order: the last 51,630 songs are its test set.
            The offline fallback has at most 100,000 rows.
    """
    if num_rows is not None and not 1 <= num_rows <= SONG_ROWS:
        raise ValueError(f"num_rows must be between 1 and {SONG_ROWS:,} (or None for "
                         f"all rows), got {num_rows}.")
    try:
        folder = download("song_years")
    except DataUnavailable as error:
        rows = min(num_rows or SONG_ROWS, FALLBACK_ROWS)
        fallback = (f"synthetic song table: {rows:,} rows, 90 features, years 1922-2011 "
                    "(course_utils.mlbasics.make_song_like)")
        say_fallback("song_years", error, fallback)
        return Table(make_song_like(rows), "year", "song-year fallback (synthetic)",
                     "fallback", f"FALLBACK for YearPredictionMSD: {fallback}")
    frame = pd.read_csv(folder / SONG_YEARS.files[0].name, header=None,
                        names=SONG_COLUMNS, nrows=num_rows, dtype=np.float32)
    return Table(frame, "year", "YearPredictionMSD", "real",
                 f"YearPredictionMSD (real, UCI 203): first {len(frame):,} of "
                 f"{SONG_ROWS:,} songs")


def _class_rows(labels) -> tuple[np.ndarray, dict]:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional (one class per row), got shape "
                         f"{labels.shape}; pass y, not X.")
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"labels hold only the class {classes.tolist()}: there is nothing "
                         "to balance. Did you pass the labels of one class only?")
    return labels, {c: np.flatnonzero(labels == c) for c in classes}


def oversample_indices(labels, seed: int = 0) -> np.ndarray:
    """Row indices that balance the classes by copying rows of the smaller classes.

    Every row appears at least once; rows of each smaller class are drawn
    again at random (with replacement) until every class is as large as the
    largest. Use on the training part only, after the split.

    Returns:
        Shuffled row indices, e.g. `x_train[rows], y_train[rows]`.
    """
    labels, rows = _class_rows(labels)
    rng = np.random.default_rng(seed)
    largest = max(len(r) for r in rows.values())
    extra = [rng.choice(r, size=largest - len(r), replace=True) for r in rows.values()]
    return rng.permutation(np.concatenate([np.arange(len(labels)), *extra]))


def undersample_indices(labels, seed: int = 0) -> np.ndarray:
    """Row indices that balance the classes by dropping rows of the larger classes.

    Every row of the smallest class is kept; from each larger (majority)
    class a random subset of the same size is kept. Use on the training
    part only, after the split.

    Returns:
        Shuffled row indices.
    """
    labels, rows = _class_rows(labels)
    rng = np.random.default_rng(seed)
    smallest = min(len(r) for r in rows.values())
    kept = [rng.choice(r, size=smallest, replace=False) for r in rows.values()]
    return rng.permutation(np.concatenate(kept))


def simulate_test_selection(true_accuracy: float = 0.8, num_models: int = 20,
                            num_examples: int = 1000, repeats: int = 2000,
                            seed: int = 0) -> dict:
    """Many equally good models; pick one by its test score, or by its dev score.

    Every model has the same true accuracy; its score on a dev or test set of
    `num_examples` examples is a binomial draw around it. Returns the average
    score reported under each rule: `chosen_on_test` (pick the best test score
    and report it) and `chosen_on_dev` (pick by dev score, report its test
    score once), with `true_accuracy` for comparison.
    """
    if not 0 < true_accuracy < 1 or min(num_models, num_examples, repeats) < 1:
        raise ValueError("need 0 < true_accuracy < 1 and positive num_models, "
                         "num_examples and repeats.")
    rng = np.random.default_rng(seed)
    shape = (repeats, num_models)
    dev = rng.binomial(num_examples, true_accuracy, size=shape) / num_examples
    test = rng.binomial(num_examples, true_accuracy, size=shape) / num_examples
    picked = test[np.arange(repeats), dev.argmax(axis=1)]
    return {"true_accuracy": true_accuracy,
            "chosen_on_test": float(test.max(axis=1).mean()),
            "chosen_on_dev": float(picked.mean())}
