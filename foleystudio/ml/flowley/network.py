"""The Flowley network: a flow-matching transformer over audio tokens (docs/architecture.md §5).

Structure (hidden size h):

1. Audio input: ``Linear([x_t, context·mask, mask])`` — the noisy latent, the inpainting
   context and its mask channel — plus the sync path: ``Conv1d → SiLU → dilated Conv1d``
   over the motion features (STA-V2A's expanding context), projected and *added* to the
   audio tokens; the same features feed the per-token onset head (STA-V2A eq. 1).
2. Global vector for adaLN: ``embed(t)`` + attentive-pooled video (STA-V2A eqs. 2–4) +
   pooled text + the SSV2A mix embedding. Modulation is "adaLN-single" (one shared
   projection of the global vector, plus a learned per-block table), which keeps the CPU
   ``tiny`` model small.
3. Joint blocks: audio tokens and condition tokens (visual + text, one shared weight set
   with type embeddings) attend jointly, with rotary embeddings on time in seconds
   (relative to the window start; text tokens are not rotated).
4. Single-stream audio blocks: self-attention → CA_t (text) → PSCA_v (or plain CA_v, or
   none, by ``visual_attention``) → reference-audio cross-attention → MLP.
5. adaLN-modulated output projection to the velocity ``[B, Na, latent_dim]`` — directly, or
   (``config.prediction == "data"``) to the clean latent x̂₁, returned as the velocity
   ``(x̂₁ − x_t) / max(1 − t, T_EPS)`` together with x̂₁ itself.

Every condition group has learned nulls: a null *token* for the token sequences (visual,
text, reference audio) that is the only visible key when the group is dropped or absent,
and a null *vector* for the global/sync contributions. Dropped rows therefore compute
exactly what an absent condition computes (the real tokens are hidden by the attention
mask), so CFG is one batched forward of conditional and unconditional rows.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from foleystudio.errors import GenerationError
from foleystudio.ml.flowley.conditions import Conditions
from foleystudio.ml.flowley.config import FlowleyConfig
from foleystudio.ml.flowley.psca import PscaBiasCache, clamp_omega, psca_attention, psca_bias

#: Smallest ``1 − t`` a data prediction is divided by (only t > 0.999 is affected; samplers
#: never ask for the velocity at t = 1).
T_EPS = 1e-3


class FlowleyOutput(NamedTuple):
    """Network output: ``velocity`` ``[B, Na, latent_dim]``; ``onset_logits`` ``[B, Na]`` or None
    (no sync); ``data`` the predicted clean latent ``[B, Na, latent_dim]`` of a data-predicting
    network (None for a velocity-predicting one)."""

    velocity: torch.Tensor
    onset_logits: torch.Tensor | None
    data: torch.Tensor | None = None


# -- small building blocks ------------------------------------------------------------------


def timestep_embedding(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[B, dim]`` of flow times ``t`` ``[B]`` in [0, 1]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = (t.float() * scale)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: ``x · (1 + scale) + shift`` with per-example ``shift``/``scale`` ``[B, h]``."""
    return x * (1 + scale[:, None]) + shift[:, None]


class RotaryTime(nn.Module):
    """Rotary position embedding on time in seconds (periods geometric in [min, max])."""

    def __init__(self, head_dim: int, min_period: float, max_period: float) -> None:
        super().__init__()
        periods = torch.logspace(math.log10(min_period), math.log10(max_period), head_dim // 2)
        self.register_buffer("angular", 2 * math.pi / periods, persistent=False)

    def forward(self, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``times`` ``[B, N]`` s → ``(cos, sin)`` each ``[B, 1, N, head_dim / 2]``."""
        angles = times.float()[:, None, :, None] * self.angular
        return torch.cos(angles), torch.sin(angles)


def apply_rotary(x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotate channel pairs (first half, second half) of ``x`` ``[B, H, N, Dh]``."""
    cos, sin = rotary
    first, second = x.chunk(2, dim=-1)
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1).to(x.dtype)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    batch, length, width = x.shape
    return x.view(batch, length, heads, width // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    batch, heads, length, head_dim = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_dim)


class QKNorm(nn.RMSNorm):
    """RMSNorm of query/key heads whose weight follows the input dtype (fused under autocast)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight.to(x.dtype), self.eps)


class MLP(nn.Sequential):
    def __init__(self, dim: int, ratio: float) -> None:
        inner = int(dim * ratio)
        super().__init__(nn.Linear(dim, inner), nn.GELU(approximate="tanh"), nn.Linear(inner, dim))


class CrossAttention(nn.Module):
    """Pre-norm cross-attention of queries ``[B, Nq, h]`` to a context ``[B, Nk, h]``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.q_norm = QKNorm(dim // heads, eps=1e-6)
        self.k_norm = QKNorm(dim // heads, eps=1e-6)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``mask``: bool ``[B, 1, 1|Nq, Nk]`` (True = visible) or an additive float bias."""
        q = self.q_norm(split_heads(self.q(self.norm(x)), self.heads))
        k, v = (split_heads(part, self.heads) for part in self.kv(context).chunk(2, dim=-1))
        k = self.k_norm(k)
        if mask.dtype == torch.bool:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            out = psca_attention(q, k, v, mask)
        return self.out(merge_heads(out))


class AttentivePooling(nn.Module):
    """STA-V2A attentive pooling (eqs. 2–4) of a token sequence ``[B, L, h]`` → ``[B, h]``.

    p(u) ∝ exp(α_l θ_l(u) + α_c θ_c(u)); θ_l(u) = v_lᵀ relu(V_l e_u);
    θ_c(u) = Σ_i ⟨W1 e_u / ‖W1 e_u‖, W2 e_i / ‖W2 e_i‖⟩ (a token's agreement with the clip).
    """

    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.local_hidden = nn.Linear(dim, inner)
        self.local_score = nn.Linear(inner, 1)
        self.w1 = nn.Linear(dim, inner, bias=False)
        self.w2 = nn.Linear(dim, inner, bias=False)
        self.alpha_local = nn.Parameter(torch.tensor(1.0))
        self.alpha_cross = nn.Parameter(torch.tensor(0.1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        local = self.local_score(F.relu(self.local_hidden(tokens))).squeeze(-1)  # [B, L]
        a = F.normalize(self.w1(tokens), dim=-1)
        b = F.normalize(self.w2(tokens), dim=-1).sum(dim=1, keepdim=True)  # Σ_i, [B, 1, inner]
        cross = (a * b).sum(-1)  # [B, L]
        weights = torch.softmax(self.alpha_local * local + self.alpha_cross * cross, dim=-1)
        return (weights.unsqueeze(-1) * tokens).sum(dim=1)


# -- transformer blocks ---------------------------------------------------------------------


class JointBlock(nn.Module):
    """Audio and condition tokens in one attention (separate weights per stream)."""

    def __init__(self, config: FlowleyConfig) -> None:
        super().__init__()
        h = config.hidden
        self.heads = config.heads
        self.audio_norm1 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.audio_qkv = nn.Linear(h, 3 * h)
        self.audio_out = nn.Linear(h, h)
        self.audio_norm2 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.audio_mlp = MLP(h, config.mlp_ratio)
        self.cond_norm1 = nn.LayerNorm(h, eps=1e-6)
        self.cond_qkv = nn.Linear(h, 3 * h)
        self.cond_out = nn.Linear(h, h)
        self.cond_norm2 = nn.LayerNorm(h, eps=1e-6)
        self.cond_mlp = MLP(h, config.mlp_ratio)
        self.q_norm = QKNorm(h // config.heads, eps=1e-6)
        self.k_norm = QKNorm(h // config.heads, eps=1e-6)
        self.table = nn.Parameter(torch.randn(6, h) / math.sqrt(h))

    def forward(
        self,
        audio: torch.Tensor,
        cond: torch.Tensor,
        modulation: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor],
        visible: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        shift1, scale1, gate1, shift2, scale2, gate2 = (modulation + self.table).unbind(1)
        na = audio.shape[1]
        qkv_a = self.audio_qkv(modulate(self.audio_norm1(audio), shift1, scale1))
        qkv_c = self.cond_qkv(self.cond_norm1(cond))
        q, k, v = (
            split_heads(torch.cat([a, c], dim=1), self.heads)
            for a, c in zip(qkv_a.chunk(3, dim=-1), qkv_c.chunk(3, dim=-1), strict=True)
        )
        q = apply_rotary(self.q_norm(q), rotary)
        k = apply_rotary(self.k_norm(k), rotary)
        mixed = merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=visible))
        audio = audio + gate1[:, None] * self.audio_out(mixed[:, :na])
        cond = cond + self.cond_out(mixed[:, na:])
        audio = audio + gate2[:, None] * self.audio_mlp(modulate(self.audio_norm2(audio), shift2, scale2))
        cond = cond + self.cond_mlp(self.cond_norm2(cond))
        return audio, cond


class SingleBlock(nn.Module):
    """Audio self-attention → CA_t → PSCA_v / CA_v → reference-audio attention → MLP."""

    def __init__(self, config: FlowleyConfig, index: int) -> None:
        super().__init__()
        h = config.hidden
        self.heads = config.heads
        self.norm1 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(h, 3 * h)
        self.out = nn.Linear(h, h)
        self.q_norm = QKNorm(h // config.heads, eps=1e-6)
        self.k_norm = QKNorm(h // config.heads, eps=1e-6)
        self.text_attention = CrossAttention(h, config.heads) if config.text_attention else None
        self.visual_attention = CrossAttention(h, config.heads) if config.visual_attention != "none" else None
        self.ref_attention = CrossAttention(h, config.heads) if config.ref_audio else None
        self.norm2 = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.mlp = MLP(h, config.mlp_ratio)
        self.table = nn.Parameter(torch.randn(6, h) / math.sqrt(h))
        # β_ℓ = sigmoid(raw) ∈ (0, 1): the progressive factor, initialised on a schedule.
        depth = max(config.single_depth - 1, 1)
        beta = config.beta_first + (config.beta_last - config.beta_first) * index / depth
        beta = min(max(beta, 1e-3), 0.999)
        self.beta_raw = nn.Parameter(torch.tensor(math.log(beta / (1 - beta))))

    @property
    def beta(self) -> torch.Tensor:
        return torch.sigmoid(self.beta_raw)

    def forward(
        self,
        audio: torch.Tensor,
        modulation: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor],
        text: tuple[torch.Tensor, torch.Tensor],
        visual: tuple[torch.Tensor, torch.Tensor],
        ref: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        """``text``/``visual``/``ref`` are (context ``[B, Nk, h]``, mask or bias ``[B, 1, ·, Nk]``)."""
        shift1, scale1, gate1, shift2, scale2, gate2 = (modulation + self.table).unbind(1)
        q, k, v = (
            split_heads(part, self.heads)
            for part in self.qkv(modulate(self.norm1(audio), shift1, scale1)).chunk(3, dim=-1)
        )
        q = apply_rotary(self.q_norm(q), rotary)
        k = apply_rotary(self.k_norm(k), rotary)
        audio = audio + gate1[:, None] * self.out(merge_heads(F.scaled_dot_product_attention(q, k, v)))
        if self.text_attention is not None:
            audio = audio + self.text_attention(audio, *text)
        if self.visual_attention is not None:
            audio = audio + self.visual_attention(audio, *visual)
        if self.ref_attention is not None:
            audio = audio + self.ref_attention(audio, *ref)
        return audio + gate2[:, None] * self.mlp(modulate(self.norm2(audio), shift2, scale2))


# -- the network ----------------------------------------------------------------------------


class Flowley(nn.Module):
    """Velocity field v(x_t, t | conditions) for rectified flow (see the module docstring)."""

    def __init__(self, config: FlowleyConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.input = nn.Linear(2 * config.latent_dim + 1, h)
        self.time_embed = nn.Sequential(nn.Linear(h, h), nn.SiLU(), nn.Linear(h, h))
        # Sync path (local temporal features, STA-V2A §II-B1) and the onset head.
        k = config.sync_kernel
        self.sync_net = nn.Sequential(
            nn.Conv1d(config.sync_dim, h, k, padding=k // 2),
            nn.SiLU(),
            nn.Conv1d(h, h, k, padding=k - 1, dilation=2),
            nn.SiLU(),
        )
        self.sync_to_audio = nn.Linear(h, h)
        self.onset_head = nn.Linear(h, 1)
        # Condition projections.
        self.visual_proj = nn.Linear(config.clip_dim, h)
        self.text_proj = nn.Linear(config.text_token_dim, h)
        self.ref_proj = nn.Linear(config.latent_dim, h)
        self.visual_pool = AttentivePooling(h, max(h // 2, 8))
        self.visual_global = nn.Linear(h, h)
        self.text_global = nn.Linear(config.text_pooled_dim, h)
        self.mix_global = nn.Linear(config.mix_dim, h)
        self.type_embed = nn.Parameter(torch.randn(2, h) * 0.02)  # visual, text
        # Learned nulls (CFG): tokens for sequences, vectors for global/sync contributions.
        self.null_tokens = nn.Parameter(torch.randn(3, h) * 0.02)  # visual, text, ref
        self.null_vectors = nn.Parameter(torch.randn(4, h) * 0.02)  # visual, text, mix, sync
        self.context_norm = nn.LayerNorm(h, eps=1e-6)
        # adaLN-single: one projection of the global vector shared by every block.
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(h, 6 * h))
        self.rotary = RotaryTime(h // config.heads, config.rope_min_period, config.rope_max_period)
        self.joint_blocks = nn.ModuleList(JointBlock(config) for _ in range(config.joint_depth))
        self.single_blocks = nn.ModuleList(SingleBlock(config, i) for i in range(config.single_depth))
        self.final_norm = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(h, 2 * h))
        self.output = nn.Linear(h, config.latent_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        # adaLN-zero style: modulation starts at the per-block tables, the output at zero.
        for layer in (self.modulation[-1], self.final_modulation[-1], self.output):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        nn.init.normal_(self.time_embed[0].weight, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def audio_times(self, num_tokens: int, audio_start: torch.Tensor) -> torch.Tensor:
        """Centre time (s, float64) of each audio token ``[B, Na]`` for window starts ``[B]``."""
        offsets = (
            torch.arange(num_tokens, dtype=torch.float64, device=audio_start.device) + 0.5
        ) / self.config.token_rate
        return audio_start.double()[:, None] + offsets

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor | float,
        cond: Conditions,
        *,
        omega: float | None = None,
        delta: float | None = None,
        psca_cache: PscaBiasCache | None = None,
    ) -> FlowleyOutput:
        """Velocity for noisy latents ``x`` ``[B, Na, latent_dim]`` at flow times ``t`` ``[B]`` (or a float).

        ``omega``/``delta`` (seconds) default to the config's training values; ``omega`` is
        clamped to half a visual frame. ``psca_cache`` (one per sampling call) reuses the
        PSCA biases across steps.
        """
        config = self.config
        batch, na, channels = x.shape
        device = x.device
        if channels != config.latent_dim:
            raise GenerationError(f"latent has {channels} channels, the model expects {config.latent_dim}")
        _check_conditions(cond, config, batch, na)
        if not isinstance(t, torch.Tensor):
            t = torch.tensor(float(t), device=device)
        t = t.to(device).float().expand(batch) if t.dim() == 0 else t.to(device).float()
        start = (
            cond.audio_start.to(device) if cond.audio_start is not None else torch.zeros(batch, device=device)
        )
        audio_times = self.audio_times(na, start)
        h = config.hidden
        null_visual_tok, null_text_tok, null_ref_tok = self.null_tokens.unbind(0)
        null_visual_vec, null_text_vec, null_mix_vec, null_sync_vec = self.null_vectors.unbind(0)

        def keep(name: str) -> torch.Tensor:
            return (
                cond.keep_mask(name, batch, device)
                if cond.present(name)
                else torch.zeros(batch, dtype=torch.bool, device=device)
            )

        # Audio input: noisy latent + inpainting context + mask channel.
        if cond.context is not None:
            known = cond.context_mask.to(device=device, dtype=x.dtype).unsqueeze(-1)
            context = cond.context.to(x.dtype) * known
        else:
            known = x.new_zeros(batch, na, 1)
            context = torch.zeros_like(x)
        audio = self.input(torch.cat([x, context, known], dim=-1))

        # Sync features → added to audio tokens; the onset head reads the same features.
        onset_logits = None
        keep_sync = keep("sync")
        if cond.sync is not None:
            local = self.sync_net(cond.sync.to(x.dtype).transpose(1, 2)).transpose(1, 2)
            onset_logits = self.onset_head(local).squeeze(-1)
            added = torch.where(keep_sync[:, None, None], self.sync_to_audio(local), null_sync_vec)
        else:
            added = null_sync_vec.expand(batch, na, h)
        audio = audio + added

        # Global vector: t + attentive-pooled video + pooled text + mix.
        keep_visual, keep_text, keep_mix, keep_ref = keep("visual"), keep("text"), keep("mix"), keep("ref")
        globals_ = self.time_embed(timestep_embedding(t, h))
        if cond.visual is not None and cond.visual.shape[1] > 0:
            visual = self.visual_proj(cond.visual.to(x.dtype))
            visual_global = self.visual_global(self.visual_pool(visual))
            globals_ = globals_ + torch.where(keep_visual[:, None], visual_global, null_visual_vec)
            visual_times = _visual_times(cond, start, config)
        else:
            visual = x.new_zeros(batch, 0, h)
            visual_times = audio_times.new_zeros(batch, 0)
            keep_visual = torch.zeros_like(keep_visual)
            globals_ = globals_ + null_visual_vec
        if cond.text_pooled is not None:
            pooled = self.text_global(cond.text_pooled.to(x.dtype))
            globals_ = globals_ + torch.where(keep_text[:, None], pooled, null_text_vec)
        else:
            globals_ = globals_ + null_text_vec
        if cond.mix is not None:
            globals_ = globals_ + torch.where(
                keep_mix[:, None], self.mix_global(cond.mix.to(x.dtype)), null_mix_vec
            )
        else:
            globals_ = globals_ + null_mix_vec
        modulation = self.modulation(globals_).view(batch, 6, h)

        # Condition token sequences, each led by its null token (visible only when the
        # group is dropped or has no real token), hidden tokens masked out of attention.
        tv = visual.shape[1]
        visual_visible = keep_visual[:, None].expand(batch, tv)
        text, text_visible = _token_group(self.text_proj, cond.text, cond.text_mask, keep_text, x)
        visual_seq = torch.cat([null_visual_tok.expand(batch, 1, h), visual + self.type_embed[0]], dim=1)
        text_seq = torch.cat([null_text_tok.expand(batch, 1, h), text + self.type_embed[1]], dim=1)
        visual_seq_visible = torch.cat([~visual_visible.any(1, keepdim=True), visual_visible], dim=1)
        text_seq_visible = torch.cat([~text_visible.any(1, keepdim=True), text_visible], dim=1)

        # Joint blocks with rotary time (relative to the window start; text/nulls at 0).
        rel_audio = (audio_times - start.double()[:, None]).float()
        rel_visual = (visual_times - start.double()[:, None]).float()
        cond_times = torch.cat(
            [rel_visual.new_zeros(batch, 1), rel_visual, rel_visual.new_zeros(batch, 1 + text.shape[1])],
            dim=1,
        )
        cond_tokens = torch.cat([visual_seq, text_seq], dim=1)
        if self.joint_blocks:
            rotary = self.rotary(torch.cat([rel_audio, cond_times], dim=1))
            joint_visible = torch.cat(
                [
                    torch.ones(batch, na, dtype=torch.bool, device=device),
                    visual_seq_visible,
                    text_seq_visible,
                ],
                dim=1,
            )[:, None, None, :]
            for block in self.joint_blocks:
                audio, cond_tokens = block(audio, cond_tokens, modulation, rotary, joint_visible)
        cond_tokens = self.context_norm(cond_tokens)
        visual_ctx, text_ctx = cond_tokens[:, : tv + 1], cond_tokens[:, tv + 1 :]

        # Reference audio tokens for the audio cross-attention.
        ref, ref_visible = _token_group(self.ref_proj, cond.ref_audio, cond.ref_mask, keep_ref, x)
        ref_ctx = torch.cat([null_ref_tok.expand(batch, 1, h), ref], dim=1)
        ref_seq_visible = torch.cat([~ref_visible.any(1, keepdim=True), ref_visible], dim=1)

        # Single-stream blocks.
        rotary_audio = self.rotary(rel_audio)
        text_arg = (text_ctx, text_seq_visible[:, None, None, :])
        ref_arg = (ref_ctx, ref_seq_visible[:, None, None, :])
        omega_s = clamp_omega(config.omega if omega is None else omega, config.visual_fps)
        delta_s = config.delta if delta is None else float(delta)
        for index, block in enumerate(self.single_blocks):
            if config.visual_attention == "psca":

                def build(block: SingleBlock = block) -> torch.Tensor:
                    bias = psca_bias(audio_times, visual_times, omega_s, delta_s, block.beta).float()
                    bias = torch.cat([bias.new_zeros(batch, na, 1), bias], dim=-1)
                    return bias.masked_fill(~visual_seq_visible[:, None, :], float("-inf"))[:, None]

                if psca_cache is not None:
                    visual_mask = psca_cache.get(cond, index, omega_s, delta_s, build, extra=(batch, na, tv))
                else:
                    visual_mask = build()
            else:
                visual_mask = visual_seq_visible[:, None, None, :]
            audio = block(audio, modulation, rotary_audio, text_arg, (visual_ctx, visual_mask), ref_arg)

        shift, scale = self.final_modulation(globals_).chunk(2, dim=-1)
        out = self.output(modulate(self.final_norm(audio), shift, scale))
        if config.prediction == "velocity":
            return FlowleyOutput(out, onset_logits)
        velocity = (out - x) / (1.0 - t).clamp(min=T_EPS)[:, None, None].to(out.dtype)
        return FlowleyOutput(velocity, onset_logits, out)


def _token_group(
    proj: nn.Linear,
    tokens: torch.Tensor | None,
    mask: torch.Tensor | None,
    keep: torch.Tensor,
    like: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A condition's tokens projected to the hidden width ``[B, T, H]`` and which of them are
    visible ``[B, T]`` (real per ``mask``, default all, and the row's group kept); an absent
    condition gives ``T = 0``. ``like`` (the audio latents) gives batch, dtype and device."""
    batch, device = like.shape[0], like.device
    if tokens is None:
        hidden = proj.out_features
        return like.new_zeros(batch, 0, hidden), torch.zeros(batch, 0, dtype=torch.bool, device=device)
    projected = proj(tokens.to(like.dtype))
    visible = (
        mask.to(device=device, dtype=torch.bool)
        if mask is not None
        else torch.ones(projected.shape[:2], dtype=torch.bool, device=device)
    )
    return projected, visible & keep[:, None]


def _visual_times(cond: Conditions, start: torch.Tensor, config: FlowleyConfig) -> torch.Tensor:
    """Visual token times (s, float64); default: frames at ``visual_fps`` from the window start."""
    tv = cond.visual.shape[1]
    if cond.visual_times is not None:
        return cond.visual_times.to(device=start.device, dtype=torch.float64)
    offsets = torch.arange(tv, dtype=torch.float64, device=start.device) / config.visual_fps
    return start.double()[:, None] + offsets


def _check_conditions(cond: Conditions, config: FlowleyConfig, batch: int, na: int) -> None:
    """Shapes of every present condition against the config; a mismatch → GenerationError."""
    expected = {
        "visual": (3, config.clip_dim),
        "text": (3, config.text_token_dim),
        "text_pooled": (2, config.text_pooled_dim),
        "sync": (3, config.sync_dim),
        "mix": (2, config.mix_dim),
        "ref_audio": (3, config.latent_dim),
        "context": (3, config.latent_dim),
    }
    for name, tensor in cond.tensors().items():
        if tensor.shape[0] != batch:
            raise GenerationError(f"condition '{name}' has batch {tensor.shape[0]}, the latent has {batch}")
        if name in expected:
            dims, width = expected[name]
            if tensor.dim() != dims or tensor.shape[-1] != width:
                raise GenerationError(
                    f"condition '{name}' has shape {list(tensor.shape)}, the model expects "
                    f"{dims} dims with {width} channels last"
                )
    for name in ("sync", "context", "context_mask"):
        tensor = getattr(cond, name)
        if tensor is not None and tensor.shape[1] != na:
            raise GenerationError(
                f"condition '{name}' covers {tensor.shape[1]} audio tokens, the latent has {na}"
            )
    if cond.context is not None and cond.context_mask is None:
        raise GenerationError("an inpainting context needs its context_mask (True = known token)")
    if (
        cond.visual is not None
        and cond.visual_times is not None
        and cond.visual_times.shape != cond.visual.shape[:2]
    ):
        raise GenerationError(
            f"visual_times has shape {list(cond.visual_times.shape)}, expected {list(cond.visual.shape[:2])}"
        )
    for name in cond.keep:
        if cond.keep[name].shape != (batch,):
            raise GenerationError(
                f"keep mask '{name}' has shape {list(cond.keep[name].shape)}, expected [{batch}]"
            )
