"""The image models at 1 and 3 channels and 8, 28, 32 and 64 px: the output shapes, and the DCGAN
paper's rules (stride-2 convolutions, BatchNorm, no pooling, no fully connected hidden layer)."""
import pytest

import tinygen as tg
from tinygen import nn
from tinygen.models import VAE, GANConfig, VAEConfig
from tinygen.models.gan import ConvDiscriminator, ConvGenerator
from tinygen.models.image_shapes import strided_levels
from tinygen.models.unet import UNet, UNetConfig

SHAPES = [(1, 8), (1, 28), (3, 28), (1, 32), (3, 32), (1, 64), (3, 64)]


def test_strided_levels():
    assert strided_levels(8) == (2, 2)          # the digits' shapes, as before
    assert strided_levels(28) == (2, 7)
    assert strided_levels(32) == (3, 4)
    assert strided_levels(64) == (4, 4)         # the DCGAN paper's 64 -> 32 -> 16 -> 8 -> 4
    with pytest.raises(ValueError, match="image size 25: .*divisible by 4"):
        strided_levels(25)


def _strides(module, kind):
    return [m.stride for m in module.modules() if type(m) is kind]


@pytest.mark.parametrize("channels,size", SHAPES)
def test_dcgan_shapes(channels, size):
    config = GANConfig(in_channels=channels, image_size=size, latent=6, width=4)
    generator, discriminator = ConvGenerator(config), ConvDiscriminator(config)
    images = generator(tg.randn(3, 6))
    assert tuple(images.shape) == (3, channels, size, size)
    assert 0 <= images.min().item() and images.max().item() <= 1
    assert tuple(discriminator(images).shape) == (3,)


def test_dcgan_at_64_px_follows_the_paper():
    config = GANConfig(in_channels=3, image_size=64, latent=100, width=8)
    generator, discriminator = ConvGenerator(config), ConvDiscriminator(config)
    # four stride-2 (transposed) convolutions each way, channels doubling towards 4x4
    assert [s for s in _strides(discriminator, nn.Conv2d) if s == (2, 2)] == [(2, 2)] * 4
    assert [s for s in _strides(generator, nn.ConvTranspose2d) if s == (2, 2)] == [(2, 2)] * 4
    widths = [m.out_channels for m in discriminator.modules() if type(m) is nn.Conv2d]
    assert widths == [8, 16, 32, 64, 1]
    widths = [m.out_channels for m in generator.modules() if type(m) is nn.ConvTranspose2d]
    assert widths == [64, 32, 16, 8, 3]
    # BatchNorm after every generator layer but the last, every discriminator layer but the first
    assert sum(type(m) is nn.BatchNorm2d for m in generator.modules()) == 4
    assert sum(type(m) is nn.BatchNorm2d for m in discriminator.modules()) == 3
    for model in (generator, discriminator):
        names = {type(m).__name__ for m in model.modules()}
        assert not any("Pool" in n for n in names) and "Linear" not in names, names
    # the WGAN-GP critic: the same shapes without BatchNorm
    critic = ConvDiscriminator(GANConfig(in_channels=3, image_size=64, width=8,
                                         critic_batchnorm=False))
    assert sum(type(m) is nn.BatchNorm2d for m in critic.modules()) == 0


@pytest.mark.parametrize("channels,size", SHAPES)
def test_conv_vae_shapes(channels, size):
    model = VAE(VAEConfig(in_channels=channels, image_size=size, conv=True, width=4, hidden=16,
                          latent=3))
    x = tg.rand(2, channels, size, size)
    recon, mu, logvar = model(x)
    assert tuple(recon.shape) == (2, channels, size, size) and tuple(mu.shape) == (2, 3)
    levels, _ = strided_levels(size)
    assert [s for s in _strides(model.encoder, nn.Conv2d)] == [(2, 2)] * levels


@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32), (3, 64)])
def test_unet_shapes(channels, size):
    unet = UNet(UNetConfig(in_channels=channels, image_size=size, channels=(8, 16, 16), groups=4,
                           time_dim=16))
    x = tg.randn(2, channels, size, size)
    assert tuple(unet(x, tg.tensor([0, 999])).shape) == (2, channels, size, size)


def test_a_side_the_models_cannot_halve_is_a_clear_error():
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvGenerator(GANConfig(image_size=25))
    with pytest.raises(ValueError, match="divisible by 4"):
        VAE(VAEConfig(image_size=30, conv=True))
