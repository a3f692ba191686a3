import matplotlib
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

matplotlib.use("Agg")  # plots render without a display


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """Tests never see the caller's COURSE_* settings nor touch the real data folder."""
    for name in ("COURSE_FAST", "COURSE_DEVICE", "COURSE_OFFLINE", "COURSE_METRICS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def blobs():
    """A small 3-class problem that a linear model separates well: (train_loader, dev_loader)."""
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = torch.arange(600) % 3
    x = centers[y] + torch.randn(600, 2, generator=g)
    train = DataLoader(TensorDataset(x[:480], y[:480]), batch_size=32, shuffle=True)
    dev = DataLoader(TensorDataset(x[480:], y[480:]), batch_size=64)
    return train, dev


def make_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
