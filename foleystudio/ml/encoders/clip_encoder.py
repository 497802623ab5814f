"""CLIP image and text encoders through open_clip (docs/architecture.md §4–6).

:class:`ClipEncoder` wraps an open_clip ``CLIP``/``CustomTextCLIP`` model and its tokenizer:

- frames or box crops (uint8 RGB) -> l2-normalised image embeddings [N, D];
- text -> per-token features [B, L, D] (the text transformer's final hidden states after
  ``ln_final``, through ``text_projection``; not normalised), their mask [B, L], and the
  l2-normalised pooled embedding [B, D] (exactly open_clip's ``encode_text``).

Models come from a :class:`ClipEncoderConfig`: one of our named configs (:data:`CLIP_CONFIGS`,
small ViTs trained on FoleyWorld on a CPU), an explicit open_clip config dict, or any open_clip
built-in architecture. Weights come from a local ``.safetensors`` file (strict loading, never
pickle) or, for built-ins, an open_clip pretrained tag (this downloads; nothing in the app
does it unless the user asks). Without weights the model is randomly initialised (seeded).

Image preprocessing is done in torch (no PIL): resize to the model's square input with
antialiasing, then CLIP mean/std normalisation. ``resize_mode="squash"`` (default) resizes the
whole frame to a square, so objects at the frame edges are kept (Foley needs the whole
picture); ``"crop"`` is CLIP's shortest-side resize + centre crop. Decode video at a small size
(e.g. 160 px) before calling: resizing 1080p frames here costs ~10 ms a frame on a CPU.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.tokenizer import SimpleTokenizer
from open_clip.transformer import text_global_pool

from foleystudio.core.atomicfile import atomic_write_bytes
from foleystudio.core.boxes import Box
from foleystudio.errors import CheckpointError, UsageError
from foleystudio.ml.encoders import load_safetensors_strict, load_state_dict_strict, seeded_init

#: Our named open_clip architectures (open_clip model-config dicts). The text towers use
#: open_clip's bundled BPE tokenizer (49408 tokens, shipped inside the package, no network).
CLIP_CONFIGS: dict[str, dict[str, Any]] = {
    # The bundled model's encoder: 64 px frames in 8 px patches (64 visual tokens), 4 layers.
    "fw-clip-tiny": {
        "embed_dim": 128,
        "vision_cfg": {"image_size": 64, "patch_size": 8, "width": 192, "layers": 4, "head_width": 64},
        "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 4},
    },
    # For unit tests: as small as open_clip allows while keeping every part.
    "fw-clip-debug": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "layers": 1, "head_width": 16},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    },
}

_RESIZE_MODES = ("squash", "crop")


@dataclass(frozen=True)
class ClipEncoderConfig:
    """Which CLIP model to build and how to feed it (serialisable with :meth:`to_dict`).

    ``model``: a name of :data:`CLIP_CONFIGS` or an open_clip built-in (``open_clip.list_models()``).
    ``pretrained``: an open_clip tag (built-ins only; downloads) or a local ``.safetensors`` path;
    None = random initialisation. ``image_size``: input side in px (None = the model's own).
    ``resize_mode``: ``"squash"`` or ``"crop"`` (see module doc). ``model_cfg``: an explicit
    open_clip config dict (``embed_dim``, ``vision_cfg``, ``text_cfg``, ...) that overrides the
    lookup by name; :meth:`ClipEncoder.config` always carries the resolved dict for our models,
    so a saved bundle does not depend on :data:`CLIP_CONFIGS` staying the same.
    """

    model: str = "fw-clip-tiny"
    pretrained: str | None = None
    image_size: int | None = None
    resize_mode: str = "squash"
    model_cfg: dict[str, Any] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipEncoderConfig:
        known = {
            k: data[k] for k in ("model", "pretrained", "image_size", "resize_mode", "model_cfg") if k in data
        }
        return cls(**known)


def _is_local_file(pretrained: str) -> bool:
    return (
        pretrained.endswith((".safetensors", ".bin", ".pt", ".pth"))
        or os.sep in pretrained
        or "/" in pretrained
    )


class ClipEncoder:
    """An open_clip model plus tokenizer and preprocessing. ``.model`` is the ``nn.Module``
    (train it with ``open_clip.ClipLoss``); ``encode_*`` run without gradients."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        config: ClipEncoderConfig,
        mean: Sequence[float] = OPENAI_DATASET_MEAN,
        std: Sequence[float] = OPENAI_DATASET_STD,
    ) -> None:
        if config.resize_mode not in _RESIZE_MODES:
            raise UsageError(f"resize_mode must be one of {_RESIZE_MODES}, got {config.resize_mode!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        size = model.visual.image_size
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        text_tower = getattr(model, "text", None)
        tower = text_tower if text_tower is not None else model
        if not hasattr(tower, "token_embedding") or getattr(tower, "cls_emb", None) is not None:
            raise CheckpointError(
                f"CLIP model {config.model!r}: only open_clip's standard text transformer is supported"
            )
        self._tower = tower
        self.context_length = int(tower.positional_embedding.shape[0])

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_config(
        cls, config: ClipEncoderConfig, device: torch.device | str = "cpu", *, seed: int | None = 0
    ) -> ClipEncoder:
        """Build the model ``config`` names and load its weights if ``config.pretrained`` is set.

        Random initialisation is seeded with ``seed`` (None: torch's global RNG) without
        disturbing the global random stream.
        """
        device = torch.device(device)
        model_cfg = config.model_cfg or CLIP_CONFIGS.get(config.model)
        local = config.pretrained is not None and _is_local_file(config.pretrained)
        if model_cfg is not None:
            cfg = copy.deepcopy(model_cfg)
            if config.image_size is not None:
                cfg["vision_cfg"]["image_size"] = int(config.image_size)
            if config.pretrained is not None and not local:
                raise CheckpointError(
                    f"{config.model!r} is a FoleyStudio config: pretrained must be a local .safetensors file, got tag {config.pretrained!r}"
                )
            with seeded_init(seed):
                model = open_clip.CLIP(**cfg)
            tokenizer = SimpleTokenizer(context_length=cfg["text_cfg"].get("context_length", 77))
            mean, std = OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
            config = ClipEncoderConfig(
                config.model, config.pretrained, config.image_size, config.resize_mode, cfg
            )
        else:
            if config.model not in open_clip.list_models():
                raise CheckpointError(
                    f"unknown CLIP model {config.model!r} (ours: {sorted(CLIP_CONFIGS)}; or an open_clip built-in)"
                )
            tag = None if (config.pretrained is None or local) else config.pretrained
            try:
                with seeded_init(seed):
                    model = open_clip.create_model(
                        config.model, pretrained=tag, force_image_size=config.image_size, device="cpu"
                    )
            except RuntimeError as exc:  # unknown tag, failed download
                raise CheckpointError(
                    f"cannot create CLIP {config.model!r} with weights {tag!r}: {exc}"
                ) from exc
            tokenizer = open_clip.get_tokenizer(config.model)
            pre = open_clip.get_model_preprocess_cfg(model)
            mean, std = pre.get("mean", OPENAI_DATASET_MEAN), pre.get("std", OPENAI_DATASET_STD)
        if local:
            load_safetensors_strict(model, config.pretrained)  # type: ignore[arg-type]
        model = model.to(device).eval()
        return cls(model, tokenizer, config, mean, std)

    @classmethod
    def from_pretrained(
        cls,
        name: str,
        pretrained: str | os.PathLike[str] | None,
        device: torch.device | str = "cpu",
        *,
        image_size: int | None = None,
        resize_mode: str = "squash",
    ) -> ClipEncoder:
        """``name`` (ours or an open_clip built-in) with weights from ``pretrained``: a local
        ``.safetensors`` file, or an open_clip tag such as ``"laion2b_s34b_b79k"`` (downloads)."""
        weights = None if pretrained is None else os.fspath(pretrained)
        return cls.from_config(ClipEncoderConfig(name, weights, image_size, resize_mode), device, seed=None)

    # ----------------------------------------------------------------- weights

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def embed_dim(self) -> int:
        """D: the size of image embeddings, pooled text and per-token text features."""
        proj = self._tower.text_projection
        return int(proj.out_features if isinstance(proj, torch.nn.Linear) else proj.shape[1])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(
        self, state: dict[str, torch.Tensor], source: str | os.PathLike[str] | None = None
    ) -> None:
        """Strict load; any key or shape mismatch raises :class:`CheckpointError` naming ``source``."""
        load_state_dict_strict(self.model, state, source)

    def load_weights(self, path: str | os.PathLike[str], *, prefix: str = "") -> None:
        """Strictly load a ``.safetensors`` file (keys under ``prefix`` if given)."""
        load_safetensors_strict(self.model, path, prefix=prefix)

    def save_weights(self, path: str | os.PathLike[str]) -> None:
        """Write the weights as ``.safetensors``, atomically."""
        from safetensors.torch import save

        state = {k: v.detach().to("cpu").contiguous() for k, v in self.model.state_dict().items()}
        atomic_write_bytes(path, save(state))

    # ----------------------------------------------------------------- images

    def _to_nchw(self, frames: np.ndarray | torch.Tensor | Sequence[np.ndarray]) -> torch.Tensor:
        if isinstance(frames, (list, tuple)):
            frames = np.stack([np.asarray(f) for f in frames]) if frames else np.zeros((0, 1, 1, 3), np.uint8)
        tensor = torch.as_tensor(frames)
        if tensor.ndim == 3:
            tensor = tensor[None]
        if tensor.ndim != 4 or tensor.shape[-1] != 3 or tensor.dtype != torch.uint8:
            raise UsageError(
                f"frames must be uint8 RGB (N, H, W, 3), got {tuple(tensor.shape)} {tensor.dtype}"
            )
        return tensor.to(self.device).permute(0, 3, 1, 2)

    def _resize_normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8/float [N, 3, H, W] -> normalised float [N, 3, S, S] on the model's device."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        size = self.image_size
        if self.config.resize_mode == "crop":
            h, w = x.shape[-2:]
            scale = size / min(h, w)
            nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
            if (nh, nw) != (h, w):
                x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
            top, left = (nh - size) // 2, (nw - size) // 2
            x = x[..., top : top + size, left : left + size]
        elif tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return (x - self._mean.to(x.device)) / self._std.to(x.device)

    def preprocess(self, frames: np.ndarray | torch.Tensor | Sequence[np.ndarray]) -> torch.Tensor:
        """uint8 RGB frames [N, H, W, 3] -> model input [N, 3, S, S] float32 on the model's device."""
        return self._resize_normalise(self._to_nchw(frames))

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Differentiable: preprocessed pixels [N, 3, S, S] -> l2-normalised embeddings [N, D]."""
        return self.model.encode_image(pixels, normalize=True)

    def encode_images(
        self, frames: np.ndarray | torch.Tensor | Sequence[np.ndarray], batch_size: int = 16
    ) -> torch.Tensor:
        """uint8 RGB frames [N, H, W, 3] -> l2-normalised embeddings [N, D] (float32, model device)."""
        if batch_size <= 0:
            raise UsageError(f"batch_size must be positive, got {batch_size}")
        n = len(frames)
        if n == 0:
            return torch.zeros(0, self.embed_dim, device=self.device)
        out = []
        with torch.no_grad():
            for i in range(0, n, batch_size):
                out.append(self.image_features(self.preprocess(frames[i : i + batch_size])).float())
        return torch.cat(out)

    def encode_crops(
        self,
        frames: np.ndarray | Sequence[np.ndarray],
        boxes: Sequence[Box] | np.ndarray,
        batch_size: int = 16,
    ) -> torch.Tensor:
        """Embeddings [N, D] of box crops: crop ``i`` is ``boxes[i]`` (a :class:`Box` or
        normalised ``x, y, w, h``) of ``frames[i]`` (uint8 RGB [H, W, 3]); each crop is
        resized to the model input on its own, so crops of any size batch together."""
        if len(frames) != len(boxes):
            raise UsageError(f"need one box per frame, got {len(frames)} frames and {len(boxes)} boxes")
        pixels = []
        for frame, box in zip(frames, boxes, strict=True):
            b = box if isinstance(box, Box) else Box(*(float(v) for v in box))
            img = self._to_nchw(np.asarray(frame))
            left, top, right, bottom = b.to_pixels(img.shape[-1], img.shape[-2])
            pixels.append(self._resize_normalise(img[..., top:bottom, left:right]))
        if not pixels:
            return torch.zeros(0, self.embed_dim, device=self.device)
        stacked = torch.cat(pixels)
        with torch.no_grad():
            return torch.cat(
                [
                    self.image_features(stacked[i : i + batch_size]).float()
                    for i in range(0, len(stacked), batch_size)
                ]
            )

    # ----------------------------------------------------------------- text

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids [B, context_length] (int64, model device); long texts are truncated."""
        if isinstance(texts, str):
            texts = [texts]
        return self.tokenizer(list(texts), context_length=self.context_length).to(self.device)

    def text_features(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Differentiable: token ids [B, L] -> ``(features [B, L, D], mask [B, L] bool, pooled [B, D])``.

        Runs the text tower's parts (token + positional embedding, causal transformer,
        ``ln_final``), then projects every position with ``text_projection``. ``mask`` is True
        from the start token through the end token; ``pooled`` is open_clip's pooled text
        embedding (the end-token feature), l2-normalised.
        """
        tower = self._tower
        cast = tower.transformer.get_cast_dtype()
        length = tokens.shape[1]
        x = tower.token_embedding(tokens).to(cast) + tower.positional_embedding[:length].to(cast)
        mask_attn = tower.attn_mask
        if mask_attn is not None:
            mask_attn = mask_attn[:length, :length]
        x = tower.ln_final(tower.transformer(x, attn_mask=mask_attn))
        pool_type = getattr(tower, "text_pool_type", getattr(tower, "pool_type", "argmax"))
        eos_id = getattr(tower, "text_eos_id", getattr(tower, "eos_id", None))
        positions = torch.arange(length, device=tokens.device)[None, :]
        if pool_type == "argmax":
            mask = positions <= tokens.argmax(dim=-1, keepdim=True)
        elif pool_type == "eos" and eos_id is not None:
            mask = positions <= (tokens == eos_id).int().argmax(dim=-1, keepdim=True)
        else:
            mask = tokens != getattr(tower, "pad_id", 0)
        pooled = text_global_pool(x, tokens, pool_type, eos_token_id=eos_id)
        proj = tower.text_projection
        if proj is not None:
            if isinstance(proj, torch.nn.Linear):
                x, pooled = proj(x), proj(pooled)
            else:
                x, pooled = x @ proj, pooled @ proj
        return x, mask, F.normalize(pooled, dim=-1)

    def encode_text(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Texts -> ``(tokens [B, L, D], mask [B, L] bool, pooled [B, D])`` without gradients
        (see :meth:`text_features`); L = ``context_length``."""
        with torch.no_grad():
            feats, mask, pooled = self.text_features(self.tokenize(texts))
        return feats.float(), mask, pooled.float()
