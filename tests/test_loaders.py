import pytest
import torch
from torch import nn

from course_utils import DeviceLoader, Runner, accuracy, random_horizontal_flip, set_seed


def test_every_sample_once_per_epoch_and_shuffle_repeats_with_seed():
    x, y = torch.arange(10).float().view(10, 1), torch.arange(10)
    loader = DeviceLoader(x, y, batch_size=4, shuffle=True)
    assert len(loader) == 3 and len(DeviceLoader(x, y, batch_size=4, drop_last=True)) == 2
    set_seed(0)
    first = torch.cat([batch_y for _, batch_y in loader])
    assert sorted(first.tolist()) == list(range(10)) and first.tolist() != list(range(10))
    set_seed(0)
    assert torch.equal(torch.cat([batch_y for _, batch_y in loader]), first)
    for batch_x, batch_y in loader:
        assert torch.equal(batch_x.view(-1).long(), batch_y)  # inputs stay paired with their targets


def test_random_horizontal_flip_flips_whole_images():
    images = torch.arange(2 * 3 * 2 * 4).float().view(2, 3, 2, 4)
    assert torch.equal(random_horizontal_flip(images, p=1.0), images.flip(-1))
    assert torch.equal(random_horizontal_flip(images, p=0.0), images)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="differ in length"):
        DeviceLoader(torch.zeros(3, 1), torch.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(torch.zeros(3, 1), torch.zeros(3), batch_size=0)


def test_runner_trains_from_a_device_loader(blobs):
    train, dev = blobs
    x, y = train.dataset.tensors
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    runner = Runner(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                    metrics={"acc": accuracy}, device="cpu")
    runner.train(DeviceLoader(x, y, batch_size=32, shuffle=True), dev, num_epochs=3)
    assert runner.evaluate(dev)["acc"] > 0.9
