"""course_utils.mlbasics: the song-year loader, class resampling, test-set selection."""

import hashlib
import io
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from course_utils import data, mlbasics
from course_utils.mlbasics import (SONG_COLUMNS, load_song_years, make_song_like,
                                   oversample_indices, simulate_test_selection,
                                   undersample_indices)


def test_song_years_offline_gives_a_labelled_fallback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "_ANNOUNCED", set())
    table = load_song_years(500)
    assert table.is_fallback and "FALLBACK" in table.description
    assert "FALLBACK" in capsys.readouterr().out
    assert list(table.frame.columns) == SONG_COLUMNS and len(table.frame) == 500
    years = table.labels
    assert years.min() >= 1922 and years.max() <= 2011 and years.median() > 1990


def test_song_years_reads_the_verified_file(tmp_path, monkeypatch):
    rows = np.array([[2001.0] + list(range(90)), [1987.0] + [0.5] * 90,
                     [1955.0] + [-1.0] * 90])
    text = "\n".join(",".join(f"{v:g}" for v in row) for row in rows) + "\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("YearPredictionMSD.txt", text)
    payload = buffer.getvalue()
    folder = tmp_path / "song_years"
    folder.mkdir()
    (folder / "YearPredictionMSD.txt.zip").write_bytes(payload)
    remote = replace(mlbasics.SONG_YEARS.files[0], sha256=hashlib.sha256(payload).hexdigest())
    monkeypatch.setitem(data.DATASETS, "song_years", replace(mlbasics.SONG_YEARS, files=(remote,)))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    table = load_song_years(2)
    assert not table.is_fallback and table.target == "year"
    assert list(table.frame.columns) == SONG_COLUMNS and table.frame.shape == (2, 91)
    assert table.labels.tolist() == [2001.0, 1987.0]
    assert table.frame["timbre_cov_78"].tolist() == [89.0, 0.5]


def test_song_years_refuses_a_bad_row_count():
    with pytest.raises(ValueError, match="between 1 and 515,345"):
        load_song_years(0)
    with pytest.raises(ValueError, match="at least 1"):
        make_song_like(0)


def test_song_fallback_repeats_and_has_learnable_signal():
    first, second = make_song_like(3000, seed=1), make_song_like(3000, seed=1)
    assert first.equals(second)
    x, y = first.drop(columns="year").to_numpy(np.float64), first["year"].to_numpy()
    x1 = np.c_[(x - x.mean(0)) / x.std(0), np.ones(len(x))]
    fitted = x1 @ np.linalg.lstsq(x1, y, rcond=None)[0]
    assert np.mean((fitted - y) ** 2) < 0.9 * y.var()  # a linear model explains some of it


@pytest.mark.parametrize("counts", [(70, 30), (50, 30, 20)])
def test_oversampling_copies_minority_rows_only(counts):
    labels = np.repeat(np.arange(len(counts)), counts)
    rows = oversample_indices(labels, seed=3)
    assert np.bincount(labels[rows]).tolist() == [max(counts)] * len(counts)
    assert set(rows.tolist()) == set(range(len(labels)))  # every row kept at least once
    copies = np.bincount(rows, minlength=len(labels)) > 1
    assert not copies[labels == 0].any()  # the largest class is never copied


@pytest.mark.parametrize("counts", [(70, 30), (50, 30, 20)])
def test_undersampling_drops_majority_rows_only(counts):
    labels = np.repeat(np.arange(len(counts)), counts)
    rows = undersample_indices(labels, seed=3)
    assert np.bincount(labels[rows]).tolist() == [min(counts)] * len(counts)
    assert len(set(rows.tolist())) == len(rows)  # no copies
    smallest = len(counts) - 1
    assert set(np.flatnonzero(labels == smallest)) <= set(rows.tolist())  # minority kept


def test_resampling_is_reproducible_and_rejects_bad_labels():
    labels = np.array([0] * 8 + [1] * 2)
    assert np.array_equal(oversample_indices(labels, seed=5), oversample_indices(labels, seed=5))
    with pytest.raises(ValueError, match="one-dimensional"):
        oversample_indices(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="only the class"):
        undersample_indices(np.ones(5))


def test_choosing_on_the_test_set_is_optimistic():
    result = simulate_test_selection(0.8, num_models=20, num_examples=1000, repeats=3000)
    assert result["chosen_on_test"] > 0.8 + 0.015
    assert abs(result["chosen_on_dev"] - 0.8) < 0.003
    one = simulate_test_selection(0.8, num_models=1, num_examples=1000, repeats=3000)
    assert abs(one["chosen_on_test"] - 0.8) < 0.003  # one model: nothing to choose
    with pytest.raises(ValueError):
        simulate_test_selection(1.5)
