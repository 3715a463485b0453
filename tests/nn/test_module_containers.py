"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict, Identity."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn


def test_sequential_forward_index_slice_len_append():
    tg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = tg.randn(5, 3)
    expected = net[2](net[1](net[0](x)))
    np.testing.assert_array_equal(net(x).numpy(), expected.numpy())
    assert len(net) == 3 and isinstance(net[-1], nn.Linear)
    tail = net[1:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 2
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]     # keys kept, as PyTorch
    net.append(nn.Tanh())
    assert len(net) == 4 and isinstance(net[3], nn.Tanh)
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear", "Tanh"]
    with pytest.raises(IndexError):
        net[4]
    net[1] = nn.GELU()
    assert isinstance(net[1], nn.GELU)
    del net[1]
    assert len(net) == 3 and list(net._modules) == ["0", "1", "2"]
    net.insert(1, nn.ReLU())
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear", "Tanh"]
    both = nn.Sequential(nn.ReLU()) + nn.Sequential(nn.Tanh())
    assert len(both) == 2


def test_sequential_from_ordered_dict_uses_names():
    net = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert list(net.state_dict()) == ["conv.weight", "conv.bias"]
    assert net.conv is net[0]


def test_sequential_state_dict_matches_torch():
    torch = pytest.importorskip("torch")

    def build(m):
        return m.Sequential(m.Conv2d(1, 4, 3), m.BatchNorm2d(4), m.ReLU(), m.Flatten(),
                            m.Linear(4 * 4 * 4, 3))

    assert list(build(nn).state_dict()) == list(build(torch.nn).state_dict())


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.Linear(2, 1))
    layers.extend([nn.ReLU()])
    layers += [nn.Tanh()]
    assert len(layers) == 6 and isinstance(layers[-1], nn.Tanh)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and len(layers) == 7
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(6)]
    assert list(layers.state_dict())[:2] == ["0.weight", "0.bias"]
    layers[0] = nn.Linear(2, 5)
    assert layers[0].out_features == 5
    with pytest.raises(IndexError):
        layers[10]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    assert list(Net().state_dict()) == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                        "blocks.1.bias"]


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    assert list(d.keys()) == ["a", "b"] and "a" in d and len(d) == 2
    d["c"] = nn.Tanh()
    assert list(d) == ["a", "b", "c"]
    assert d.pop("b").__class__ is nn.ReLU and "b" not in d
    d.update([("e", nn.Identity())])
    assert [k for k, _ in d.items()] == ["a", "c", "e"]
    assert list(d.state_dict()) == ["a.weight", "a.bias"]
    assert len(list(d.values())) == 3


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(tg.ones(2)), tg.zeros(3)])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
    assert list(pl.state_dict()) == ["0", "1"]
    pl.append(tg.ones(1))
    assert len(list(pl.parameters())) == 3
    pd = nn.ParameterDict({"w": tg.ones(2)})
    pd["b"] = nn.Parameter(tg.zeros(2))
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    assert "b" in pd and len(pd) == 2


def test_identity_passes_through_and_ignores_args():
    x = tg.randn(3)
    assert nn.Identity(54, unused="x")(x) is x
