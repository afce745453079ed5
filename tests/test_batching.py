"""Length-grouped batches: every row once per epoch, no text twice in a batch for in-batch-negative losses, the
same batches for the same seed and epoch, and (the point of it) far less padding than random batches."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset

from hubembed.batching import LengthGroupedBatchSampler
from hubembed.types import BuildContext
from hubembed_plugins.data.nli import NLIBuilder
from hubembed_plugins.data.nli import Params as NLIParams


@pytest.fixture(scope="module")
def triplets(tmp_path_factory) -> Dataset:
    """Real NLI triplets: the nli data builder on the bundled MultiNLI/SNLI sample (what `--plugin mnr` trains on)."""
    ctx = BuildContext(shape="triplet", seed=0, model="", cache_dir=tmp_path_factory.mktemp("cache"), log=lambda m: None)
    return NLIBuilder(NLIParams()).build(ctx, None)["train"]


def sampler(ds, drop_last=False, seed=0, no_duplicates=True, batch_size=32):
    return LengthGroupedBatchSampler(ds, batch_size, drop_last, seed=seed, no_duplicates=no_duplicates)


@pytest.mark.parametrize("no_duplicates", [True, False])
def test_every_row_once_per_epoch(triplets, no_duplicates):
    batches = list(sampler(triplets, no_duplicates=no_duplicates))
    seen = [i for batch in batches for i in batch]
    assert sorted(seen) == list(range(len(triplets)))
    assert [len(b) for b in batches].count(32) == len(triplets) // 32
    assert len(batches) == len(sampler(triplets, no_duplicates=no_duplicates))


def test_drop_last_yields_only_full_batches(triplets):
    batches = list(sampler(triplets, drop_last=True))
    assert {len(b) for b in batches} == {32} and len(batches) == len(triplets) // 32


def test_no_text_twice_in_a_batch():
    # 40 rows sharing 10 positives: random order would put repeats together; the sampler must not
    ds = Dataset.from_dict({"anchor": [f"question {i}" for i in range(40)],
                            "positive": [f"answer {i % 10}" for i in range(40)]})
    batches = list(sampler(ds, batch_size=8))
    for batch in batches:
        positives = [ds[i]["positive"] for i in batch]
        assert len(set(positives)) == len(positives)
    assert sorted(i for b in batches for i in b) == list(range(40))  # repeats wait for a later batch, none lost


def test_same_seed_and_epoch_same_batches_new_epoch_new_batches(triplets):
    first, again, other_seed = sampler(triplets), sampler(triplets), sampler(triplets, seed=1)
    assert list(first) == list(again)
    assert list(first) != list(other_seed)
    again.set_epoch(1)
    assert list(first) != list(again)


def test_far_less_padding_than_random_batches(triplets):
    """What a step computes is each column padded to its longest text: sum over columns of batch x longest."""
    lengths = {c: np.array([len(t) for t in triplets[c]]) for c in triplets.column_names}

    def padded(batches):
        return sum(len(b) * lengths[c][b].max() for b in batches for c in lengths)

    rng = np.random.default_rng(0)
    order = rng.permutation(len(triplets))
    random_batches = [order[i:i + 32] for i in range(0, len(order), 32)]
    grouped = [np.array(b) for b in sampler(triplets)]
    real = sum(v.sum() for v in lengths.values())
    assert padded(grouped) < 0.75 * padded(random_batches)
    assert padded(grouped) >= real
