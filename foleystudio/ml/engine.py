"""The generation engine: one entry point for the CLI, the GUI and the Python API.

``GenerationEngine.generate(request, progress, cancel) -> list[Candidate]`` turns a frozen
:class:`~foleystudio.core.requests.GenerationRequest` into ranked candidates: features of the
video range (cached per video), conditions, windowed sampling, decoding, scores. Models are
loaded from bundles once and kept; per-call settings live only in the request.

Sources: object sources make the generation follow that object (its crops are the visual
tokens, its in-box motion the sync features). With ``per_source`` each object gives its own
candidates (stems); otherwise the objects' sounds are summed into one composed sound. Text
sources are joined into the text prompt; an audio source is a reference recording for the
reference-audio attention. With a bundle that has SSV2A modules, the sources also give each
target its mix embedding (``ml/source_mix.py``: Remixer, Cycle Mix, Temporal Aggregation),
Flowley's global mix condition.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from foleystudio.core.audio import load_audio
from foleystudio.core.events import EventTrack
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress, sub_progress
from foleystudio.core.levels import rows_under_ceiling
from foleystudio.core.media import probe
from foleystudio.core.noise import NoiseRecipe
from foleystudio.core.ranking import settings_weights
from foleystudio.core.requests import Candidate, GenerationRequest
from foleystudio.core.sources import AudioSource, ObjectSource, TextSource
from foleystudio.errors import CheckpointError, FoleyStudioError, GenerationError, UsageError
from foleystudio.ml.codec import Codec
from foleystudio.ml.device import dtype_for, pick_device
from foleystudio.ml.encoders.audio import AudioEncoder, AudioEncoderConfig, CategoryClassifier
from foleystudio.ml.encoders.clip_encoder import ClipEncoder, ClipEncoderConfig
from foleystudio.ml.encoders.flow_events import FlowEventNet
from foleystudio.ml.encoders.flow_events import load_from_bundle as load_flow_events_from_bundle
from foleystudio.ml.encoders.motion import SYNC_FEATURE_NAMES
from foleystudio.ml.encoders.visual_onsets import VisualOnsetNet
from foleystudio.ml.encoders.visual_onsets import load_from_bundle as load_onsets_from_bundle
from foleystudio.ml.features import VideoFeatures, extract_video_features
from foleystudio.ml.flowley import Flowley
from foleystudio.ml.flowley.conditions import Conditions
from foleystudio.ml.model_bundle import ModelBundle, load_bundle
from foleystudio.ml.scores import ScoreReference, score_population, semantic_reference
from foleystudio.ml.search.gmds import Evaluate, Evaluated, SearchConfig, gmds, initial_population
from foleystudio.ml.search.noise import window_noises
from foleystudio.ml.source_mix import load_audio_prompt, perceive_static_sources, target_mix_embeddings
from foleystudio.ml.ssv2a.io import load_from_bundle
from foleystudio.ml.ssv2a.manifold import CMSSManifold
from foleystudio.ml.ssv2a.remixer import Remixer
from foleystudio.ml.windows import WindowPlan, plan_windows, sample_windows

#: Seconds shared by consecutive windows of a long range.
WINDOW_OVERLAP = 2.0
#: Crossfade (seconds) where a regenerated range meets the kept audio.
SPLICE_FADE = 0.02


@dataclass(eq=False)
class LoadedModel:
    """A bundle's parts, ready to run on one device."""

    name: str
    bundle: ModelBundle
    flowley: Flowley
    codec: Codec
    clip: ClipEncoder
    device: torch.device
    audio: AudioEncoder | None = None
    audio_classifier: CategoryClassifier | None = None
    #: SSV2A manifold and Remixer (sources → mix embedding), when the bundle has them.
    ssv2a: tuple[CMSSManifold, Remixer] | None = None
    #: The visual onset network whose track is Flowley's last sync feature, when it has one.
    onsets: VisualOnsetNet | None = None
    #: The codec's cheap decode for search previews (``Codec.preview``).
    preview_codec: Codec | None = None
    #: The learned flow event detector (``encoders/flow_events.py``), when the bundle has one.
    flow_events: FlowEventNet | None = None


def clip_from_bundle(bundle: ModelBundle, device: torch.device | str) -> ClipEncoder:
    """The bundle's CLIP encoder (eval mode on ``device``)."""
    clip = ClipEncoder.from_config(ClipEncoderConfig.from_dict(bundle.config("clip")), device, seed=0)
    clip.load_state_dict(bundle.state_dicts["clip"] if bundle.has_module("clip") else {}, bundle.path)
    clip.model.eval()
    return clip


def audio_from_bundle(bundle: ModelBundle) -> tuple[AudioEncoder | None, CategoryClassifier | None]:
    """The bundle's audio encoder and category classifier (eval mode), each None when absent."""
    if not bundle.has_module("audio"):
        return None, None
    audio = bundle.load_into("audio", AudioEncoder(AudioEncoderConfig.from_dict(bundle.config("audio"))))
    classifier = None
    if bundle.has_module("audio_classifier"):
        categories = bundle.config("audio_classifier")["categories"]
        classifier = bundle.load_into(
            "audio_classifier", CategoryClassifier(audio.config.embed_dim, categories)
        )
        classifier.eval()
    return audio.eval(), classifier


def load_model(name: str, device: torch.device) -> LoadedModel:
    """Load a bundle (name or folder) with its Flowley network, codec and CLIP encoder."""
    bundle = load_bundle(name, device)
    clip = clip_from_bundle(bundle, device)
    audio, classifier = audio_from_bundle(bundle)
    flowley = bundle.build_flowley()
    ssv2a = load_from_bundle(bundle)
    if ssv2a is not None and ssv2a[1].config.audio_dim != flowley.config.mix_dim:
        raise CheckpointError(
            f"the bundle's Remixer gives {ssv2a[1].config.audio_dim}-d mix embeddings, "
            f"its Flowley takes {flowley.config.mix_dim}",
            bundle.path,
        )
    onsets = load_onsets_from_bundle(bundle)
    expected = len(SYNC_FEATURE_NAMES) + (onsets is not None)
    if flowley.config.sync_dim != expected:
        raise CheckpointError(
            f"the bundle's Flowley takes {flowley.config.sync_dim} sync features, its video features "
            f"give {expected} ({'with' if onsets is not None else 'without'} a visual onset network)",
            bundle.path,
        )
    codec = bundle.build_codec()
    return LoadedModel(
        bundle.name,
        bundle,
        flowley,
        codec,
        clip,
        device,
        audio,
        classifier,
        ssv2a,
        onsets,
        codec.preview(),
        load_flow_events_from_bundle(bundle),
    )


class GenerationEngine:
    """Loads models on demand and runs generation requests (thread-compatible, one call at a time)."""

    def __init__(self, device: str = "auto", feature_cache_size: int = 4) -> None:
        self.device = pick_device(device)
        self._models: dict[str, LoadedModel] = {}
        self._features: OrderedDict[tuple, VideoFeatures] = OrderedDict()
        self._feature_cache_size = feature_cache_size

    @property
    def device_name(self) -> str:
        return str(self.device)

    def model(self, name: str) -> LoadedModel:
        """The loaded model ``name`` (bundle name or folder), loading it on first use."""
        if name not in self._models:
            self._models[name] = load_model(name, self.device)
        return self._models[name]

    # -- features --------------------------------------------------------------------------

    def features(
        self,
        model: LoadedModel,
        video: str,
        start: float,
        end: float,
        objects: dict[str, Any],
        cancel: CancelToken,
        progress: ProgressCallback,
    ) -> VideoFeatures:
        """Features of ``[start, end)`` s of ``video``, cached per file state, range and objects."""
        stat = os.stat(video)
        object_key = tuple((k, tuple((kf.time, kf.box) for kf in v)) for k, v in sorted(objects.items()))
        key = (
            os.path.realpath(video),
            stat.st_mtime_ns,
            stat.st_size,
            round(start, 6),
            round(end, 6),
            model.name,
            object_key,
        )
        if key in self._features:
            self._features.move_to_end(key)
            progress(1.0, "features (cached)")
            return self._features[key]
        feats = extract_video_features(
            video,
            start,
            end,
            model.clip,
            objects=objects,
            onset_net=model.onsets,
            with_flow=True,
            cancel=cancel,
            progress=progress,
        )
        self._features[key] = feats
        while len(self._features) > self._feature_cache_size:
            self._features.popitem(last=False)
        return feats

    # -- generation ------------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> list[Candidate]:
        """Candidates for ``request``, best first (per source when ``request.per_source``)."""
        cancel = cancel or CancelToken()
        _validate(request)
        try:
            model = self.model(request.settings.model)
            return self._generate(model, request, progress, cancel)
        except torch.cuda.OutOfMemoryError:
            if self.device.type != "cuda":
                raise
            torch.cuda.empty_cache()
            progress(0.0, "GPU out of memory: generating on the CPU instead")
            self.device = torch.device("cpu")
            self._models.clear()
            return self._generate(self.model(request.settings.model), request, progress, cancel)

    def _generate(
        self, model: LoadedModel, request: GenerationRequest, progress: ProgressCallback, cancel: CancelToken
    ) -> list[Candidate]:
        job = self._prepare(model, request, sub_progress(progress, 0.0, 0.2), cancel)
        settings = request.settings
        config = SearchConfig.from_settings(settings)
        search_end = 0.2 if settings.search_iters == 0 else 0.6
        chosen: dict[str | None, list[Evaluated | None]] = {}
        for g_index, (key, members) in enumerate(job.groups):
            if settings.search_iters == 0:
                # Best-of-N: the starting noises go straight to full renders.
                chosen[key] = [None] * settings.num_candidates
                continue
            span = (0.2 + 0.4 * g_index / len(job.groups), 0.2 + 0.4 * (g_index + 1) / len(job.groups))
            result = gmds(
                self._evaluator(job, key, members, cancel),
                config,
                origin=request.noise_origin,
                progress=sub_progress(progress, *span),
                cancel=cancel,
            )
            chosen[key] = list(result.kept)
        starts = initial_population(config, request.noise_origin)
        noises = {
            key: [start if e is None else e.noise for e, start in zip(kept, starts, strict=True)]
            for key, kept in chosen.items()
        }
        waves: dict[str | None, np.ndarray] = {}
        for t_index, target in enumerate(job.targets):
            span = (
                search_end + (0.95 - search_end) * t_index / len(job.targets),
                search_end + (0.95 - search_end) * (t_index + 1) / len(job.targets),
            )
            waves[target] = self._render(
                job,
                t_index,
                noises[job.group_of[target]],
                settings.steps,
                model.codec,
                sub_progress(progress, *span),
                cancel,
            )
        waves = rows_under_ceiling(waves)  # level policy (never clip, −1 dBTP): core/levels.py
        cancel.raise_if_cancelled()
        progress(0.96, "scoring")
        candidates = []
        for key, members in job.groups:
            audio = self._group_audio(job, members, waves)
            rows = score_population(
                audio,
                model.codec.sample_rate,
                job.reference(key, members),
                config.weights,
                encoder=model.audio,
            )
            followed, events_from = job.used_events.get(key, (None, ""))
            for i, noise in enumerate(noises[key]):
                searched = chosen[key][i]
                candidates.append(
                    Candidate(
                        audio=audio[i],
                        sample_rate=model.codec.sample_rate,
                        start=job.start,
                        seed=noise.seed,
                        request=request,
                        scores=rows[i],
                        source_id=key,
                        label=job.labels.get(key, job.text) if key else job.text,
                        events=followed,
                        events_from=events_from,
                        noise=noise,
                        preview_scores=(
                            {} if searched is None else {**searched.scores, "objective": searched.objective}
                        ),
                    )
                )
        candidates.sort(key=lambda c: (str(c.source_id), -c.scores["total"], c.seed))
        progress(1.0, "done")
        return candidates

    def _prepare(
        self, model: LoadedModel, request: GenerationRequest, progress: ProgressCallback, cancel: CancelToken
    ) -> _Job:
        """Everything a render needs that does not depend on the noise: range, windows,
        features, conditions per target and window, event tracks, score references."""
        info = probe(request.video)
        if not info.has_video:
            raise GenerationError("the file has no video stream to generate sound for", request.video)
        codec, cfg = model.codec, model.flowley.config
        inpaint = request.inpaint
        if inpaint is not None:
            kept, _ = load_audio(inpaint.render, codec.sample_rate, mono=True)
            start = inpaint.render_start
            end = start + len(kept) / codec.sample_rate
        else:
            kept = None
            start = request.start
            end = info.duration if request.end is None else min(request.end, info.duration)
        if end - start < 0.1:
            raise UsageError(
                f"the range {start:.3f}–{end:.3f} s is too short to generate (video is {info.duration:.3f} s)"
            )
        total_tokens = codec.num_tokens(end - start)
        plan = plan_windows(total_tokens, cfg.num_audio_tokens, round(WINDOW_OVERLAP * codec.token_rate))
        covered_end = start + (plan.starts[-1] + plan.size) / codec.token_rate
        objects = {s.id: s.keyframes for s in request.sources if isinstance(s, ObjectSource)}
        labels = {s.id: s.label for s in request.sources if isinstance(s, ObjectSource)}
        feats = self.features(
            model, request.video, start, min(covered_end, info.duration), objects, cancel, progress
        )
        text = _prompt(request)
        text_cond = _text_conditions(model.clip, text)
        negative = (
            _text_conditions(model.clip, request.settings.negative_text)
            if request.settings.negative_text.strip()
            else None
        )
        reference = _reference_tokens(codec, request)
        targets: list[str | None] = list(objects) if objects else [None]
        mixes: dict[str | None, torch.Tensor | None] = dict.fromkeys(targets)
        if model.ssv2a is not None and request.sources:
            static = perceive_static_sources(request, model.clip, model.audio)
            mixes = target_mix_embeddings(model.ssv2a, request, feats, targets, static)
        # Each target's text: the prompt, or for an object without a prompt its label.
        target_texts = {
            t: text_cond if text or t is None else _text_conditions(model.clip, labels[t]) for t in targets
        }
        known = None
        if kept is not None:
            known = _known_tokens(codec, kept, total_tokens, start, inpaint.start, inpaint.end)
        used_events: dict[str | None, tuple[EventTrack | None, str]] = {}
        conds: dict[str | None, list[Conditions]] = {}
        for target in targets:
            follow = request.event_track(target)
            if follow is None and feats.flow is not None and model.onsets is not None:
                detected = feats.events(target, model.flow_events)
                # Where the onset network is decisive its raw track stays the condition, as the
                # model was trained; elsewhere the flow detectors' events replace it.
                follow = None if detected.detector == "onsets" else detected.track
                used_events[target] = (detected.track, detected.detector)
            else:
                used_events[target] = (follow, "given") if follow is not None else (None, "")
            conds[target] = []
            for w_start in plan.starts:
                window_t = start + w_start / codec.token_rate
                w = feats.window(
                    window_t,
                    cfg.num_visual_tokens,
                    cfg.num_audio_tokens,
                    codec.token_rate,
                    object_id=target,
                    events=follow,
                )
                conds[target].append(
                    _window_conditions(w, window_t, target_texts[target], reference, mixes[target])
                )
        groups: list[tuple[str | None, tuple[str | None, ...]]] = (
            [(t, (t,)) for t in targets]
            if request.per_source
            else [(targets[0] if len(targets) == 1 else None, tuple(targets))]
        )
        return _Job(
            model=model,
            request=request,
            start=start,
            end=end,
            plan=plan,
            feats=feats,
            targets=targets,
            labels=labels,
            text=text,
            text_cond=text_cond,
            target_texts=target_texts,
            mixes=mixes,
            negative=negative,
            conds=conds,
            used_events=used_events,
            known=known,
            kept=kept,
            groups=groups,
        )

    def _render(
        self,
        job: _Job,
        t_index: int,
        noises: Sequence[NoiseRecipe],
        steps: int,
        codec: Codec,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> np.ndarray:
        """Target ``t_index``'s audio ``[len(noises), samples]`` from each noise, sampled with
        ``steps`` steps and decoded by ``codec`` (not levelled)."""
        target = job.targets[t_index]
        settings = job.request.settings.replace(steps=steps)
        cfg, n = job.model.flowley.config, len(noises)
        conds, unconds = [], []
        for cond in job.conds[target]:
            cond = cond.repeat(n).to(self.device)
            if job.request.drop_conditions:
                # Dropped groups stay dropped in the unconditional branch too (it copies keep).
                cond = cond.dropped(job.request.drop_conditions)
            conds.append(cond)
            unconds.append(_unconditional(cond, job.negative))
        # Target k's noise comes from seed + 7919·k, so objects of one seed differ.
        window_noise = window_noises(
            noises, len(job.plan.starts), (cfg.num_audio_tokens, cfg.latent_dim), 7919 * t_index, self.device
        )
        known = None
        if job.known is not None:
            known = (job.known[0].expand(n, -1, -1), job.known[1].expand(n, -1))
        autocast = (
            torch.autocast(self.device.type, dtype=dtype_for(self.device))
            if self.device.type == "cuda"
            else nullcontext()
        )
        with autocast:
            tokens = sample_windows(
                job.model.flowley,
                job.plan,
                conds,
                window_noise,
                settings,
                uncond=unconds if settings.cfg != 1.0 else None,
                known=known,
                progress=progress,
                cancel=cancel,
            )
            cancel.raise_if_cancelled()
            wave = codec.decode(tokens.float()).float().cpu().numpy()
        return _fit(wave, round((job.end - job.start) * codec.sample_rate))

    def _group_audio(
        self, job: _Job, members: Sequence[str | None], waves: Mapping[str | None, np.ndarray]
    ) -> np.ndarray:
        """A group's candidates ``[n, samples]``: its targets' levelled audio summed, spliced
        into the kept render for range regeneration."""
        audio = np.sum([waves[t] for t in members], axis=0)
        inpaint = job.request.inpaint
        if job.kept is not None and inpaint is not None:
            rate = job.model.codec.sample_rate
            audio = np.stack(
                [
                    _splice(job.kept, row, rate, inpaint.start - job.start, inpaint.end - job.start)
                    for row in audio
                ]
            )
        return audio.astype(np.float32)

    def _evaluator(
        self, job: _Job, key: str | None, members: tuple[str | None, ...], cancel: CancelToken
    ) -> Evaluate:
        """The search's F for one group: quick renders (search steps, preview decode) of a
        batch of noises, levelled, summed and spliced as the final candidates are, then scored."""
        model = job.model
        preview = model.preview_codec or model.codec
        reference = job.reference(key, members)
        weights = settings_weights(job.request.settings)

        def evaluate(noises: Sequence[NoiseRecipe], progress: ProgressCallback) -> list[dict[str, float]]:
            waves = {
                t: self._render(
                    job,
                    job.targets.index(t),
                    noises,
                    job.request.settings.search_steps,
                    preview,
                    sub_progress(progress, k / len(members), (k + 1) / len(members)),
                    cancel,
                )
                for k, t in enumerate(members)
            }
            audio = self._group_audio(job, members, rows_under_ceiling(waves))
            rows = score_population(audio, preview.sample_rate, reference, weights, encoder=model.audio)
            return [{k: v for k, v in row.items() if k != "total"} for row in rows]

        return evaluate


@dataclass(eq=False)
class _Job:
    """One generation, prepared (:meth:`GenerationEngine._prepare`): what every render of it
    shares. ``groups`` are ``(key, targets)``: one per object with ``per_source``, else one
    whose candidates sum all targets (key None, or the single target)."""

    model: LoadedModel
    request: GenerationRequest
    start: float
    end: float
    plan: WindowPlan
    feats: VideoFeatures
    targets: list[str | None]
    labels: dict[str, str]
    text: str
    text_cond: dict[str, torch.Tensor] | None
    target_texts: dict[str | None, dict[str, torch.Tensor] | None]
    mixes: dict[str | None, torch.Tensor | None]
    negative: dict[str, torch.Tensor] | None
    conds: dict[str | None, list[Conditions]]
    used_events: dict[str | None, tuple[EventTrack | None, str]]
    known: tuple[torch.Tensor, torch.Tensor] | None
    kept: np.ndarray | None
    groups: list[tuple[str | None, tuple[str | None, ...]]]
    _references: dict[str | None, ScoreReference] = field(default_factory=dict)

    @property
    def group_of(self) -> dict[str | None, str | None]:
        """Each target's group key."""
        return {t: key for key, members in self.groups for t in members}

    def reference(self, key: str | None, members: tuple[str | None, ...]) -> ScoreReference:
        """What group ``key``'s candidates are scored against (made once per generation).

        One target: its followed event track (else its box's or the picture's motion), its
        text (the prompt, or the object's label) and its mix (else its crops' or frames'
        SSV2A mix). Several objects summed: the picture's motion and frames, the prompt."""
        if key in self._references:
            return self._references[key]
        model, feats = self.model, self.feats
        single = members[0] if len(members) == 1 else None
        events = self.used_events.get(single, (None, ""))[0] if len(members) == 1 else None
        box = None if single is None else feats.object_ids.index(single)
        text = self.target_texts.get(single, self.text_cond) if len(members) == 1 else self.text_cond
        semantic = None
        if model.ssv2a is not None and model.audio is not None:
            visual = feats.visual if single is None else feats.object_visual[single]
            mix = self.mixes.get(single) if len(members) == 1 else None
            semantic = semantic_reference(model.ssv2a, mix=mix, visual=visual)
        reference = ScoreReference(
            start=self.start,
            events=events,
            motion=feats.motion,
            box=box,
            motion_offset=self.start - feats.start,
            text=None if text is None else text["text_pooled"][0].float().cpu().numpy(),
            semantic=semantic,
        )
        self._references[key] = reference
        return reference


# -- helpers ----------------------------------------------------------------------------------


def _validate(request: GenerationRequest) -> None:
    request.validate()
    if not Path(request.video).is_file():
        raise FoleyStudioError("video file does not exist", request.video)


def _prompt(request: GenerationRequest) -> str:
    texts = [request.text.strip()] + [s.text.strip() for s in request.sources if isinstance(s, TextSource)]
    return ", ".join(t for t in texts if t)


def _text_conditions(clip: ClipEncoder, text: str) -> dict[str, torch.Tensor] | None:
    if not text:
        return None
    tokens, mask, pooled = clip.encode_text([text])
    return {"text": tokens.cpu(), "text_mask": mask.cpu(), "text_pooled": pooled.cpu()}


def _reference_tokens(codec: Codec, request: GenerationRequest) -> torch.Tensor | None:
    """Codec tokens of the audio sources, concatenated (``[1, Nr, latent]``), or None."""
    parts = []
    for source in request.sources:
        if not isinstance(source, AudioSource):
            continue
        wave = load_audio_prompt(source, codec.sample_rate)
        with torch.no_grad():
            parts.append(codec.encode(torch.from_numpy(wave[None])).cpu())
    return torch.cat(parts, dim=1) if parts else None


def _window_conditions(
    window: dict[str, np.ndarray],
    start: float,
    text: dict[str, torch.Tensor] | None,
    reference: torch.Tensor | None,
    mix: torch.Tensor | None = None,
) -> Conditions:
    fields: dict[str, Any] = {
        "visual": torch.from_numpy(window["visual"])[None],
        "visual_times": torch.from_numpy(window["visual_times"])[None],
        "sync": torch.from_numpy(window["sync"])[None],
        "audio_start": torch.tensor([start], dtype=torch.float32),
    }
    if text is not None:
        fields.update(text)
    if reference is not None:
        fields["ref_audio"] = reference
    if mix is not None:
        fields["mix"] = mix
    return Conditions(**fields)


def _unconditional(cond: Conditions, negative: dict[str, torch.Tensor] | None) -> Conditions:
    if negative is None:
        return cond.unconditional()
    return cond.unconditional(
        negative_text=negative["text"].to(cond.visual.device),
        negative_text_mask=negative["text_mask"].to(cond.visual.device),
        negative_text_pooled=negative["text_pooled"].to(cond.visual.device),
    )


def _known_tokens(
    codec: Codec, kept: np.ndarray, total: int, start: float, cut_start: float, cut_end: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens of the kept render and a mask that is False on the range to regenerate."""
    with torch.no_grad():
        tokens = codec.encode(torch.from_numpy(kept[None].astype(np.float32)))[:, :total]
    if tokens.shape[1] < total:
        tokens = torch.nn.functional.pad(tokens, (0, 0, 0, total - tokens.shape[1]))
    times = codec.token_times(total, start)
    mask = ((times < cut_start) | (times >= cut_end))[None]
    return tokens, mask


def _fit(wave: np.ndarray, length: int) -> np.ndarray:
    if wave.shape[1] >= length:
        return wave[:, :length]
    return np.pad(wave, ((0, 0), (0, length - wave.shape[1])))


def _splice(kept: np.ndarray, new: np.ndarray, rate: int, cut_start: float, cut_end: float) -> np.ndarray:
    """``kept`` with ``new`` inside ``[cut_start, cut_end)`` s, crossfaded over SPLICE_FADE."""
    out = kept.astype(np.float64).copy()
    n = min(len(out), len(new))
    weight = np.zeros(len(out))
    a, b = round(cut_start * rate), round(cut_end * rate)
    fade = max(1, round(SPLICE_FADE * rate))
    weight[max(a, 0) : min(b, len(out))] = 1.0
    ramp = np.linspace(0, 1, fade)
    lo = slice(max(a - fade // 2, 0), max(a - fade // 2, 0) + fade)
    hi = slice(max(b - fade // 2, 0), max(b - fade // 2, 0) + fade)
    weight[lo] = ramp[: len(weight[lo])]
    weight[hi] = ramp[::-1][: len(weight[hi])]
    out[:n] = (1 - weight[:n]) * out[:n] + weight[:n] * new[:n]
    return out.astype(np.float32)
