"""How often does a training step wait for the GPU? (host synchronisations per step)

Trains the tabular MLP of `runner_tabular.py` with the Runner under
`torch.cuda.set_sync_debug_mode("warn")`, which warns at every call that makes
the CPU wait for the GPU (`.item()`, `float(tensor)`, a copy to the CPU, ...),
and counts the warnings over two epochs. Budget: at most 0.1 per step (a few
per evaluation are fine; one per step is not). CUDA only: on a CPU the unit test
`tests/test_reliability.py` counts host reads instead.

    python benchmarks/host_syncs.py [--num-images 24000] [--report]
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from common import benchmark_parser, save_result
from course_utils import DeviceLoader, Runner, accuracy, get_device, set_seed
from runner_tabular import NUM_FEATURES, credit_mlp

BUDGET = 0.1


def main() -> None:
    parser = benchmark_parser(__doc__, num_images=24000, images_help="rows of the table")
    args = parser.parse_args()
    device = get_device(args.device)
    if device.type != "cuda":
        raise SystemExit("host_syncs.py needs a CUDA GPU; on a CPU, tests/test_reliability.py counts host reads.")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.num_images, NUM_FEATURES, generator=g)
    y = (x[:, :3].sum(1) > 0.8).long()
    loader = DeviceLoader(x, y, batch_size=128, shuffle=True, device=device)
    dev_loader = DeviceLoader(x[:4096], y[:4096], batch_size=1024, device=device)
    set_seed(0)
    model = credit_mlp()
    runner = Runner(model, torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(),
                    metrics={"acc": accuracy}, device=device)
    runner.train(loader, dev_loader, num_epochs=1, verbose=False)  # warm-up
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        runner.train(loader, dev_loader, num_epochs=3, verbose=False)  # two more epochs
        torch.cuda.set_sync_debug_mode(0)
    syncs = sum("synchroniz" in str(w.message).lower() for w in caught)
    per_step = syncs / (2 * len(loader))
    print(f"{syncs} synchronising calls in 2 epochs of {len(loader)} steps (with a dev evaluation each): "
          f"{per_step:.3f} per step (budget <= {BUDGET}: {'PASS' if per_step <= BUDGET else 'FAIL'})")
    if args.report:
        save_result("host_syncs", device, {
            "value": round(per_step, 3), "unit": "host synchronisations per training step",
            "budget": f"<= {BUDGET}", "passed": per_step <= BUDGET, "syncs": syncs,
            "setting": f"Runner, MLP 23-100-100-50-50-2, accuracy metric, {args.num_images} rows, batch 128, "
                       f"DeviceLoader, 2 epochs with a dev evaluation each"})


if __name__ == "__main__":
    main()
