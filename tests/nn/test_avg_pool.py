import pytest
import torch

from hypernas_pyg.nn.avg_pool import ExcludePadAvgPool2d


@pytest.mark.parametrize("kernel, stride, padding, size", [
    (3, 1, 1, 8), (3, 2, 1, 7), (3, 1, 0, 5), (2, 2, 0, 6), (3, 1, 1, 1)])
def test_equals_avg_pool_without_padding_in_the_mean(kernel, stride, padding, size):
    torch.manual_seed(0)
    x = torch.randn(3, 5, size, size + 1, dtype=torch.float64, requires_grad=True)
    ref = torch.nn.AvgPool2d(kernel, stride, padding, count_include_pad=False)
    pool = ExcludePadAvgPool2d(kernel, stride, padding)
    out, expected = pool(x), ref(x)
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(expected)
    (g,), (g_ref,) = torch.autograd.grad(out, x, grad), torch.autograd.grad(expected, x, grad)
    torch.testing.assert_close(g, g_ref)
    assert not list(pool.parameters()) and not pool.state_dict()
    assert isinstance(pool, torch.nn.AvgPool2d) and not pool.count_include_pad


def test_reuses_the_window_counts_per_input_size():
    pool = ExcludePadAvgPool2d(3, 1, 1)
    pool(torch.randn(2, 4, 6, 6))
    pool(torch.randn(3, 4, 6, 6))
    pool(torch.randn(2, 4, 5, 5))
    assert len(pool._counts) == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"kernel_size": 0}, "kernel_size"), ({"kernel_size": 3, "stride": 0}, "stride"),
    ({"kernel_size": 3, "padding": -1}, "padding"), ({"kernel_size": 3, "padding": 2},
                                                     "at most half")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExcludePadAvgPool2d(**kwargs)
