"""ResNet-18 on CIFAR-10-shaped data: seconds per epoch with bf16 autocast and channels-last.

Uses the Runner's `amp=True, channels_last=True` options (CUDA only) and a
device-resident loader. Budget on an H200: at most 1.5 s per epoch of 50,000
images (measured reference: 1.09 s). On a CPU, run it with a small
--num-images to see the per-image cost; the options are off there.

    python benchmarks/resnet18_cifar.py [--device cuda] [--num-images 50000] [--epochs 3]
"""

from __future__ import annotations

import argparse

import torch
import torchvision
from torch import nn

from common import fake_images, median, timed
from course_utils import DeviceLoader, Runner, get_device, random_horizontal_flip, set_seed

BUDGET = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--num-images", type=int, default=50000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    device = get_device(args.device)
    set_seed(0)
    x, y = fake_images(args.num_images, (3, 32, 32))
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    runner = Runner(model, optimizer, nn.CrossEntropyLoss(), device=device, amp=True, channels_last=True)
    loader = DeviceLoader(x.to(device), y.to(device), batch_size=args.batch_size, shuffle=True,
                          transform=random_horizontal_flip)
    runner.train(loader, num_epochs=1, progress=False, verbose=False)  # warm-up
    times = timed(lambda: runner.train(loader, num_epochs=1, progress=False, verbose=False), device,
                  args.epochs)
    per_epoch = median(times)
    print(f"device {device}, amp {runner.amp}, channels_last {runner.channels_last}: "
          f"{per_epoch:.3f} s per epoch of {args.num_images} images (median of {args.epochs})")
    if device.type == "cuda":
        print(f"budget <= {BUDGET} s per 50,000-image epoch: "
              f"{'PASS' if per_epoch * 50000 / args.num_images <= BUDGET else 'FAIL'}")


if __name__ == "__main__":
    main()
