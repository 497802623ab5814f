"""torch layer: models, encoders, sampling, metrics, checkpoints. No Qt."""
