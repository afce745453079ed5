"""Length-grouped batches: texts of similar length share a batch, so far less of every step is padding.

sentence-transformers pads each column of a batch to its longest text; on NLI triplets drawn at random ~60% of the
tokens a step computes are padding. Sorting rows by length inside shuffled "megabatches" (what `transformers`'
`group_by_length` does, which sentence-transformers' own batch samplers bypass) and then shuffling the batches keeps
the data order random at the scale that matters while cutting the padding. Written here because no library offers
it for sentence-transformers, and it must also keep `NoDuplicatesBatchSampler`'s promise for in-batch-negative
losses: no text twice in a batch. The core's runner (hubembed.training) trains every trainer plugin with it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

MEGABATCH = 16  # batches per sorted group: bigger cuts more padding, smaller keeps batches more mixed


class LengthGroupedBatchSampler:
    """Batches of rows of similar length (the longest text of the row, in characters), optionally with no text
    twice in a batch. The same seed and epoch give the same batches, so `--resume` and multi-process runs agree.
    A batch sampler as sentence-transformers' trainer uses one (`set_epoch`, `batch_size`, `drop_last`)."""

    def __init__(self, dataset: Any, batch_size: int, drop_last: bool, valid_label_columns: list[str] | None = None,
                 generator: Any = None, seed: int = 0, no_duplicates: bool = False) -> None:
        import numpy as np

        self.batch_size, self.drop_last, self.generator, self.seed, self.epoch = batch_size, drop_last, generator, seed, 0
        labels = set(valid_label_columns or [])
        columns = [c for c in dataset.column_names if c not in labels and c != "dataset_name"]
        values = [[str(v) for v in dataset[c]] for c in columns]
        self.num_rows = len(dataset)
        self.lengths = np.array([max(map(len, row)) for row in zip(*values)]) if values else np.zeros(self.num_rows)
        # Texts as hashes, computed once: checking a batch for repeats must not re-read rows every epoch.
        self.row_hashes = [frozenset(map(hash, row)) for row in zip(*values)] if no_duplicates else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_rows // self.batch_size
        return (self.num_rows + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        import numpy as np
        import torch

        generator = self.generator or torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.num_rows, generator=generator).numpy()
        group = self.batch_size * MEGABATCH
        sorted_order = np.concatenate([
            chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            for chunk in np.array_split(order, range(group, self.num_rows, group))
        ]) if self.num_rows else order
        batches = list(self._pack(sorted_order.tolist()))
        # Longest first would put every long batch at the start of its group; a shuffle spreads them out.
        for i in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[i]

    def _pack(self, order: list[int]) -> Iterator[list[int]]:
        if self.row_hashes is None:
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    yield batch
            return
        # Like NoDuplicatesBatchSampler: a row that repeats a text of the batch waits for the next batch.
        waiting: list[int] = []
        rest = iter(order)
        while True:
            batch, seen, still = [], set(), []
            candidates = iter(waiting)
            for source in (candidates, rest):
                while len(batch) < self.batch_size and (index := next(source, None)) is not None:
                    if seen.isdisjoint(self.row_hashes[index]):
                        batch.append(index)
                        seen.update(self.row_hashes[index])
                    else:
                        still.append(index)
                if source is candidates:
                    still.extend(candidates)  # the batch filled before every waiting row was tried
            waiting = still
            if len(batch) == self.batch_size or (batch and not self.drop_last):
                yield batch
            if len(batch) < self.batch_size and (not batch or not waiting):
                return


def batch_sampler(group_by_length: bool, no_duplicates: bool) -> Any:
    """The `batch_sampler` argument for SentenceTransformerTrainingArguments."""
    from sentence_transformers.base.sampler import BatchSamplers

    if not group_by_length:
        return BatchSamplers.NO_DUPLICATES if no_duplicates else BatchSamplers.BATCH_SAMPLER

    # a partial of a module-level class: the trainer pickles its arguments into every checkpoint
    return functools.partial(LengthGroupedBatchSampler, no_duplicates=no_duplicates)
