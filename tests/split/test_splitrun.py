"""Split training: gradients equal the unsplit model's at every partition point; traffic; a short run."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from edgetune.errors import InputError
from edgetune.split.data import Split
from edgetune.split.energy import PROFILES, LinkProfile, VirtualClock
from edgetune.split.models import make_model
from edgetune.split.profiler import profile_blocks
from edgetune.split.splitrun import SplitTrainer, Topology, Traffic, images_per_second, split_forward_backward


@pytest.mark.parametrize("name", ["lenet", "resnet20", "vgg"])
@pytest.mark.parametrize("bits", [32, 4, 1])
def test_split_gradients_equal_unsplit_at_every_partition(name: str, bits: int) -> None:
    torch.manual_seed(0)
    model = make_model(name, width=0.0625, image_size=16, bits=bits)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(6, 1, 16, 16, generator=gen)
    y = torch.randint(0, 10, (6,), generator=gen)
    ref = copy.deepcopy(model)
    ref_loss = F.cross_entropy(ref(x), y)
    ref_loss.backward()
    for j in model.partitions:
        split = copy.deepcopy(model)
        loss = split_forward_backward(split, j, x, y)
        assert loss == pytest.approx(float(ref_loss.detach()), rel=1e-6)
        for (pname, p), q in zip(split.named_parameters(), ref.parameters(), strict=True):
            assert p.grad is not None and q.grad is not None
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-6, msg=f"{name} j={j} {pname}")


def test_traffic_counts_activations_gradients_labels() -> None:
    model = make_model("lenet", width=0.125, image_size=16, bits=4)
    x, y = torch.rand(5, 1, 16, 16), torch.randint(0, 10, (5,))
    traffic = Traffic()
    split_forward_backward(model, 1, x, y, traffic)
    numel = 8 * 8 * 8  # block 1 output per sample: 8 channels x 8 x 8 (width 1/8, 16x16 input)
    assert traffic.activation_bits == 5 * (numel * 4 + 32)
    assert traffic.gradient_bits == 5 * numel * 32
    assert traffic.label_bits == 5 * 64


def test_bad_partition_is_input_error() -> None:
    model = make_model("lenet", width=0.125, image_size=16)
    with pytest.raises(InputError, match="partition"):
        split_forward_backward(model, 5, torch.rand(1, 1, 16, 16), torch.tensor([0]))


def _toy_data(n: int = 192) -> Split:
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (n,), generator=gen)
    x = torch.rand(n, 1, 16, 16, generator=gen) * 0.3
    for c in range(4):  # class c lights up quadrant c: an easy task
        r, col = divmod(c, 2)
        x[y == c, :, r * 8 : r * 8 + 8, col * 8 : col * 8 + 8] += 0.7
    return Split(x[:128], y[:128], x[128:], y[128:])


def test_short_split_run_decreases_loss_and_charges_clock() -> None:
    torch.manual_seed(0)
    model = make_model("lenet", width=0.125, image_size=16, num_classes=4, bits=4)
    data = _toy_data()
    clock = VirtualClock(host_mac_per_s=1e9)
    topo = Topology(
        device=PROFILES["pi5"],
        server=PROFILES["rtx3090"],
        cloud=PROFILES["a100"],
        wifi=LinkProfile.shannon(2e7, 100.0, 5e-8),
        backhaul=LinkProfile(1e9, 1e-9),
    )
    trainer = SplitTrainer(model, data, clock, batch_size=32)
    rng = np.random.default_rng(0)
    first = trainer.run_epoch(2, topo, rng)
    for j in (1, 3, 2, 4):  # the partition may move between epochs
        last = trainer.run_epoch(j, topo, rng)
    assert last.val_loss < first.val_loss
    assert last.train_loss < first.train_loss
    assert {"pi5", "rtx3090", "a100", "edge<->device", "cloud<->edge"} <= set(clock.energy_j)
    sizes = [b.size_bits for b in profile_blocks(model)]
    assert trainer.traffic.full_model_bits == 2 * 5 * sum(sizes)
    assert trainer.traffic.shallow_weight_bits == 2 * sum(sum(sizes[:j]) for j in (2, 1, 3, 2, 4))
    # energy of each compute node = rated power x its virtual busy time
    for name in ("pi5", "rtx3090"):
        assert clock.energy_j[name] == pytest.approx(clock.time_s[name] * PROFILES[name].busy_w)
    assert clock.total_time_s == pytest.approx(sum(r.time_s for r in trainer.records))


def test_virtual_clock_speed_factor() -> None:
    clock = VirtualClock(host_mac_per_s=2e10)
    seconds = clock.compute(PROFILES["pi5"], 0.5)  # pi5 is 2x slower than this "host"
    assert seconds == pytest.approx(1.0)
    assert clock.energy_j["pi5"] == pytest.approx(12.0)
    assert clock.transfer("wifi", LinkProfile(1e6, 1e-8), 2e6) == pytest.approx(2.0)
    assert clock.energy_j["wifi"] == pytest.approx(0.02)


def test_images_per_second_positive() -> None:
    model = make_model("lenet", width=0.125, image_size=16)
    x, y = torch.rand(64, 1, 16, 16), torch.randint(0, 10, (64,))
    assert images_per_second(model, x, y, None, steps=2, batch_size=16) > 0
    assert images_per_second(model, x, y, 2, steps=2, batch_size=16) > 0
