"""Models make the tensors of their forward passes and samplers on the device of their inputs or
parameters. On the test device a tensor made on the CPU instead raises, as it would on CUDA."""
import pytest

import tinygen as tg
from tinygen.models import (GPT, VAE, CharRNN, FlowConfig, GANConfig, GPTConfig, MultiScaleFlow,
                            Seq2Seq, Seq2SeqConfig, VAEConfig, VectorFlow)
from tinygen.models.gan import ConvDiscriminator, gradient_penalty
from tinygen.models.seq2seq import shift_right
from tinygen.models.vae import importance_weighted_nll

DEVICE = "test"


def _on(module):
    return module.to(DEVICE)


def test_gpt_positions_and_generation():
    model = _on(GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8)))
    idx = tg.randint(0, 11, (2, 5), device=DEVICE)
    logits, loss = model(idx, idx)
    assert logits.device == DEVICE and loss.device == DEVICE
    assert model.generate(idx, 3, top_k=4).device == DEVICE


def test_char_rnn_generation():
    model = _on(CharRNN(11, "gru", hidden=8, layers=1, embed=4))
    out = model.generate(tg.randint(0, 11, (1, 3), device=DEVICE), 4)
    assert out.device == DEVICE and tuple(out.shape) == (1, 7)


def test_vae_noise_follows_the_input():
    model = _on(VAE(VAEConfig(in_channels=1, image_size=8, hidden=8, latent=2)))
    x = tg.rand(3, 1, 8, 8, device=DEVICE)
    recon, mu, _ = model(x)
    assert recon.device == DEVICE and mu.device == DEVICE
    assert importance_weighted_nll(model, x, samples=2).device == DEVICE


def test_gradient_penalty_interpolates_on_the_device():
    critic = _on(ConvDiscriminator(GANConfig(in_channels=1, image_size=8, width=2,
                                             critic_batchnorm=False)))
    real, fake = tg.rand(2, 1, 8, 8, device=DEVICE), tg.rand(2, 1, 8, 8, device=DEVICE)
    assert gradient_penalty(critic, real, fake).device == DEVICE


@pytest.mark.parametrize("glow", [False, True])
def test_flows_sample_on_their_device(glow):
    vector = _on(VectorFlow(FlowConfig(shape=(2,), glow=glow, couplings=2, hidden=4)))
    assert vector.sample(3).device == DEVICE
    images = MultiScaleFlow(FlowConfig(shape=(1, 8, 8), glow=glow, couplings=2, hidden=4))
    x = tg.rand(2, 1, 8, 8, device=DEVICE)
    _on(images).log_prob(x)                     # also initialises Glow's actnorm on the device
    assert images.sample(2).device == DEVICE


def test_seq2seq_masks_positions_and_decoding():
    model = _on(Seq2Seq(Seq2SeqConfig(max_len=5, d_model=8, nhead=2, layers=1,
                                      dim_feedforward=8)))
    src = tg.randint(3, 14, (2, 5), device=DEVICE)
    assert model(src, shift_right(src)).device == DEVICE
    assert model.greedy(src, 3).device == DEVICE
