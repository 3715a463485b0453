"""The model zoo: Modules, losses and samplers, built from tinygen.nn and the core only.

How each model trains (its data, optimiser, loss schedule, evaluation and sampling for the
`tinygen` commands) is its recipe, in tinygen/train/recipes/; nothing here imports tinygen.train.

    classifier.py    Classifier (LeNet-style CNN), ClassifierConfig
    vae.py           VAE (MLP or conv), negative_elbo, importance_weighted_nll
    gan.py           MLP and DCGAN generators and discriminators, gradient_penalty, init_dcgan_
    flows.py         VectorFlow, MultiScaleFlow (RealNVP, Glow), dequantize_logit, logit_inverse
    flow_layers.py   AffineCoupling, ActNorm, InvertibleLinearLU, Squeeze, FlowSequence
    gpt.py           GPT, GPTConfig
    char_rnn.py      CharRNN (RNN, GRU, LSTM)
    seq2seq.py       Seq2Seq, Seq2SeqConfig, its vocabulary, shift_right
    clip.py          CLIP, CLIPConfig, CharTokenizer, SimCLR, SimCLRConfig (contrastive; losses
                     F.info_nce, F.nt_xent)
"""
from .char_rnn import CharRNN
from .classifier import Classifier, ClassifierConfig
from .clip import CLIP, CharTokenizer, CLIPConfig, SimCLR, SimCLRConfig
from .flows import FlowConfig, MultiScaleFlow, VectorFlow
from .gan import ConvDiscriminator, ConvGenerator, GANConfig, MLPDiscriminator, MLPGenerator
from .gpt import GPT, GPTConfig
from .seq2seq import Seq2Seq, Seq2SeqConfig
from .vae import VAE, VAEConfig

__all__ = ["CLIP", "CLIPConfig", "CharRNN", "CharTokenizer", "Classifier", "ClassifierConfig",
           "ConvDiscriminator", "ConvGenerator", "FlowConfig", "GANConfig", "GPT", "GPTConfig",
           "MLPDiscriminator", "MLPGenerator", "MultiScaleFlow", "Seq2Seq", "Seq2SeqConfig",
           "SimCLR", "SimCLRConfig", "VAE", "VAEConfig", "VectorFlow"]
