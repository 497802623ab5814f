"""ClipEncoder with the tiny random-weight configs (never the network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from foleystudio.core.boxes import Box
from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.encoders.clip_encoder import CLIP_CONFIGS, ClipEncoder, ClipEncoderConfig

DEBUG = ClipEncoderConfig("fw-clip-debug")


@pytest.fixture(scope="module")
def encoder() -> ClipEncoder:
    return ClipEncoder.from_config(DEBUG, seed=0)


def frames(n: int, seed: int = 0, height: int = 48, width: int = 80) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


def test_image_embeddings_shape_norm_and_batching(encoder: ClipEncoder) -> None:
    images = frames(5)
    emb = encoder.encode_images(images, batch_size=2)
    assert emb.shape == (5, encoder.embed_dim) == (5, 32)
    assert torch.allclose(emb.norm(dim=1), torch.ones(5), atol=1e-5)
    assert torch.allclose(emb, encoder.encode_images(images, batch_size=64), atol=1e-5)
    assert torch.allclose(emb, encoder.encode_images(torch.from_numpy(images)), atol=1e-5)
    assert not torch.allclose(emb[0], emb[1], atol=1e-3)
    assert encoder.encode_images(images[:0]).shape == (0, 32)
    with pytest.raises(UsageError):
        encoder.encode_images(images.astype(np.float32))


def test_preprocess_resizes_and_normalises_with_clip_statistics(encoder: ClipEncoder) -> None:
    grey = np.full((2, 30, 70, 3), 128, np.uint8)
    pixels = encoder.preprocess(grey)
    assert pixels.shape == (2, 3, 32, 32)
    expected = (128 / 255 - torch.tensor([0.48145466, 0.4578275, 0.40821073])) / torch.tensor(
        [0.26862954, 0.26130258, 0.27577711]
    )
    assert torch.allclose(pixels[0, :, 5, 5], expected, atol=1e-5)
    crop = ClipEncoder(
        encoder.model, encoder.tokenizer, ClipEncoderConfig("fw-clip-debug", resize_mode="crop")
    )
    assert crop.preprocess(grey).shape == (2, 3, 32, 32)


def test_crops_equal_images_of_the_cropped_region(encoder: ClipEncoder) -> None:
    images = frames(3, height=40, width=80)
    whole = encoder.encode_crops(images, [Box(0, 0, 1, 1)] * 3)
    assert torch.allclose(whole, encoder.encode_images(images), atol=1e-5)
    left = encoder.encode_crops(images, np.array([[0.0, 0.0, 0.5, 1.0]] * 3))
    assert torch.allclose(left, encoder.encode_images(np.ascontiguousarray(images[:, :, :40])), atol=1e-5)


def test_text_tokens_mask_and_pooled_match_open_clip(encoder: ClipEncoder) -> None:
    texts = ["a wooden ball bounces on the floor", "bell"]
    tokens, mask, pooled = encoder.encode_text(texts)
    assert tokens.shape == (2, 16, 32) and mask.shape == (2, 16) and pooled.shape == (2, 32)
    ids = encoder.tokenize(texts)
    assert mask[1].tolist() == [True, True, True] + [False] * 13  # start, "bell", end
    assert mask.sum(1).tolist() == (ids != 0).sum(1).tolist()
    reference = encoder.model.encode_text(ids, normalize=True)
    assert torch.allclose(pooled, reference, atol=1e-6)
    # pooled is the end token's feature, normalised
    end = ids.argmax(dim=1)
    assert torch.allclose(pooled, F.normalize(tokens[torch.arange(2), end], dim=-1), atol=1e-6)
    long_text = " ".join(["clack"] * 100)  # truncated to the context length, still ends with EOT
    assert encoder.encode_text([long_text])[1].all()


def test_text_features_are_differentiable(encoder: ClipEncoder) -> None:
    tokens, _, pooled = encoder.text_features(encoder.tokenize(["door slam"]))
    (tokens.sum() + pooled.sum()).backward()
    assert encoder.model.token_embedding.weight.grad is not None
    encoder.model.zero_grad(set_to_none=True)


def test_seeded_construction_is_deterministic_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = ClipEncoder.from_config(DEBUG, seed=7)
    assert torch.equal(torch.rand(3), expected)
    b = ClipEncoder.from_config(DEBUG, seed=7)
    c = ClipEncoder.from_config(DEBUG, seed=8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_local_safetensors_round_trip(encoder: ClipEncoder, tmp_path) -> None:
    path = tmp_path / "clip.safetensors"
    encoder.save_weights(path)
    loaded = ClipEncoder.from_pretrained("fw-clip-debug", path)
    images = frames(2, seed=3)
    assert torch.equal(loaded.encode_images(images), encoder.encode_images(images))
    assert torch.equal(loaded.encode_text(["rain"])[2], encoder.encode_text(["rain"])[2])
    assert loaded.config.model_cfg == CLIP_CONFIGS["fw-clip-debug"]
    again = ClipEncoder.from_config(ClipEncoderConfig.from_dict(loaded.config.to_dict()))
    assert torch.equal(again.encode_images(images), loaded.encode_images(images))


def test_bad_weights_raise_checkpoint_errors(encoder: ClipEncoder, tmp_path) -> None:
    path = tmp_path / "debug.safetensors"
    encoder.save_weights(path)
    with pytest.raises(CheckpointError, match="wrong shape"):
        ClipEncoder.from_config(ClipEncoderConfig("fw-clip-debug", str(path), image_size=48))
    other = ClipEncoder.from_config(
        ClipEncoderConfig("custom", model_cfg={**CLIP_CONFIGS["fw-clip-debug"], "embed_dim": 16})
    )
    with pytest.raises(CheckpointError, match=str(path.name)):
        other.load_weights(path)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError, match="safetensors"):
        ClipEncoder.from_pretrained("fw-clip-debug", broken)
    pickled = tmp_path / "weights.bin"
    pickled.write_bytes(b"\x80\x04")
    with pytest.raises(CheckpointError, match="pickle"):
        ClipEncoder.from_pretrained("fw-clip-debug", pickled)
    with pytest.raises(CheckpointError, match="not found"):
        ClipEncoder.from_pretrained("fw-clip-debug", tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="unknown CLIP model"):
        ClipEncoder.from_config(ClipEncoderConfig("no-such-model"))
    with pytest.raises(CheckpointError, match="local"):
        ClipEncoder.from_config(ClipEncoderConfig("fw-clip-debug", "laion2b_s34b_b79k"))


def test_tiny_config_shapes() -> None:
    tiny = ClipEncoder.from_config(ClipEncoderConfig("fw-clip-tiny"))
    assert tiny.embed_dim == 128 and tiny.image_size == 64 and tiny.context_length == 32
    assert tiny.encode_images(frames(2, height=90, width=160)).shape == (2, 128)
    assert tiny.encode_text(["hammer on anvil"])[0].shape == (1, 32, 128)


def test_builtin_open_clip_architecture_without_weights() -> None:
    # A real open_clip built-in config (random weights, no download), shrunk to keep it fast.
    enc = ClipEncoder.from_config(ClipEncoderConfig("ViT-S-32", image_size=64))
    assert enc.encode_images(frames(1)).shape == (1, enc.embed_dim) == (1, 384)
    assert enc.encode_text(["a bell"])[0].shape == (1, 77, 384)
