"""How much time does the Runner add over a plain, hand-written PyTorch loop?

Same model (the original course's SimpleCNN), same data, same epochs, same
optimizer; the plain loop sums the loss on the device and reads it once per
epoch, as the Runner does (a good hand-written loop waits for the GPU no more
often). Runs alternate so that both see the same machine load. Budget: at most
5% overhead. `runner_tabular.py` does the same for a small MLP on a table.

    python benchmarks/runner_overhead.py [--device cpu] [--num-images 8192] [--epochs 2] [--repeats 5] [--report]
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from common import SimpleCNN, alternating, benchmark_parser, fake_images, median, plain_loop, save_result
from course_utils import Runner, get_device, set_seed

BUDGET = 1.05


def main() -> None:
    parser = benchmark_parser(__doc__, num_images=8192)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = get_device(args.device)
    x, y = fake_images(args.num_images, (1, 28, 28))
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True)

    def fresh():
        set_seed(0)
        model = SimpleCNN().to(device)
        return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)

    def run_plain():
        model, optimizer = fresh()
        plain_loop(model, optimizer, nn.CrossEntropyLoss(), loader, args.epochs, device)

    def run_runner():
        model, optimizer = fresh()
        runner = Runner(model, optimizer, nn.CrossEntropyLoss(), device=device)
        runner.train(loader, num_epochs=args.epochs, progress=False, verbose=False)

    plain, runner = alternating(run_plain, run_runner, device, args.repeats)
    ratio = median(runner) / median(plain)
    print(f"device {device}, {args.num_images} images x {args.epochs} epochs, batch {args.batch_size}, "
          f"{args.repeats} alternating runs")
    print(f"plain loop: median {median(plain):.3f} s   Runner: median {median(runner):.3f} s")
    print(f"Runner / plain = {ratio:.3f}  (budget <= {BUDGET:.2f}: {'PASS' if ratio <= BUDGET else 'FAIL'})")
    if args.report:
        save_result("runner_overhead", device, {
            "value": round(ratio, 3), "unit": "Runner time / plain loop time", "budget": f"<= {BUDGET}",
            "passed": ratio <= BUDGET, "plain_s": round(median(plain), 3), "runner_s": round(median(runner), 3),
            "setting": f"SimpleCNN, {args.num_images} images x {args.epochs} epochs, batch {args.batch_size}, "
                       f"median of {args.repeats} alternating runs"})


if __name__ == "__main__":
    main()
