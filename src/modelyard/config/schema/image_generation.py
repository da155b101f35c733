"""The image-generation task's config: the images (a table's path column or a class-per-
subfolder folder, optionally a class column to condition on), the generative model (a tagged
union on `model.type`), and the offline evaluation (FID/KID in a modelyard classifier's
feature space)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from modelyard.config.schema.common import Probability, Strict
from modelyard.config.schema.trainer import AdamW, EarlyStopping, Optimizer, Tracking, Trainer

Path = Annotated[str, Field(min_length=1)]
Column = Annotated[str, Field(min_length=1)]


class GenerationData(Strict):
    """`train` (and optional `validation`, `test`): a CSV/TSV/Parquet/JSON-lines table whose
    `image` column holds image paths (relative to the table), or a folder with one subfolder
    per class (the subfolder name is the column `label`). `condition`: the class column the
    model is conditioned on (`label` for a folder); none: an unconditional model."""

    train: Path
    validation: Path | None = None
    test: Path | None = None
    image: Column = "image"
    condition: Column | None = None


class GenerationSplit(Strict):
    """Without a `data.validation` file: the `validation` share of the training images (seed
    `seed`) is held out for the per-epoch loss."""

    validation: Probability = 0.05
    seed: int = 0


class GenerationImages(Strict):
    """Images are resized to `height` x `width` (default: the first training image's size)
    and made `grayscale` or `rgb` (`auto`: as the first image); pixels become [-1, 1]."""

    height: PositiveInt | None = None
    width: PositiveInt | None = None
    color: Literal["auto", "grayscale", "rgb"] = "auto"


class Diffusion(Strict):
    """A denoising diffusion model (DDPM training, epsilon prediction) on a U-Net with time
    and class embeddings. `channels`: the U-Net's width per resolution (each halves the image);
    `schedule`/`timesteps`: the noise schedule; `ema_decay`: averaged weights used for
    sampling (the decay ramps up as (1 + step) / (10 + step) first); `label_dropout`: the
    share of training labels replaced by "no class" (classifier-free guidance needs it);
    `sampling_steps`/`guidance`: DDIM steps and guidance scale of sampling (1: no guidance).
    Use when: the best samples matter; cost: `sampling_steps` (x2 with guidance) network
    passes per sample."""

    type: Literal["diffusion"]
    channels: Annotated[list[PositiveInt], Field(min_length=1, max_length=5)] = [32, 64, 64]
    schedule: Literal["cosine", "linear"] = "cosine"
    timesteps: Annotated[int, Field(ge=10)] = 1000
    ema_decay: Annotated[float, Field(ge=0, lt=1)] = 0.999
    label_dropout: Probability = 0.1
    sampling_steps: PositiveInt = 25
    guidance: Annotated[float, Field(ge=0)] = 2.0


class Gan(Strict):
    """A DCGAN: a transposed-convolution generator from `latent` noise values and a
    convolutional discriminator, `channels` wide at the finest resolution. `loss: standard`
    (non-saturating) or `wgan_gp` (Wasserstein critic with gradient penalty
    `gradient_penalty`); the discriminator takes `critic_steps` steps per generator step
    (default 1, 5 with wgan_gp). Use when: one-pass sampling with sharp images; cost: less
    stable training than `vae` or `diffusion`."""

    type: Literal["gan"]
    latent: PositiveInt = 64
    channels: PositiveInt = 64
    loss: Literal["standard", "wgan_gp"] = "standard"
    gradient_penalty: PositiveFloat = 10.0
    critic_steps: PositiveInt | None = None


class Vae(Strict):
    """A convolutional variational autoencoder with `latent` values per image, `channels`
    wide per resolution; `beta` weighs the KL term. Use when: fast, stable training and
    one-pass sampling; samples are blurrier than diffusion's."""

    type: Literal["vae"]
    latent: PositiveInt = 16
    channels: Annotated[list[PositiveInt], Field(min_length=1, max_length=4)] = [32, 64]
    beta: PositiveFloat = 1.0


GenerationModel = Annotated[Diffusion | Gan | Vae, Field(discriminator="type")]
MODEL_TYPES = (Diffusion, Gan, Vae)  # config/load.py names the type a misplaced key belongs to


class GenerationEvaluation(Strict):
    """After training, `samples` generated images are compared with the real test images
    (validation where there is no test split) by FID and KID in the feature space of
    `judge`: a modelyard supervised run (its image classifier's penultimate layer), so no
    downloaded Inception weights are needed. Without a judge: no FID/KID. `grid_every`:
    a sample grid per class every that many epochs for the report (0: none)."""

    judge: Path | None = None
    samples: PositiveInt = 1000
    grid_every: Annotated[int, Field(ge=0)] = 1


class GenerationTrainer(Trainer):
    """As `trainer` elsewhere, with generation defaults (AdamW at 1e-3, batch 128, 20 epochs,
    no early stopping, the last epoch's weights)."""

    epochs: PositiveInt = 20
    batch_size: PositiveInt | Literal["full"] = 128
    optimizer: Optimizer = AdamW(lr=1e-3, weight_decay=0.0)
    early_stopping: EarlyStopping | None = None
    keep: Literal["best", "last"] = "last"


class ImageGenerationConfig(Strict):
    """Image generation: a VAE, GAN or diffusion model of the training images."""

    task: Literal["image_generation"]
    name: str = "run"
    data: GenerationData
    split: GenerationSplit = GenerationSplit()
    images: GenerationImages = GenerationImages()
    model: GenerationModel
    evaluation: GenerationEvaluation = GenerationEvaluation()
    trainer: GenerationTrainer = GenerationTrainer()
    tracking: Tracking = Tracking()
