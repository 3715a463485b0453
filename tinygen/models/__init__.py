"""The model zoo: one Recipe per `tinygen train MODEL` name."""
from .classifier import Classifier, ClassifierConfig, ClassifierRecipe
from .gan import GANRecipe, DCGANRecipe, WGANGPRecipe
from .vae import VAE, VAEConfig, VAERecipe, ConvVAERecipe
from .flows import FlowRecipe, GlowRecipe
from .gpt import GPT, GPTConfig, GPTRecipe
from .text import CharRNNRecipe, CharGRURecipe, CharVanillaRNNRecipe
from .seq2seq import Seq2SeqRecipe

RECIPES = {r.name: r for r in (ClassifierRecipe, VAERecipe, ConvVAERecipe, GANRecipe,
                               DCGANRecipe, WGANGPRecipe, FlowRecipe, GlowRecipe,
                               GPTRecipe, CharRNNRecipe, CharGRURecipe, CharVanillaRNNRecipe,
                               Seq2SeqRecipe)}

__all__ = ["RECIPES", "Classifier", "ClassifierConfig", "VAE", "VAEConfig"]
