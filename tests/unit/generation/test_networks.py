"""The VAE and GAN networks: shapes at sizes that are not multiples of 4, and the GAN's
alternating step (the generator moves only on its own steps)."""

from __future__ import annotations

import types

import torch

from modelyard.generation.networks import Discriminator, Gan, Generator, Vae, vae_loss


def test_generator_and_vae_make_images_of_the_data_shape():
    shape = (3, 10, 13)
    g = Generator(8, 4, shape, classes=2)
    assert g(torch.randn(5, 8), torch.tensor([0, 1, 0, 1, 0])).shape == (5, *shape)
    d = Discriminator(4, shape, classes=2)
    assert d(torch.rand(5, *shape), torch.zeros(5, dtype=torch.long)).shape == (5,)
    vae = Vae(4, [8, 16], shape, classes=0)
    assert vae.decode(torch.randn(2, 4)).shape == (2, *shape)
    assert vae_loss(vae, torch.rand(2, *shape) * 2 - 1, None, 1.0) > 0


def _run(net, lr=0.1):
    from modelyard.train.distributed import Processes

    setup = types.SimpleNamespace(device=torch.device("cpu"), bf16=False, procs=Processes())
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    return types.SimpleNamespace(model=net, optimizer=opt, setup=setup, scheduler=None)


def test_gan_step_moves_the_generator_every_critic_steps_batches():
    from modelyard.config.schema.image_generation import Gan as GanConfig
    from modelyard.generation.kinds import GanNet, gan_step

    cfg = GanConfig(type="gan", latent=4, channels=4, loss="wgan_gp", critic_steps=2)
    net = GanNet(cfg, (1, 8, 8), classes=0)
    run = _run(net)
    batch = {"image": torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)}
    g_before = net.gan.generator.project.weight.clone()
    d_before = net.gan.discriminator.score.weight.clone()
    loss = gan_step(run, batch, 1.0, True)
    assert torch.isfinite(loss)
    assert torch.equal(net.gan.generator.project.weight, g_before)  # a critic step only
    assert not torch.equal(net.gan.discriminator.score.weight, d_before)
    gan_step(run, batch, 1.0, True)
    assert not torch.equal(net.gan.generator.project.weight, g_before)
    assert isinstance(net.gan, Gan)


def test_conditional_discriminator_starts_as_the_unconditional_one():
    """A unit-normal projection embedding made the class term dwarf the score at the start
    (the GAN's discriminator loss sat near 5 on Fashion-MNIST)."""
    d = Discriminator(8, (1, 12, 12), classes=3)
    x = torch.rand(4, 1, 12, 12)
    a, b = d(x, torch.zeros(4, dtype=torch.long)), d(x, torch.full((4,), 2))
    assert torch.equal(a, b)
