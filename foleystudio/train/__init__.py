"""Trainers for each trainable part (CLIP, audio encoder, Flowley); single process or torchrun."""
