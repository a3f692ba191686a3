import pytest
import torch
from torch import nn

from course_utils import (DeviceLoader, ImageDataset, Runner, accuracy, random_grayscale, random_horizontal_flip,
                          set_seed)


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


def test_generator_fixes_the_order():
    x, y = torch.arange(20).float().view(20, 1), torch.arange(20)
    orders = [torch.cat([b for _, b in DeviceLoader(x, y, 8, shuffle=True, generator=torch.Generator().manual_seed(3))])
              for _ in range(2)]
    assert torch.equal(orders[0], orders[1]) and orders[0].tolist() != list(range(20))


def test_random_grayscale_matches_torchvision_per_image():
    from torchvision.transforms import v2

    images = torch.rand(4, 3, 5, 6)
    assert torch.allclose(random_grayscale(images, p=1.0), torch.stack([v2.Grayscale(3)(im) for im in images]),
                          atol=1e-6)
    assert torch.equal(random_grayscale(images, p=0.0), images)
    torch.manual_seed(0)
    mixed = random_grayscale(torch.rand(2000, 3, 1, 1), p=0.25)
    grey = (mixed[:, 0] == mixed[:, 1]).float().mean().item()
    assert 0.2 < grey < 0.3, "each image decides on its own"
    with pytest.raises(ValueError, match="RGB"):
        random_grayscale(torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError, match="float pixel values"):
        random_grayscale(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))  # would otherwise turn black


def test_image_dataset_device_loader_equals_its_items():
    images = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    dataset = ImageDataset(images, torch.arange(10) % 3, ["a", "b", "c"], (0.5, 0.4, 0.3), (0.2, 0.2, 0.2),
                           "toy", "real", "toy images")
    loader = dataset.device_loader(4, "cpu")
    batch_x, batch_y = next(iter(loader))
    assert len(loader) == 3
    assert torch.allclose(batch_x, torch.stack([dataset[i][0] for i in range(4)]))
    assert torch.equal(batch_y, dataset.targets[:4])
    blank, _ = next(iter(dataset.device_loader(4, "cpu", transform=torch.zeros_like)))
    mean, std = torch.tensor(dataset.mean).view(-1, 1, 1), torch.tensor(dataset.std).view(-1, 1, 1)
    assert torch.allclose(blank, (-mean / std).expand(4, 3, 4, 4))  # the transform sees pixels; normalising follows
    augmented = ImageDataset(images, dataset.targets, dataset.classes, dataset.mean, dataset.std, "toy", "real",
                             "toy images", transform=lambda image: image.flip(-1))
    for batch_transform in (None, lambda x: x):
        with pytest.raises(ValueError, match="per-image transform"):
            augmented.device_loader(4, "cpu", transform=batch_transform)


def test_image_dataset_device_loader_passes_shuffle_generator_and_drop_last_on():
    dataset = ImageDataset(torch.zeros(10, 1, 2, 2, dtype=torch.uint8), torch.arange(10), [str(i) for i in range(10)],
                           (0.5,), (0.5,), "toy", "real", "toy images")
    order = torch.cat([y for _, y in dataset.device_loader(3, "cpu", shuffle=True,
                                                           generator=torch.Generator().manual_seed(1))])
    expected = torch.cat([y for _, y in DeviceLoader(torch.zeros(10), torch.arange(10), 3, shuffle=True,
                                                      generator=torch.Generator().manual_seed(1))])
    assert torch.equal(order, expected) and order.tolist() != list(range(10))
    assert len(dataset.device_loader(3, "cpu", drop_last=True)) == 3 and len(dataset.device_loader(3, "cpu")) == 4



def test_horizontal_flip_keeps_the_shape_of_greyscale_batches():
    images = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)  # (B, H, W)
    flipped = random_horizontal_flip(images, p=1.0)
    assert flipped.shape == images.shape and torch.equal(flipped, images.flip(-1))
    assert torch.equal(random_horizontal_flip(images, p=0.0), images)
    with pytest.raises(ValueError, match="batch of images"):
        random_horizontal_flip(torch.ones(5))
