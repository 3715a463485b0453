"""benchmarks/clip_twin.py is the clip recipe's model and step: PyTorch's twin's state dict loads
into tinygen's CLIP (tinygen/models/clip.py) and both give the same loss and gradients, and the
tinygen twin's step equals the recipe's loss (F.info_nce with label-aware targets)."""
import os
import sys

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.models.clip import CLIP, CLIPConfig

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
from clip_twin import clip_model, clip_step_inputs, info_nce  # noqa: E402

torch = pytest.importorskip("torch")

SMALL = dict(width=4, image_features=8, text_width=8, text_layers=1, text_heads=2, max_len=12,
             embed_dim=6)


def test_torch_twin_and_tinygen_clip_compute_the_same_loss_and_gradients():
    torch.manual_seed(0)
    twin = clip_model(torch, torch.nn, torch.nn.functional, **SMALL)
    model = CLIP(CLIPConfig(vocab_size=42, image_size=28, **SMALL))
    state = {k: v.detach().numpy() for k, v in twin.state_dict().items()}
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state)
    x, tokens, where, targets = clip_step_inputs(None, B=16, captions=20, L=12)
    th = [torch.tensor(a) for a in (x, tokens, where, targets)]

    image = twin.image_projection(twin.image_encoder(th[0]))
    text = twin.text_projection(twin.text_encoder(th[1])).index_select(0, th[2])
    loss_th = info_nce(torch, torch.nn.functional, image, text, twin.logit_scale, th[3])
    loss_th.backward()

    image_tg, text_tg, scale = model(tg.tensor(x), tg.tensor(tokens))
    loss_tg = F.info_nce(image_tg, text_tg.index_select(0, tg.tensor(where)), scale,
                         targets=tg.tensor(targets))
    loss_tg.backward()
    assert loss_tg.item() == pytest.approx(loss_th.item(), rel=1e-5)
    grads = dict(model.named_parameters())
    for name, p in twin.named_parameters():
        np.testing.assert_allclose(grads[name].grad.numpy(), p.grad.numpy(), rtol=2e-3,
                                   atol=2e-5, err_msg=name)
