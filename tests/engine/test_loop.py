"""The training loop opens each loader exactly once per epoch (plumbing, random tiny model)."""

from __future__ import annotations

import torch
from torch import nn

from headstart.engine.loop import Loop, LoopConfig, Phase
from headstart.engine.task import ClassifierTask


class CountingBatches:
    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]):
        self.batches = batches
        self.opened = 0

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        self.opened += 1
        return iter(self.batches)


class LinearTask(ClassifierTask):
    def __init__(self, train: CountingBatches, val: CountingBatches):
        self.model = nn.Linear(4, 3)
        self.criterion = nn.CrossEntropyLoss()
        self.train, self.val = train, val

    def phase(self, epoch: int) -> Phase:
        return Phase(
            key=0,
            module=self.model,
            train=self.train,
            val=self.val,
            param_groups=[
                {
                    "params": list(self.model.parameters()),
                    "param_names": [n for n, _ in self.model.named_parameters()],
                    "lr": 0.1,
                    "base_lr": 0.1,
                    "name": "head",
                }
            ],
            steps=len(self.train),
        )

    def set_train_mode(self, epoch: int) -> None:
        self.model.train()


def test_each_loader_is_opened_once_per_epoch_with_progress_bars_on():
    g = torch.Generator().manual_seed(0)
    batches = [
        (torch.randn(8, 4, generator=g), torch.randint(0, 3, (8,), generator=g)) for _ in range(3)
    ]
    train, val = CountingBatches(batches), CountingBatches(batches[:1])
    history = Loop(LinearTask(train, val), LoopConfig(epochs=2, progress=True)).run()
    assert len(history) == 2
    # A second iterator per epoch would reseed a shuffling sampler and restart DataLoader workers.
    assert train.opened == 2
    assert val.opened == 2
