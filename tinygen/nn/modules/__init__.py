"""Layers of tinygen.nn, one family per file; everything is re-exported by tinygen.nn."""
from .module import Module
from .parameter import Buffer, Parameter, UninitializedParameter, UninitializedBuffer
from .container import (Container, Identity, Sequential, ModuleList, ModuleDict, ParameterList,
                        ParameterDict)
from .linear import Linear, Bilinear, LazyLinear
from .conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
                   LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d,
                   LazyConvTranspose3d)
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d,
                      AdaptiveAvgPool2d, Upsample, UpsamplingNearest2d, UpsamplingBilinear2d)
from .pooling_extra import (MaxPool3d, AvgPool3d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
                            AdaptiveMaxPool2d, AdaptiveMaxPool3d, MaxUnpool1d, MaxUnpool2d,
                            MaxUnpool3d, LPPool1d, LPPool2d, LPPool3d, FractionalMaxPool2d,
                            FractionalMaxPool3d)
from .fold import Unfold, Fold
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .padding import (ConstantPad1d, ConstantPad2d, ConstantPad3d, ZeroPad1d, ZeroPad2d,
                      ZeroPad3d, ReflectionPad1d, ReflectionPad2d, ReflectionPad3d,
                      ReplicationPad1d, ReplicationPad2d, ReplicationPad3d, CircularPad1d,
                      CircularPad2d, CircularPad3d)
from .pixelshuffle import PixelShuffle, PixelUnshuffle, ChannelShuffle
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d,
                            InstanceNorm2d, InstanceNorm3d, LayerNorm, GroupNorm, RMSNorm,
                            LocalResponseNorm, CrossMapLRN2d, SyncBatchNorm, LazyBatchNorm1d,
                            LazyBatchNorm2d, LazyBatchNorm3d,
                            LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d)
from .activation import (ReLU, ReLU6, LeakyReLU, ELU, SELU, CELU, GELU, SiLU, Mish, Tanh,
                         Sigmoid, LogSigmoid, Hardtanh, Hardsigmoid, Hardswish, Softplus,
                         Softsign, PReLU, GLU, Softmax, Softmin, LogSoftmax, Softmax2d,
                         Threshold, Hardshrink, Softshrink, Tanhshrink, RReLU)
from .dropout import (Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout,
                      FeatureAlphaDropout)
from .sparse import Embedding, EmbeddingBag
from .distance import CosineSimilarity, PairwiseDistance
from .loss import (L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, NLLLoss2d,
                   CrossEntropyLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss, GaussianNLLLoss,
                   PoissonNLLLoss, CosineEmbeddingLoss, MarginRankingLoss, HingeEmbeddingLoss,
                   SoftMarginLoss, MultiLabelSoftMarginLoss, MultiLabelMarginLoss,
                   MultiMarginLoss, TripletMarginLoss, TripletMarginWithDistanceLoss, CTCLoss)
from .linear_cross_entropy import LinearCrossEntropyLoss
from .flatten import Flatten, Unflatten
from .attention import MultiheadAttention
from .transformer import (TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
                          TransformerDecoder, Transformer)
from .rnn import RNNBase, RNN, GRU, LSTM, RNNCellBase, RNNCell, GRUCell, LSTMCell

__all__ = [
    "Module", "Parameter", "Identity", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
    "ParameterDict", "Linear", "Bilinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
    "ConvTranspose2d", "ConvTranspose3d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d",
    "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "MaxUnpool1d", "MaxUnpool2d",
    "MaxUnpool3d", "LPPool1d", "LPPool2d", "LPPool3d", "FractionalMaxPool2d",
    "FractionalMaxPool3d", "AdaptiveLogSoftmaxWithLoss", "Upsample", "UpsamplingNearest2d",
    "UpsamplingBilinear2d", "Unfold", "Fold", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d",
    "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "PixelShuffle", "PixelUnshuffle",
    "ChannelShuffle", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d",
    "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm",
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Tanh",
    "Sigmoid", "LogSigmoid", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign",
    "PReLU", "GLU", "Softmax", "Softmin", "LogSoftmax", "Softmax2d", "Threshold", "Hardshrink",
    "Softshrink", "Tanhshrink", "RReLU", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "AlphaDropout", "FeatureAlphaDropout", "Embedding", "EmbeddingBag", "CosineSimilarity",
    "PairwiseDistance", "L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "NLLLoss", "NLLLoss2d",
    "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "GaussianNLLLoss",
    "PoissonNLLLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "HingeEmbeddingLoss",
    "SoftMarginLoss", "MultiLabelSoftMarginLoss", "MultiLabelMarginLoss", "MultiMarginLoss",
    "TripletMarginLoss", "TripletMarginWithDistanceLoss", "CTCLoss", "LinearCrossEntropyLoss",
    "Flatten", "Unflatten",
    "MultiheadAttention",
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerDecoder", "Transformer", "RNNBase", "RNN", "GRU", "LSTM", "RNNCell", "GRUCell",
    "LSTMCell", "UninitializedParameter", "UninitializedBuffer", "LazyLinear", "LazyConv1d",
    "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
    "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
    "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "Buffer", "Container",
    "CrossMapLRN2d", "SyncBatchNorm", "RNNCellBase",
]
