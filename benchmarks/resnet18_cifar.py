"""ResNet-18 on CIFAR-10-shaped data: seconds per epoch with bf16 autocast and channels-last.

Uses the Runner's `amp=True, channels_last=True` options on a GPU and a
device-resident loader. Budget on an H200: at most 1.5 s per epoch of 50,000
images (measured reference: 1.09 s). On a CPU, run it with a small
--num-images to see the per-image cost; the options stay off there (they are
slower on a CPU), and the time is scaled to 50,000 images in the report.

    python benchmarks/resnet18_cifar.py [--device cuda] [--num-images N] [--epochs 3] [--report]
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from common import benchmark_parser, fake_images, median, save_result, timed
from course_utils import DeviceLoader, Runner, get_device, random_horizontal_flip, set_seed

BUDGET = 1.5


def main() -> None:
    parser = benchmark_parser(__doc__, num_images=None, images_help="default: 50,000 on a GPU, 1,024 on a CPU")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    device = get_device(args.device)
    on_gpu = device.type == "cuda"
    args.num_images = args.num_images or (50000 if on_gpu else 1024)
    set_seed(0)
    x, y = fake_images(args.num_images, (3, 32, 32))
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    runner = Runner(model, optimizer, nn.CrossEntropyLoss(), device=device, amp=on_gpu, channels_last=on_gpu)
    loader = DeviceLoader(x.to(device), y.to(device), batch_size=args.batch_size, shuffle=True,
                          transform=random_horizontal_flip)
    runner.train(loader, num_epochs=1, progress=False, verbose=False)  # warm-up
    times = timed(lambda: runner.train(loader, num_epochs=1, progress=False, verbose=False), device,
                  args.epochs)
    per_epoch = median(times)
    full_epoch = per_epoch * 50000 / args.num_images
    print(f"device {device}, amp {runner.amp}, channels_last {runner.channels_last}: "
          f"{per_epoch:.3f} s per epoch of {args.num_images} images (median of {args.epochs})")
    if on_gpu:
        print(f"budget <= {BUDGET} s per 50,000-image epoch: {'PASS' if full_epoch <= BUDGET else 'FAIL'}")
    if args.report:
        save_result("resnet18_cifar", device, {
            "value": round(full_epoch, 3), "unit": "seconds per epoch of 50,000 CIFAR-shaped images",
            "budget": f"<= {BUDGET} on a GPU", "passed": full_epoch <= BUDGET if on_gpu else None,
            "setting": f"torchvision ResNet-18, batch {args.batch_size}, amp and channels-last {on_gpu}, "
                       f"median of {args.epochs} epochs of {args.num_images} images"
                       + ("" if args.num_images == 50000 else ", scaled to 50,000 images")})


if __name__ == "__main__":
    main()
