"""Samplers for Flowley's rectified flow: Euler and Heun, with classifier-free guidance.

Integration runs from noise (t = 0) to data (t = 1) on a uniform time grid. With guidance
strength w ≠ 1 the conditional and unconditional rows go through the network in one
batched forward and v = v_uncond + w·(v_cond − v_uncond). The unconditional branch drops
the visual, text, mix and sync conditions (docs/architecture.md §5) or uses a negative prompt in place of the
text (:meth:`Conditions.unconditional`).

Sync guidance w_s ≠ 1 adds a branch with only the sync features dropped and the term
(w_s − 1)·(v_cond − v_nosync): it strengthens what the timing features say without also
amplifying the picture, the text and the mix (with w = 1 it is v_nosync + w_s·(v_cond −
v_nosync)). Reference guidance w_r ≠ 1 does the same with the reference audio alone
dropped: (w_r − 1)·(v_cond − v_noref), and mix guidance w_m with the SSV2A mix target alone
dropped: (w_m − 1)·(v_cond − v_nomix). Every branch goes through the same batched forward. The PSCA biases are built
once per call and reused across steps. The progress callback and the cancel token are
served at every step.

With an inpainting context the known tokens of the result are the context itself (the
network is trained to generate only the unknown ones).
"""

from __future__ import annotations

import torch

from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.settings import GenerationSettings
from foleystudio.errors import GenerationError
from foleystudio.ml.flowley.conditions import Conditions
from foleystudio.ml.flowley.network import Flowley
from foleystudio.ml.flowley.psca import PscaBiasCache


def network_evaluations(steps: int, method: str) -> int:
    """Network forwards of one sampling call (Heun: two per step except the last)."""
    return steps if method == "euler" else 2 * steps - 1


def sample(
    model: Flowley,
    noise: torch.Tensor,
    cond: Conditions,
    settings: GenerationSettings,
    *,
    uncond: Conditions | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> torch.Tensor:
    """Integrate the flow from ``noise`` ``[B, Na, latent_dim]`` (t = 0) to a latent (t = 1)
    with ``settings``' steps, sampler, guidance and PSCA window.

    ``settings.cfg`` is the guidance strength w (1 = no guidance, a single forward per step);
    ``uncond`` overrides the unconditional conditions (default: ``cond.unconditional()``).
    ``settings.sync_cfg`` is the sync guidance strength w_s (1 = off; no effect without sync
    features). Raises :class:`~foleystudio.errors.JobCancelled` when ``cancel`` is set between
    steps.
    """
    steps, method = settings.steps, settings.sampler
    cfg_scale, sync_scale = settings.cfg, settings.sync_cfg
    omega, delta = settings.omega, settings.delta
    batch = noise.shape[0]
    device = noise.device
    for name, given in (("conditions", cond), ("unconditional conditions", uncond)):
        if given is not None and (given.tensors() or given.keep) and given.batch_size() != batch:
            raise GenerationError(f"{name} have batch {given.batch_size()}, the noise has {batch}")
    # Without any condition both branches are the same null: guidance would change nothing.
    guided = cfg_scale != 1.0 and bool(cond.tensors() or uncond is not None)
    if guided:
        uncond = uncond if uncond is not None else cond.unconditional()
        # The inpainting context and the window clock are not guidance conditions: the
        # unconditional branch shares them with the conditional one.
        if uncond.context is None and cond.context is not None:
            uncond = uncond.replace(context=cond.context, context_mask=cond.context_mask)
        if uncond.audio_start is None and cond.audio_start is not None:
            uncond = uncond.replace(audio_start=cond.audio_start)
        if not cond.tensors():
            cond = Conditions(audio_start=torch.zeros(batch, device=device))
    branches = [cond, uncond] if guided else [cond]
    # Guidance along one condition group alone: (w − 1)·(v_cond − v_without_that_group), each
    # a branch of its own in the same batched forward (the model was trained with each group
    # dropped on its own, so it knows these velocities).
    group_scales = [
        (group, scale)
        for group, scale in (("sync", sync_scale), ("ref", settings.ref_cfg), ("mix", settings.mix_cfg))
        if scale != 1.0 and cond.present(group)
    ]
    branches += [cond.dropped((group,)) for group, _ in group_scales]
    first_group_row = len(branches) - len(group_scales)
    net_cond = (Conditions.concat(branches) if len(branches) > 1 else cond).to(device)
    cache = PscaBiasCache()

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        x_in = x if len(branches) == 1 else torch.cat([x] * len(branches))
        t_in = torch.full((x_in.shape[0],), t, device=device)
        v = model(x_in, t_in, net_cond, omega=omega, delta=delta, psca_cache=cache).velocity.float()
        rows = v.chunk(len(branches))
        out = rows[0] if not guided else rows[1] + cfg_scale * (rows[0] - rows[1])
        for k, (_, scale) in enumerate(group_scales):
            out = out + (scale - 1.0) * (rows[0] - rows[first_group_row + k])
        return out

    grid = torch.linspace(0.0, 1.0, steps + 1).tolist()
    x = noise.float()
    with torch.no_grad():
        for step in range(steps):
            if cancel is not None:
                cancel.raise_if_cancelled()
            t0, t1 = grid[step], grid[step + 1]
            v0 = velocity(x, t0)
            if method == "heun" and step < steps - 1:
                # Heun's predictor–corrector; the last step stays Euler (as in EDM), so the
                # network is never asked for the velocity at exactly t = 1.
                v1 = velocity(x + (t1 - t0) * v0, t1)
                x = x + (t1 - t0) * 0.5 * (v0 + v1)
            else:
                x = x + (t1 - t0) * v0
            progress((step + 1) / steps, f"sampling step {step + 1}/{steps}")
    if cond.context is not None:
        known = cond.context_mask.to(device=device, dtype=torch.bool).unsqueeze(-1)
        x = torch.where(known, cond.context.to(device=device, dtype=x.dtype), x)
    return x[:batch]
