"""The 16 layer configurations of issue 3's outside check, each loaded from PyTorch's state dict:
outputs, input and parameter gradients and the resulting state (running statistics) must equal
PyTorch's in float32 within 1e-4, in training mode (dropout 0 where a layer has dropout)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from tinygen import nn
from test_layers_helpers import check_layer, randn, torch

tnn = torch.nn


def _seq(lib):
    return lib.Sequential(lib.Conv2d(3, 6, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(6 * 4 * 4, 5))


def _tokens():
    return np.random.default_rng(3).integers(0, 10, size=(4, 7)).astype(np.int64)


CONFIGS = OrderedDict([
    ("linear", (lambda m: m.Linear(7, 5), [randn(4, 7)])),
    ("conv2d_groups", (lambda m: m.Conv2d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2),
                       [randn(2, 4, 9, 9)])),
    ("conv1d_groups", (lambda m: m.Conv1d(6, 9, 3, padding=2, dilation=2, groups=3),
                       [randn(2, 6, 11)])),
    ("conv_transpose2d", (lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                      output_padding=1, groups=2),
                          [randn(2, 4, 5, 5)])),
    ("batchnorm1d", (lambda m: m.BatchNorm1d(5, momentum=0.3), [randn(8, 5, scale=2.0) + 1])),
    ("batchnorm2d", (lambda m: m.BatchNorm2d(3), [randn(4, 3, 5, 5, scale=3.0) - 2])),
    ("layernorm", (lambda m: m.LayerNorm((4, 6)), [randn(3, 4, 6)])),
    ("groupnorm", (lambda m: m.GroupNorm(2, 6), [randn(3, 6, 4, 4)])),
    ("embedding", (lambda m: m.Embedding(10, 6, padding_idx=0), [_tokens()])),
    ("sequential_cnn", (_seq, [randn(2, 3, 8, 8)])),
    ("multihead_attention", (lambda m: m.MultiheadAttention(8, 2, batch_first=True),
                             [randn(2, 5, 8), randn(2, 6, 8, seed=1), randn(2, 6, 8, seed=2)])),
    ("encoder_post_norm_relu", (lambda m: m.TransformerEncoderLayer(
        8, 2, dim_feedforward=16, dropout=0.0, batch_first=True), [randn(2, 5, 8)])),
    ("encoder_norm_first_gelu", (lambda m: m.TransformerEncoderLayer(
        8, 2, dim_feedforward=16, dropout=0.0, activation="gelu", norm_first=True),
        [randn(5, 2, 8)])),
    ("decoder", (lambda m: m.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                                     batch_first=True),
                 [randn(2, 4, 8), randn(2, 6, 8, seed=1)])),
    ("gru", (lambda m: m.GRU(5, 7, batch_first=True), [randn(3, 6, 5)])),
    ("lstm_2layer", (lambda m: m.LSTM(5, 7, num_layers=2), [randn(6, 3, 5)])),
])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_outside_check_configuration(name):
    build, inputs = CONFIGS[name]
    torch.manual_seed(0)
    torch_layer = build(tnn)
    tg_layer = build(nn)
    check_layer(tg_layer, torch_layer, inputs)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_outside_check_configuration_float64(name):
    build, inputs = CONFIGS[name]
    torch.manual_seed(0)
    check_layer(build(nn), build(tnn), inputs, dtype="float64")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_state_dict_keys_match_torch(name):
    build, _ = CONFIGS[name]
    assert list(build(nn).state_dict()) == list(build(tnn).state_dict())
    tg_shapes = {k: tuple(v.shape) for k, v in build(nn).state_dict().items()}
    th_shapes = {k: tuple(v.shape) for k, v in build(tnn).state_dict().items()}
    assert tg_shapes == th_shapes
