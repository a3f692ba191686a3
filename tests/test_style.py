"""Chapter 10's helpers: normalisation, image loading, the registry entries, weights and fallbacks."""

import hashlib
import re

import pytest
import torch
from PIL import Image
from torch import nn
from torchvision import transforms
from torchvision.models import VGG19_Weights

from course_utils import data, style


def test_normalize_round_trip_and_torchvision_agree():
    pixels = torch.rand(2, 3, 5, 7)
    normalised = style.normalize(pixels)
    expected = transforms.Normalize(style.IMAGENET_MEAN, style.IMAGENET_STD)(pixels)
    assert torch.allclose(normalised, expected, atol=1e-6)
    assert torch.allclose(style.unnormalize(normalised), pixels, atol=1e-6)


def test_normalisation_rejects_images_without_three_channels():
    with pytest.raises(ValueError, match="RGB"):
        style.normalize(torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="RGB"):
        style.unnormalize(torch.rand(4, 4))


def test_to_display_detaches_unnormalises_and_clamps():
    image = style.normalize(torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2).clone())
    image[0, 0, 0, 0] = 50.0  # far outside the pixel range after un-normalising
    image.requires_grad_(True)
    shown = style.to_display(image)
    assert shown.shape == (2, 2, 3)
    assert shown.min() >= 0 and shown.max() <= 1
    assert shown[0, 0, 0] == 1.0 and abs(shown[1, 1, 1] - 0.5) < 1e-6
    with pytest.raises(ValueError, match="one image"):
        style.to_display(torch.zeros(2, 3, 4, 4))


def test_load_image_resizes_the_short_side_and_crops_the_centre(tmp_path):
    wide = Image.new("RGB", (90, 60), (255, 0, 0))
    for x in range(12):  # a blue band at the left edge, cut off by the centre crop
        for y in range(60):
            wide.putpixel((x, y), (0, 0, 255))
    path = tmp_path / "wide.png"
    wide.save(path)
    loaded = style.load_image(path, 40)
    assert loaded.shape == (1, 3, 40, 40)
    pixels = style.unnormalize(loaded)
    assert pixels[0, 0].mean() > 0.95 and pixels[0, 2].mean() < 0.05  # only red is left
    grey = style.load_image(Image.new("L", (50, 50), 128), 32)  # grey images become RGB
    assert grey.shape == (1, 3, 32, 32)


@pytest.mark.parametrize("size", [16, 40.0, "64"])
def test_load_image_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="size"):
        style.load_image(Image.new("RGB", (64, 64)), size)


def test_registry_entries_are_real_and_consistent():
    for info in (style.CONTENT_PHOTO, style.STYLE_PAINTING, style.VGG19_IMAGENET):
        assert data.dataset_info(info.name) is info
        for remote in info.files:
            assert re.fullmatch(r"[0-9a-f]{64}", remote.sha256)
            assert all(url.startswith("https://") for url in remote.urls)
    weights = style.VGG19_IMAGENET.files[0]
    # torchvision names its files <arch>-<first 8 hex digits of the SHA-256>.pth
    assert weights.name == VGG19_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    assert weights.sha256.startswith(weights.name.split("-")[1].split(".")[0])
    assert round(weights.size / 2 ** 20, 3) == VGG19_Weights.IMAGENET1K_V1.meta["_file_size"]


def test_offline_images_fall_back_with_one_line_each(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "_ANNOUNCED", set())
    content, content_source = style.load_content_image(32)
    painting, painting_source = style.load_style_image(32)
    style.load_style_image(32)  # a second call says nothing new
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 2 and all("FALLBACK" in line for line in lines)
    assert content.shape == painting.shape == (1, 3, 32, 32)
    for source in (content_source, painting_source):
        assert source.is_fallback and source.name.startswith("FALLBACK")
        assert source.description.startswith("FALLBACK")


def test_real_images_are_used_when_present(monkeypatch, tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (48, 40), (10, 200, 30)).save(photo)
    remote = data.RemoteFile("chelsea.png", data.sha256sum(photo), ("https://example.invalid/x",))
    monkeypatch.setitem(data.DATASETS, "style_content",
                        data.DatasetInfo("style_content", "Test photo (test)", "style", (remote,), "none", "none"))
    folder = tmp_path / "data" / "style"
    folder.mkdir(parents=True)
    (folder / "chelsea.png").write_bytes(photo.read_bytes())
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    image, source = style.load_content_image(32)
    assert not source.is_fallback
    assert torch.allclose(style.unnormalize(image)[0, :, 5, 5], torch.tensor([10, 200, 30]) / 255, atol=0.02)


def test_brush_strokes_are_deterministic_and_painting_like():
    first, second = style.brush_strokes(64, seed=3), style.brush_strokes(64, seed=3)
    assert first.size == (64, 64) and first.tobytes() == second.tobytes()
    assert first.tobytes() != style.brush_strokes(64, seed=4).tobytes()
    pixels = transforms.functional.to_tensor(first)
    assert pixels.std() > 0.1  # strokes, not a flat colour


def _tiny_vgg(*args, **kwargs):
    """Stands in for torchvision's vgg19 builder so a test can save a small 'weights file'."""
    model = nn.Module()
    model.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    model.classifier = nn.Sequential(nn.Linear(4, 2))
    return model


def test_random_fallback_network_is_seeded(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(data, "_ANNOUNCED", set())
    monkeypatch.setattr(style, "vgg19", _tiny_vgg)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first, source = style.load_vgg19(seed=0)
    assert torch.equal(torch.rand(1), before)  # the global random stream is untouched
    second, _ = style.load_vgg19(seed=0)
    third, _ = style.load_vgg19(seed=1)
    assert source.is_fallback and "random" in source.description
    assert torch.equal(first.features[0].weight, second.features[0].weight)
    assert not torch.equal(first.features[0].weight, third.features[0].weight)
    assert capsys.readouterr().out.count("FALLBACK") == 1


def _fake_weights(monkeypatch, tmp_path):
    """A small state dict saved under torchvision's file name, registered with its own SHA-256."""
    monkeypatch.setattr(style, "vgg19", _tiny_vgg)
    torch.manual_seed(7)
    state = _tiny_vgg().state_dict()
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    remote = data.RemoteFile(path.name, digest, ("https://example.invalid/vgg19-dcbb9e9d.pth",), path.stat().st_size)
    info = data.DatasetInfo("vgg19_imagenet", "VGG-19 weights (test)", "vgg19", (remote,), "none", "none")
    monkeypatch.setitem(data.DATASETS, "vgg19_imagenet", info)
    monkeypatch.setattr(style, "VGG19_IMAGENET", info)
    return path, state


def test_weights_are_found_in_torch_home(monkeypatch, tmp_path):
    path, state = _fake_weights(monkeypatch, tmp_path)
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / path.name).write_bytes(path.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    model, source = style.load_vgg19()
    assert not source.is_fallback
    assert torch.equal(model.features[0].weight, state["features.0.weight"])


def test_weights_are_found_in_the_data_folder_and_damaged_ones_are_refused(monkeypatch, tmp_path, capsys):
    path, state = _fake_weights(monkeypatch, tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "_ANNOUNCED", set())
    folder = tmp_path / "data" / "vgg19"  # conftest points COURSE_DATA_DIR at tmp_path / "data"
    folder.mkdir(parents=True)
    (folder / path.name).write_bytes(path.read_bytes())
    model, source = style.load_vgg19()
    assert not source.is_fallback
    assert torch.equal(model.features[0].weight, state["features.0.weight"])

    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 0xFF  # same size, different bytes
    (folder / path.name).write_bytes(bytes(damaged))
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / path.name).write_bytes(bytes(damaged))
    model, source = style.load_vgg19()
    assert source.is_fallback
    out = capsys.readouterr().out
    assert "does not match the published SHA-256" in out and "FALLBACK" in out
