"""The recipes: one per `tinygen train MODEL` name, one file per model family.

    classifier.py   classifier                   the LeNet-style CNN (also the judge of samples)
    vae.py          vae, conv-vae
    gan.py          gan, dcgan, wgan-gp
    flows.py        realnvp, glow
    text.py         gpt, lstm, gru, rnn          character-level language models
    seq2seq.py      seq2seq                      an encoder-decoder Transformer on string tasks
    diffusion.py    ddpm                         DDPM / DDIM with a U-Net, classifier-free guidance
    clip.py         clip, simclr                 contrastive image-text (CLIP) and image-image
                                                 (SimCLR) pretraining, zero-shot and linear probes

The registry maps each name to where its class lives and imports a family only when it is asked
for (`get_recipe`), so `tinygen --help` and `tinygen data list` import no model.
"""
from __future__ import annotations

from importlib import import_module

from .base import DataInfo, Option, Recipe, RunConfig, SampleRequest

RECIPES = {                       # name -> (module of this package, class)
    "classifier": ("classifier", "ClassifierRecipe"),
    "vae": ("vae", "VAERecipe"),
    "conv-vae": ("vae", "ConvVAERecipe"),
    "gan": ("gan", "GANRecipe"),
    "dcgan": ("gan", "DCGANRecipe"),
    "wgan-gp": ("gan", "WGANGPRecipe"),
    "realnvp": ("flows", "FlowRecipe"),
    "glow": ("flows", "GlowRecipe"),
    "gpt": ("text", "GPTRecipe"),
    "lstm": ("text", "CharRNNRecipe"),
    "gru": ("text", "CharGRURecipe"),
    "rnn": ("text", "CharVanillaRNNRecipe"),
    "seq2seq": ("seq2seq", "Seq2SeqRecipe"),
    "ddpm": ("diffusion", "DiffusionRecipe"),
    "clip": ("clip", "CLIPRecipe"),
    "simclr": ("clip", "SimCLRRecipe"),
}


def recipe_names() -> list[str]:
    """Every model name `tinygen train` accepts, sorted; imports no recipe."""
    return sorted(RECIPES)


def get_recipe(name: str) -> type[Recipe]:
    """The Recipe class registered as `name`, importing its family's module on first use."""
    try:
        module, cls = RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of: "
                         + ", ".join(recipe_names())) from None
    return getattr(import_module(f"{__name__}.{module}"), cls)  # lazy: a family loads on use


__all__ = ["DataInfo", "Option", "RECIPES", "Recipe", "RunConfig", "SampleRequest", "get_recipe",
           "recipe_names"]
