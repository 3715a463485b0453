"""PyTorch parity of the layers beyond API.md's floor: 1-D pooling, padding layers,
PixelShuffle/PixelUnshuffle, InstanceNorm, UpsamplingNearest2d."""
from __future__ import annotations

import numpy as np
import pytest

from tinygen import nn, tensor
from test_layers_helpers import check_layer, randn, torch

tnn = torch.nn
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _check(build, inputs, **kw):
    torch.manual_seed(0)
    return check_layer(build(nn), build(tnn), inputs, **kw)


LAYERS = {
    "maxpool1d": (lambda m: m.MaxPool1d(3, stride=2, padding=1), (2, 3, 9)),
    "maxpool1d_unbatched_ceil": (lambda m: m.MaxPool1d(2, ceil_mode=True), (3, 7)),
    "avgpool1d": (lambda m: m.AvgPool1d(3, stride=2, padding=1, count_include_pad=False),
                  (2, 3, 9)),
    "adaptive_avgpool1d": (lambda m: m.AdaptiveAvgPool1d(4), (2, 3, 9)),
    "upsampling_nearest2d": (lambda m: m.UpsamplingNearest2d(scale_factor=3), (1, 2, 3, 4)),
    "zeropad2d": (lambda m: m.ZeroPad2d((1, 2, 0, 3)), (2, 3, 4, 5)),
    "constantpad1d": (lambda m: m.ConstantPad1d(2, 1.5), (2, 3, 4)),
    "reflectionpad2d": (lambda m: m.ReflectionPad2d(2), (2, 3, 4, 5)),
    "reflectionpad1d": (lambda m: m.ReflectionPad1d((1, 3)), (2, 3, 5)),
    "replicationpad2d": (lambda m: m.ReplicationPad2d((2, 0, 1, 1)), (2, 3, 4, 5)),
    "circularpad2d": (lambda m: m.CircularPad2d(1), (2, 3, 4, 5)),
    "pixel_shuffle": (lambda m: m.PixelShuffle(2), (2, 12, 3, 4)),
    "pixel_unshuffle": (lambda m: m.PixelUnshuffle(3), (2, 2, 6, 9)),
    "instancenorm2d": (lambda m: m.InstanceNorm2d(3), (2, 3, 4, 5)),
    "instancenorm2d_affine_stats": (lambda m: m.InstanceNorm2d(3, affine=True,
                                                               track_running_stats=True),
                                    (4, 3, 4, 5)),
    "instancenorm1d_unbatched": (lambda m: m.InstanceNorm1d(3, momentum=0.3,
                                                            track_running_stats=True), (3, 7)),
}


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name", list(LAYERS))
def test_extra_layers(name, train):
    build, shape = LAYERS[name]
    _check(build, [randn(*shape, scale=2.0) + 0.5], train=train)


def test_pixel_shuffle_round_trip():
    x = randn(2, 8, 3, 3)
    y = nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(tensor(x)))
    np.testing.assert_array_equal(y.numpy(), x)


def test_reprs_match_torch():
    for build in (lambda m: m.ReflectionPad2d(1), lambda m: m.ConstantPad2d(1, 2.0),
                  lambda m: m.ZeroPad2d(2), lambda m: m.AvgPool1d(3), lambda m: m.MaxPool1d(3),
                  lambda m: m.PixelShuffle(2), lambda m: m.InstanceNorm2d(3),
                  lambda m: m.UpsamplingNearest2d(scale_factor=2)):
        assert repr(build(nn)) == repr(build(tnn))
