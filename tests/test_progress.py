"""Progress bars during Runner training: on in notebooks and terminals, off in CI and book builds."""

import pytest
import torch
from torch import nn

from course_utils import Runner
from course_utils.runner import progress_wanted


@pytest.fixture(autouse=True)
def _no_progress_setting(monkeypatch):
    monkeypatch.delenv("COURSE_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)


@pytest.mark.parametrize("value,expected", [("0", False), ("off", False), ("1", True), ("yes", True)])
def test_environment_variable_decides(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_PROGRESS", value)
    assert progress_wanted() is expected
    assert progress_wanted(True) is True and progress_wanted(False) is False  # the argument wins


def test_ci_is_quiet(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)  # a terminal would show bars ...
    monkeypatch.setenv("CI", "true")  # ... but not in CI
    assert progress_wanted() is False


def test_a_log_file_is_quiet(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)  # stderr goes to a log, not a notebook
    assert progress_wanted() is False


def test_a_terminal_shows_bars(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert progress_wanted() is True


def test_bad_setting_is_explained(monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS", "maybe")
    with pytest.raises(ValueError, match="COURSE_PROGRESS"):
        progress_wanted()


def _train(monkeypatch, setting, capsys):
    monkeypatch.setenv("COURSE_PROGRESS", setting)
    x, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    model = nn.Linear(3, 2)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss())
    runner.train(loader, num_epochs=1, verbose=False)
    return capsys.readouterr().err


def test_runner_draws_a_bar_only_when_asked(monkeypatch, capsys):
    assert "epoch 1/1" in _train(monkeypatch, "1", capsys)
    assert "epoch 1/1" not in _train(monkeypatch, "0", capsys)
