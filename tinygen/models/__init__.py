"""The model zoo: one Recipe per `tinygen train MODEL` name."""
from .classifier import Classifier, ClassifierConfig, ClassifierRecipe
from .gan import GANRecipe, DCGANRecipe, WGANGPRecipe
from .vae import VAE, VAEConfig, VAERecipe, ConvVAERecipe
from .flows import FlowRecipe, GlowRecipe

RECIPES = {r.name: r for r in (ClassifierRecipe, VAERecipe, ConvVAERecipe, GANRecipe,
                               DCGANRecipe, WGANGPRecipe, FlowRecipe, GlowRecipe)}

__all__ = ["RECIPES", "Classifier", "ClassifierConfig", "VAE", "VAEConfig"]
