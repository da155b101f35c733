"""Image generation (`task: image_generation`): VAE, DCGAN and diffusion models of images,
sampling per class, FID/KID in a modelyard classifier's feature space (model.py)."""
