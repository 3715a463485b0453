"""Layers of tinygen.nn, one family per file; everything is re-exported by tinygen.nn."""
from .module import Module
from .parameter import Parameter
from .container import (Identity, Sequential, ModuleList, ModuleDict, ParameterList,
                        ParameterDict)
from .linear import Linear, Bilinear
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d,
                      AdaptiveAvgPool2d, Upsample, UpsamplingNearest2d)
from .padding import (ConstantPad1d, ConstantPad2d, ZeroPad1d, ZeroPad2d, ReflectionPad1d,
                      ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, CircularPad1d,
                      CircularPad2d)
from .pixelshuffle import PixelShuffle, PixelUnshuffle
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d,
                            InstanceNorm2d, LayerNorm, GroupNorm, RMSNorm)
from .activation import (ReLU, ReLU6, LeakyReLU, ELU, SELU, CELU, GELU, SiLU, Mish, Tanh,
                         Sigmoid, LogSigmoid, Hardtanh, Hardsigmoid, Hardswish, Softplus,
                         Softsign, PReLU, GLU, Softmax, Softmin, LogSoftmax)
from .dropout import Dropout
from .sparse import Embedding
from .flatten import Flatten, Unflatten
from .attention import MultiheadAttention
from .transformer import (TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
                          TransformerDecoder, Transformer)
from .rnn import RNNBase, RNN, GRU, LSTM, RNNCell, GRUCell, LSTMCell

__all__ = [
    "Module", "Parameter", "Identity", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
    "ParameterDict", "Linear", "Bilinear", "Conv1d", "Conv2d", "ConvTranspose1d",
    "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d", "Upsample", "UpsamplingNearest2d", "ConstantPad1d", "ConstantPad2d",
    "ZeroPad1d", "ZeroPad2d", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d",
    "ReplicationPad2d", "CircularPad1d", "CircularPad2d", "PixelShuffle", "PixelUnshuffle",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "LayerNorm",
    "GroupNorm", "RMSNorm", "ReLU", "ReLU6",
    "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Tanh", "Sigmoid", "LogSigmoid",
    "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign", "PReLU", "GLU", "Softmax",
    "Softmin", "LogSoftmax", "Dropout",
    "Embedding", "Flatten", "Unflatten", "MultiheadAttention", "TransformerEncoderLayer",
    "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder", "Transformer",
    "RNNBase", "RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell",
]
