"""tinygen/models/clip.py, tinygen/data/captions.py and tinygen/data/augment.py: shapes, the
logit scale's start and clamp, the tokenizer, the captions, the views."""
import math

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.data.augment import random_affine, random_view
from tinygen.data.captions import CaptionSet
from tinygen.models.clip import (CLIP, CharTokenizer, CLIPConfig, SimCLR, SimCLRConfig,
                                 class_text_embeddings)


def _small_clip(**kw):
    return CLIP(CLIPConfig(vocab_size=CharTokenizer().vocab_size, image_size=8, width=4,
                           image_features=8, text_width=8, text_layers=1, text_heads=2,
                           max_len=20, embed_dim=6, **kw))


def test_shapes_and_the_initial_logit_scale():
    tg.manual_seed(0)
    model = _small_clip()
    x = tg.rand(5, 1, 8, 8)
    tokens = tg.tensor(CharTokenizer().encode(["a 7", "the digit seven", "a 1"], 20))
    image, text, scale = model(x, tokens)
    assert image.shape == (5, 6) and text.shape == (3, 6)
    assert scale.shape == () and scale.item() == pytest.approx(math.log(1 / 0.07), rel=1e-6)
    assert model.image_features(x).shape == (5, 8)
    assert "logit_scale" in dict(model.named_parameters())


def test_the_logit_scale_is_clamped_at_ln_100_after_a_step():
    tg.manual_seed(0)
    model = _small_clip()
    opt = tg.optim.SGD([model.logit_scale], lr=1000.0)
    x = tg.rand(4, 1, 8, 8)
    tokens = tg.tensor(CharTokenizer().encode(["a", "b", "c", "d"], 20))
    image, text, scale = model(x, tokens)
    # a loss that only wants a larger scale: the step overshoots ln 100 by far
    (-scale).backward()
    opt.step()
    assert model.logit_scale.item() > math.log(100) + 1
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == pytest.approx(math.log(100), rel=1e-6)
    model.logit_scale.data.fill_(1.0)
    model.clamp_logit_scale_()                          # below the bound: left alone
    assert model.logit_scale.item() == pytest.approx(1.0)
    assert np.isfinite(F.info_nce(image.detach(), text.detach()[:4], model.logit_scale).item())


def test_padding_does_not_change_a_caption_embedding():
    tg.manual_seed(0)
    model = _small_clip()
    model.eval()
    tok = CharTokenizer()
    short = model.encode_text(tg.tensor(tok.encode(["a handwritten 7"], 15)))
    padded = model.encode_text(tg.tensor(tok.encode(["a handwritten 7"], 20)))
    np.testing.assert_allclose(short.numpy(), padded.numpy(), rtol=1e-5, atol=1e-6)


def test_tokenizer_errors_name_the_caption():
    tok = CharTokenizer()
    assert tok.encode(["ab"], 4).tolist() == [[2, 3, 0, 0]]
    with pytest.raises(ValueError, match="outside the vocabulary.*'#'"):
        tok.encode(["a #1"], 10)
    with pytest.raises(ValueError, match="more than max_len=3"):
        tok.encode(["abcd"], 3)
    with pytest.raises(ValueError, match="longer than max_len=20"):
        _small_clip().encode_text(tg.zeros(1, 21, dtype=tg.int64))


def test_prompt_ensemble_is_the_normalised_mean():
    tg.manual_seed(0)
    model = _small_clip()
    model.eval()
    tokens = tg.tensor(CharTokenizer().encode(["a 1", "one", "a 2", "two"], 20)).reshape(2, 2, 20)
    weights = class_text_embeddings(model, tokens).numpy()
    each = F.normalize(model.encode_text(tokens.reshape(4, 20)), dim=1).numpy().reshape(2, 2, -1)
    mean = each.mean(axis=1)
    np.testing.assert_allclose(weights, mean / np.linalg.norm(mean, axis=1, keepdims=True),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["digits", "mnist", "fashion-mnist"])
def test_captions_name_each_class_in_several_templates(name):
    captions = CaptionSet(name)
    assert captions.num_classes == 10
    assert all(len(set(p)) >= 8 for p in captions.prompts)              # several phrasings
    assert len({p for ps in captions.prompts for p in ps}) == len(captions.flat)  # no clashes
    CharTokenizer().encode(captions.flat, captions.max_chars)           # all in the vocabulary
    labels = np.repeat(np.arange(10), 200)
    ids = captions.sample(labels, np.random.default_rng(0))
    assert (captions.labels_of(ids) == labels).all()
    assert len(np.unique(ids[labels == 3])) == len(captions.prompts[3])  # varied at random
    ensemble = captions.ensemble()
    assert len({len(p) for p in ensemble}) == 1
    heldout = {p for ps in captions.ensemble(heldout=True) for p in ps}
    assert heldout and not heldout & set(captions.flat)                # never trained on
    CharTokenizer().encode(sorted(heldout), captions.max_chars)


def test_captions_errors():
    with pytest.raises(ValueError, match="no captions for dataset 'moons'"):
        CaptionSet("moons")
    with pytest.raises(ValueError, match=r"labels must be in 0..9"):
        CaptionSet("mnist").sample(np.array([3, 10]), np.random.default_rng(0))


def test_views_are_random_valid_images_near_the_original():
    rng = np.random.default_rng(0)
    x = np.zeros((64, 1, 28, 28), dtype=np.float32)
    x[:, :, 8:20, 12:16] = 1.0                                           # a bar, centred
    same = random_affine(x, rng, max_degrees=0.0, scale=(1.0, 1.0), max_shift=0.0)
    np.testing.assert_allclose(same, x, atol=1e-5)                      # the identity is exact
    v1, v2 = random_view(x, rng), random_view(x, rng)
    assert v1.shape == x.shape and v1.dtype == np.float32
    assert 0 <= v1.min() and v1.max() <= 1
    assert np.abs(v1 - v2).mean() > 0.01                                 # two different views
    moved = random_affine(x, rng)
    # the mass stays about the same (zoom 0.85..1.15 changes it by at most ~30%)
    ratio = moved.sum(axis=(1, 2, 3)) / x.sum(axis=(1, 2, 3))
    assert (ratio > 0.6).all() and (ratio < 1.45).all()
    with pytest.raises(ValueError, match=r"random_affine: expected images of shape \(B, C, H, W\)"):
        random_affine(x[0], rng)


def test_simclr_shapes():
    tg.manual_seed(0)
    model = SimCLR(SimCLRConfig(image_size=8, width=4, image_features=8, projection_dim=3))
    x = tg.rand(6, 1, 8, 8)
    assert model(x).shape == (6, 3) and model.image_features(x).shape == (6, 8)
