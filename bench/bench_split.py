"""Images/s of split training against unsplit training (the split's own overhead), on this host.

Run: ``python bench/bench_split.py [--width 0.25] [--image-size 28] [--steps 20]``. One torch thread.
The split pass (:func:`edgetune.split.splitrun.split_forward_backward`) adds a detached copy of the
activations, a copy of the returned gradients and a second backward call per batch; the aim is an
overhead below 10 % at every partition point.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from edgetune.split.models import make_model
from edgetune.split.splitrun import images_per_second

AIM_OVERHEAD = 0.10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--image-size", type=int, default=28)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.rand(256, 1, args.image_size, args.image_size)
    y = torch.randint(0, 10, (256,))
    print(f"width {args.width}, {args.image_size}x{args.image_size}, {args.bits}-bit, batch 64")
    print(f"best of {args.repeats} interleaved (unsplit, split) pairs; overhead = median pair ratio - 1")
    print(f"{'model':9} {'partition':>9} {'unsplit/s':>10} {'split/s':>10} {'overhead':>9}")
    worst = 0.0
    for name in ("lenet", "resnet20", "vgg"):
        model = make_model(name, width=args.width, image_size=args.image_size, bits=args.bits)
        for j in model.partitions:
            # interleave unsplit and split runs so that load from other jobs hits both alike
            pairs = [
                (
                    images_per_second(model, x, y, None, steps=args.steps),
                    images_per_second(model, x, y, j, steps=args.steps),
                )
                for _ in range(args.repeats)
            ]
            base, ips = max(p[0] for p in pairs), max(p[1] for p in pairs)
            overhead = float(np.median([u / s - 1.0 for u, s in pairs]))
            worst = max(worst, overhead)
            print(f"{name:9} {'p' + str(j):>9} {base:10.1f} {ips:10.1f} {overhead:9.1%}")
    verdict = "meets" if worst <= AIM_OVERHEAD else "misses"
    print(f"worst split overhead {worst:.1%} ({verdict} the aim of <= {AIM_OVERHEAD:.0%})")


if __name__ == "__main__":
    main()
