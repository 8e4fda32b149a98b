"""Grouping identical encoder graphs: exact groups, safe under hash collisions, and the
predictor's scores unchanged by it."""
import numpy as np
import pytest
import torch

from hypernas_pyg.data import distinct
from hypernas_pyg.data.distinct import distinct_graphs
from hypernas_pyg.data.inputs import distinct_positions


def _keys(dataset, positions):
    out = []
    for i in positions:
        d = dataset[int(i)]
        out.append((d.x.numpy().tobytes(), d.cell_pos.numpy().tobytes(),
                    d.edge_index.numpy().tobytes(), d.rev_edge_index.numpy().tobytes()))
    return out


def test_groups_are_exactly_the_identical_graphs(nb201):
    sub = nb201[:1500]
    first, inverse = distinct_positions(sub)
    keys = _keys(sub, range(len(sub)))
    assert first.numel() == len(set(keys)) < len(sub)  # NB201 has pruned-graph duplicates
    for i, g in enumerate(inverse.tolist()):
        assert keys[i] == keys[int(first[g])]
    assert len({keys[int(f)] for f in first}) == first.numel()  # no group split needlessly
    assert torch.equal(first, torch.sort(first).values)  # in order of first appearance
    assert torch.equal(inverse[first], torch.arange(first.numel()))


def test_a_hash_collision_never_merges_different_graphs(nb201, monkeypatch):
    # Every graph hashes alike: only the exact comparison stands between them.
    monkeypatch.setattr(distinct, "_mix", lambda values: torch.zeros(values.shape, dtype=torch.long))
    sub = nb201[:300]
    first, inverse = distinct_graphs(sub._data, sub.slices,
                                     torch.as_tensor(list(sub._indices)), min_fraction=0.0)
    keys = _keys(sub, range(len(sub)))
    for i, g in enumerate(inverse.tolist()):
        assert keys[i] == keys[int(first[g])]


def test_a_storage_of_distinct_graphs_is_not_grouped(nb201):
    sub = nb201[:1500]
    _, inverse = distinct_positions(sub)
    _, keep = np.unique(inverse.numpy(), return_index=True)
    only_distinct = sub[torch.as_tensor(np.sort(keep))]
    assert distinct_positions(only_distinct) is None
    assert distinct_graphs(only_distinct._data, only_distinct.slices,
                           torch.as_tensor(list(only_distinct._indices)), min_fraction=0.0)[0] \
        .numel() == len(only_distinct)


@pytest.mark.parametrize("probe", [64, 4096])
def test_large_storages_are_probed_first_with_the_same_result(nb201, monkeypatch, probe):
    sub = nb201[:1000]
    index = torch.as_tensor(list(sub._indices))
    expected = distinct_graphs(sub._data, sub.slices, index)
    monkeypatch.setattr(distinct, "PROBE_SIZE", probe)
    got = distinct_graphs(sub._data, sub.slices, index)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_predict_on_a_dataset_equals_predict_on_its_graphs(nb201):
    from hypernas_pyg import HyperNASPredictor
    sub = nb201[:600]
    model = HyperNASPredictor(variant="hypernas-p", epochs=2, seed=0, progress=False)
    model.fit(nb201[:40])
    grouped = model.predict(sub)              # an in-memory dataset: grouped
    one_by_one = model.predict(list(sub))     # a list of graphs: every graph encoded
    assert distinct_positions(sub) is not None
    np.testing.assert_array_equal(grouped, one_by_one)
