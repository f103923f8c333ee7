import pytest
import torch

from sslvit_lite.device_data import DoesNotFitError, EpochSampler, available_bytes, estimate_bytes, to_device


def uint8_images(n=10, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


def test_estimate_bytes_is_one_byte_per_value():
    assert estimate_bytes(50_000, 3, 32, 32) == 153_600_000  # CIFAR-10 train at 32 px
    assert estimate_bytes(0, 3, 32, 32) == 0
    with pytest.raises(ValueError):
        estimate_bytes(-1, 3, 32, 32)


def test_available_bytes_on_cpu_is_positive():
    assert available_bytes("cpu") > 0


def test_same_size_on_cpu_is_used_without_a_copy(capsys):
    x = uint8_images()
    data = to_device(x, None, 8, "cpu")
    assert data.images.data_ptr() == x.data_ptr() and len(data) == 10
    assert "10 × 3×8×8 uint8 = 1.9 kB on cpu" in capsys.readouterr().out


def test_resize_happens_once_and_keeps_constants():
    x = torch.full((5, 3, 12, 12), 77, dtype=torch.uint8)
    x[1] = 200
    data = to_device(x, torch.arange(5), 6, "cpu", verbose=False)
    assert data.images.shape == (5, 3, 6, 6) and data.images.dtype == torch.uint8
    assert (data.images[0] == 77).all() and (data.images[1] == 200).all()
    assert torch.equal(data.labels, torch.arange(5))
    assert torch.equal(data.batch(torch.tensor([1, 0])), data.images[[1, 0]])


def test_refuses_with_advice_when_it_does_not_fit():
    with pytest.raises(DoesNotFitError) as err:
        to_device(uint8_images(), None, 64, "cpu", fraction=1e-12)
    message = str(err.value)
    assert "need" in message and "smaller resolution" in message and "subset" in message and "loader" in message


def test_host_placement_gives_the_same_batches():
    x = uint8_images()
    dev = to_device(x, None, 4, "cpu", verbose=False)
    host = to_device(x, None, 4, "cpu", placement="host", verbose=False)
    idx = torch.tensor([3, 1, 4])
    assert torch.equal(dev.batch(idx), host.batch(idx))


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="uint8"):
        to_device(torch.zeros(2, 3, 4, 4), None, 4, "cpu")
    with pytest.raises(ValueError, match="placement"):
        to_device(uint8_images(), None, 16, "cpu", placement="disk")


def test_sampler_epochs_are_permutations_with_drop_last():
    sampler = EpochSampler(n=103, batch_size=10, seed=1)
    assert len(sampler) == 10
    table = sampler.epoch_batches(0)  # (10, 10)
    assert table.shape == (10, 10) and table.dtype == torch.int64
    assert len(set(table.flatten().tolist())) == 100  # no repeats, 3 dropped
    assert not torch.equal(table, sampler.epoch_batches(1))
    assert torch.equal(table, EpochSampler(103, 10, seed=1).epoch_batches(0))
    assert not torch.equal(table, EpochSampler(103, 10, seed=2).epoch_batches(0))


def test_sampler_resumes_mid_epoch_exactly():
    sampler = EpochSampler(n=50, batch_size=8, seed=0)  # 6 steps per epoch
    stream = sampler.batches(0)
    first = [next(stream) for _ in range(20)]
    resumed = sampler.batches(9)
    for step, idx in first[9:]:
        s, j = next(resumed)
        assert s == step and torch.equal(idx, j)


def test_ranks_share_out_each_global_batch():
    single = EpochSampler(n=64, batch_size=12, seed=3)
    ranks = [EpochSampler(n=64, batch_size=4, seed=3, rank=r, world_size=3) for r in range(3)]
    assert len(single) == len(ranks[0]) == 5
    for epoch in (0, 1):
        joined = torch.cat([r.epoch_batches(epoch) for r in ranks], dim=1)  # (steps, 12)
        assert torch.equal(joined, single.epoch_batches(epoch))


def test_sampler_rejects_too_few_images():
    with pytest.raises(ValueError, match="fewer than one global batch"):
        EpochSampler(n=10, batch_size=8, world_size=2)


def test_cuda_check_uses_free_device_memory_and_suggests_host_placement(monkeypatch):
    from sslvit_lite.device_data import check_fits

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (400_000_000, 16_000_000_000))
    assert check_fits(50_000, 32, "cuda") == 153_600_000  # 154 MB < half of 400 MB free
    with pytest.raises(DoesNotFitError) as err:
        check_fits(50_000, 64, "cuda")  # 614 MB
    message = str(err.value)
    assert "cuda memory" in message and "placement='host'" in message and "img_size=32" in message
