"""How work is split between processes, checked in one process (no process group needed).

The ranks are simulated by setting ``rank`` / ``world_size``: what matters is that the shares
of all processes together are exactly the single-process batches.
"""

from __future__ import annotations

import datetime

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, RandomSampler, TensorDataset, WeightedRandomSampler

from headstart.cli.main import main
from headstart.engine import distributed
from headstart.errors import HeadstartError


@pytest.mark.parametrize("n, batch, world", [(0, 8, 2), (5, 8, 2), (130, 64, 2), (100, 7, 3)])
def test_shard_batches_cover_every_index_once_in_whole_batches(n, batch, world):
    shards = [distributed.shard_batches(n, batch, r, world) for r in range(world)]
    assert sorted(i for s in shards for i in s) == list(range(n))
    for r, shard in enumerate(shards):
        assert shard == sorted(shard)
        assert all((i // batch) % world == r for i in shard)  # whole single-process batches


def _batches(loader: DataLoader) -> list[list[int]]:
    return [x.tolist() for x, _ in loader]


@pytest.mark.parametrize("balanced", [False, True])
def test_sharded_sampler_splits_the_single_process_batches(monkeypatch, balanced):
    n, global_batch, world = 26, 8, 2
    ds = TensorDataset(torch.arange(n), torch.zeros(n))
    weights = np.linspace(1, 3, n).tolist()

    def base():
        if balanced:
            return WeightedRandomSampler(weights, n, replacement=True)
        return RandomSampler(ds)

    torch.manual_seed(7)
    one = _batches(DataLoader(ds, batch_size=global_batch, sampler=base(), drop_last=True))
    per_process = (n // global_batch) * (global_batch // world)
    shares = []
    for r in range(world):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        monkeypatch.setattr(distributed, "world_size", lambda: world)
        torch.manual_seed(7)  # every process is seeded alike by the loop
        sampler = distributed.ShardedSampler(base(), per_process)
        shares.append(_batches(DataLoader(ds, batch_size=global_batch // world, sampler=sampler)))
    assert [len(s) for s in shares] == [len(one)] * world
    for i, batch in enumerate(one):
        assert sorted(shares[0][i] + shares[1][i]) == sorted(batch)


def test_one_process_is_left_alone():
    assert not distributed.active()
    assert distributed.world_size() == 1 and distributed.is_main()
    assert distributed.per_process_batch(30) == 30
    assert distributed.all_reduce_sum([1.5, 2.0]) == [1.5, 2.0]
    x = torch.ones(3, 2)
    assert distributed.all_gather_rows(x)[0] is x


def test_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(distributed.TIMEOUT_ENV, raising=False)
    assert distributed.timeout() == datetime.timedelta(seconds=distributed.DEFAULT_TIMEOUT_S)
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "12.5")
    assert distributed.timeout() == datetime.timedelta(seconds=12.5)
    for bad in ("soon", "0", "-3"):
        monkeypatch.setenv(distributed.TIMEOUT_ENV, bad)
        with pytest.raises(HeadstartError, match=distributed.TIMEOUT_ENV):
            distributed.timeout()


def test_global_batch_must_split_evenly(monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 4)
    assert distributed.per_process_batch(32) == 8
    with pytest.raises(HeadstartError, match="--batch-size 30"):
        distributed.per_process_batch(30)


def test_commands_other_than_train_refuse_torchrun(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["backbones"]) == 2
    assert "headstart backbones runs in one process" in capsys.readouterr().err
