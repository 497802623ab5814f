"""Search over initial noises (docs/architecture.md §7.1): :mod:`.gmds` (Gaussian Mixture
Diffusion Search) and :mod:`.noise` (noise recipes → tensors)."""
