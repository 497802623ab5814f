"""``export_project``: stems, mix, remuxed video and interchange files in one job.

All or nothing. Everything is checked first (options, renders, video) and an
:class:`ExportError` naming the file is raised before anything is written. Files are then
written into a hidden staging folder inside each destination folder
(``core.atomicfile.StagingFolders``) and moved into place
(``os.replace``, same file system) only when every file is complete; a failure or a cancel
removes the staging folders (and any folder the export created), so no half-written file
is ever left behind and existing files are untouched. Destination files that already exist
are replaced at the end, like a DAW bounce. (The final moves are renames within one file
system; only an error during that last step — e.g. a file locked by another program on
Windows — could leave some destinations replaced and others not, each file still whole.)

Stem, mix and timeline rules are in :mod:`~foleystudio.export.stems`,
:mod:`~foleystudio.export.mixdown` and :mod:`~foleystudio.export.layout`.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from foleystudio import __version__
from foleystudio.core.atomicfile import StagingFolders
from foleystudio.core.jobs import CancelToken, ProgressCallback, no_progress
from foleystudio.core.project import Project, Track
from foleystudio.core.project_bundle import missing_media
from foleystudio.core.timebase import timecode_to_frames, timecode_to_samples, uses_drop_frame
from foleystudio.errors import ExportError, FoleyStudioError, UsageError
from foleystudio.export.bwf import BextInfo, IXMLInfo, coding_history_line, write_bwf
from foleystudio.export.layout import ExportLayout, PlacedItem, PlacedTrack, build_layout, merged_regions
from foleystudio.export.mixdown import MixReport, add_to_mix, finish_mix
from foleystudio.export.naming import load_preset
from foleystudio.export.options import ExportDestinations, ExportOptions
from foleystudio.export.stems import (
    ClipSpan,
    RenderCache,
    clip_spans,
    project_length_samples,
    render_clip,
    render_track,
    tracks_with_clips,
)


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote (final paths) and what it measured.

    ``length_samples`` is the length of every stem and of the mix; ``start_samples`` the BWF
    TimeReference of the first video frame.
    """

    stems: tuple[Path, ...] = ()
    mix: Path | None = None
    video: Path | None = None
    otio: Path | None = None
    rpp: Path | None = None
    edls: tuple[Path, ...] = ()
    sample_rate: int = 48000
    bits: int = 24
    length_samples: int = 0
    start_samples: int = 0
    mix_report: MixReport | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file written, in a stable order."""
        single = [p for p in (self.mix, self.video, self.otio, self.rpp) if p is not None]
        return (*self.stems, *single, *self.edls)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stems": [str(p) for p in self.stems],
            "mix": None if self.mix is None else str(self.mix),
            "video": None if self.video is None else str(self.video),
            "otio": None if self.otio is None else str(self.otio),
            "rpp": None if self.rpp is None else str(self.rpp),
            "edls": [str(p) for p in self.edls],
            "sample_rate": self.sample_rate,
            "bits": self.bits,
            "length_samples": self.length_samples,
            "start_samples": self.start_samples,
            "mix_report": None if self.mix_report is None else self.mix_report.to_dict(),
            "warnings": list(self.warnings),
        }


def export_project(
    project: Project,
    destinations: ExportDestinations,
    options: ExportOptions = ExportOptions(),
    *,
    bundle_dir: str | os.PathLike[str] | None = None,
    created: datetime | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ExportResult:
    """Export ``project`` to ``destinations`` as ``options`` say.

    Stems are one mono file per track with clips (one per clip with ``options.per_clip``);
    the interchange files reference the stems (or the per-clip files, or the renders when no
    stems are exported). Relative destinations resolve against ``bundle_dir`` (the current
    folder when None). ``options.loudness_target`` (LUFS) normalises the mix and the video's
    sound; the applied gain is in ``ExportResult.mix_report``. ``created`` is the bext
    origination date/time (default: now).

    Raises :class:`ExportError` (missing render/video, unwritable destination) or
    :class:`UsageError` (bad option, unknown naming preset) before writing anything,
    :class:`JobCancelled` on cancel; in every failure nothing is left behind.
    """
    cancel = cancel or CancelToken()
    created = created or datetime.now()
    base = Path(bundle_dir).expanduser().absolute() if bundle_dir is not None else Path.cwd()
    plan = _Plan.make(project, destinations.resolved(base), options)
    _check_media(project, plan)
    staging = StagingFolders(plan.destination_folders(), error=ExportError)
    try:
        result = _run(project, plan, staging, created, progress, cancel)
        cancel.raise_if_cancelled()
        staging.commit()
    except BaseException as exc:
        staging.abort()
        if isinstance(exc, OSError):
            raise ExportError(
                f"cannot write the export: {exc.strerror or exc}", staging.user_path(exc.filename)
            ) from exc
        raise
    progress(1.0, "export finished")
    return result


# --- planning ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    """Checked options, absolute destinations and the final path of every file."""

    options: ExportOptions
    to: ExportDestinations
    stem_names: dict[int, str]
    clip_names: dict[tuple[int, int], str]
    edl_paths: tuple[Path, ...]
    length: int

    @classmethod
    def make(cls, project: Project, to: ExportDestinations, options: ExportOptions) -> _Plan:
        """The plan for absolute destinations ``to``; raises UsageError/ExportError."""
        from foleystudio.export.video import check_video_output

        to.check_for(options)
        naming = load_preset(options.naming)
        sample_rate, per_clip, stems = options.sample_rate, options.per_clip, to.stems
        if stems is not None and stems.exists() and not stems.is_dir():
            raise UsageError("the stems destination exists and is not a folder", stems)
        if to.mix is not None and to.mix.suffix.lower() not in (".wav", ".bwf"):
            raise UsageError("the mix is a Broadcast WAV file: use a .wav name", to.mix)
        if to.video is not None:
            check_video_output(to.video, options.video_audio_codec)
        length = project_length_samples(project, sample_rate)
        if length <= 0:
            raise ExportError("nothing to export: the project has no video duration and no clips")

        stem_names: dict[int, str] = {}
        clip_names: dict[tuple[int, int], str] = {}
        if stems is not None:
            for number, track in tracks_with_clips(project):
                if per_clip:
                    for span in clip_spans(track, sample_rate):
                        if span.length > 0:
                            clip_names[(number, span.number)] = naming.clip_name(
                                project.name, number, track.name, span.number, span.clip.label
                            )
                else:
                    stem_names[number] = naming.stem_name(project.name, number, track.name)

        edl_paths: tuple[Path, ...] = ()
        if to.edl is not None:
            from foleystudio.export.edl import edl_files

            # The EDL names depend only on the tracks and their lanes; a throwaway layout
            # (without reading any media) gives them.
            draft = _draft_layout(project, sample_rate, stems, per_clip)
            edl_paths = tuple(path for path, *_ in edl_files(draft, to.edl))

        plan = cls(options, to, stem_names, clip_names, edl_paths, length)
        plan._check_collisions()
        return plan

    def stem_path(self, number: int) -> Path:
        assert self.to.stems is not None
        return self.to.stems / self.stem_names[number]

    def clip_path(self, number: int, clip: int) -> Path:
        assert self.to.stems is not None
        return self.to.stems / self.clip_names[(number, clip)]

    def all_paths(self) -> list[Path]:
        paths = [self.stem_path(n) for n in self.stem_names] + [self.clip_path(*k) for k in self.clip_names]
        paths += [p for p in (self.to.mix, self.to.video, self.to.otio, self.to.rpp) if p is not None]
        return paths + list(self.edl_paths)

    def destination_folders(self) -> list[Path]:
        folders = [p.parent for p in self.all_paths()]
        if self.to.stems is not None:
            folders.append(self.to.stems)
        return list(dict.fromkeys(folders))

    def _check_collisions(self) -> None:
        seen: dict[str, Path] = {}
        for path in self.all_paths():
            key = os.path.normcase(str(path)).lower()  # case-insensitive file systems too
            if key in seen:
                raise UsageError(f"two exported files would have the same name: {path.name}", path.parent)
            seen[key] = path
            if path.is_dir():
                raise UsageError("a folder is in the way of an exported file", path)


def _draft_layout(project: Project, sample_rate: int, stems: Path | None, per_clip: bool) -> ExportLayout:
    """A layout with placeholder files: enough to know the tracks and lanes, reads no media."""
    tracks = []
    for number, track in tracks_with_clips(project):
        spans = clip_spans(track, sample_rate)
        if stems is not None and not per_clip:
            items = tuple(
                PlacedItem("", Path(), a, b - a, a, 0, 0, kind="stem") for a, b in merged_regions(spans)
            )
        else:
            items = tuple(PlacedItem("", Path(), s.start, s.length, 0, 0, 0) for s in spans if s.length > 0)
        tracks.append(PlacedTrack(number, track.name, 0.0, 0.0, False, False, items))
    return ExportLayout(
        project.name, sample_rate, 0, project.fps, project.start_timecode, None, 0, 0, tuple(tracks)
    )


def _check_media(project: Project, plan: _Plan) -> None:
    """Every file the export reads must exist: clip renders, and the video when it is used."""
    timecode_to_frames(project.start_timecode, project.fps)  # raises UsageError for a bad timecode
    needed = {clip.render for track in project.tracks for clip in track.clips}
    to = plan.to
    uses_video = to.video is not None or any(p is not None for p in (to.otio, to.rpp, to.edl))
    if project.video and uses_video:
        needed.add(project.video)
    missing = [p for p in missing_media(project) if p in needed]
    if to.video is not None and not project.video:
        raise ExportError("cannot export a video: the project has no video")
    if missing:
        what = "video" if missing[0] == project.video else "render"
        more = f" (and {len(missing) - 1} more missing file(s))" if len(missing) > 1 else ""
        raise ExportError(f"{what} file not found{more}; relink it before exporting", missing[0])


# --- staging -----------------------------------------------------------------------------
# --- the work ----------------------------------------------------------------------------
def _run(
    project: Project,
    plan: _Plan,
    staging: StagingFolders,
    created: datetime,
    progress: ProgressCallback,
    cancel: CancelToken,
) -> ExportResult:
    options, to = plan.options, plan.to
    sr, bits, length = options.sample_rate, options.bits, plan.length
    start_samples = timecode_to_samples(project.start_timecode, project.fps, sr)
    needs_mix = to.mix is not None or to.video is not None
    audible = {id(t) for t in project.audible_tracks()}
    bus = np.zeros((length, 2), np.float32) if needs_mix else None
    cache = RenderCache(sr)
    tracks = tracks_with_clips(project)
    writes_audio = bool(plan.stem_names or plan.clip_names)
    stems_share = 0.7 if writes_audio else 0.4
    warnings: list[str] = []
    if not tracks:
        warnings.append("the project has no clips: nothing but silence to export")

    metadata = _Metadata(project, sr, bits, start_samples, created, options.ixml)
    for index, (number, track) in enumerate(tracks):
        cancel.raise_if_cancelled()
        progress(stems_share * index / max(1, len(tracks)), f"track {index + 1}/{len(tracks)}: {track.name}")
        if options.per_clip:
            for span in clip_spans(track, sr):
                if span.length > 0:
                    _write_clip_file(plan, staging, metadata, number, track, span, cache, cancel)
        to_mix = bus is not None and id(track) in audible
        if number not in plan.stem_names and not to_mix:
            continue
        stem = render_track(track, length, cache)
        if number in plan.stem_names:
            path = plan.stem_path(number)
            write_bwf(
                staging.path_for(path),
                stem,
                sr,
                bits,
                metadata.bext(track.name, track.id, start_samples, 1),
                metadata.ixml(track.name, start_samples, (track.name,)),
                cancel=cancel,
            )
            if stem.size and max(float(stem.max()), -float(stem.min())) > 1.0 and bits != 32:
                warnings.append(
                    f"stem {path.name} peaks over full scale and clips; lower the gain of {track.name!r}"
                )
        if to_mix:
            assert bus is not None
            add_to_mix(bus, stem, track.pan)
        del stem

    mix_report = None
    if bus is not None:
        cancel.raise_if_cancelled()
        progress(stems_share, "mixing")
        mix, mix_report, mix_warnings = finish_mix(bus, sr, options.loudness_target, bits)
        warnings += mix_warnings
        del bus
        if to.mix is not None:
            progress(stems_share + 0.05, "writing the mix")
            name = f"{project.name} mix"
            bext = metadata.bext(name, "mix", start_samples, 2, loudness=mix_report.loudness_lufs)
            write_bwf(
                staging.path_for(to.mix),
                mix,
                sr,
                bits,
                bext,
                metadata.ixml(name, start_samples, ("Mix L", "Mix R")),
                cancel=cancel,
            )
        if to.video is not None:
            cancel.raise_if_cancelled()
            progress(stems_share + 0.1, "remuxing the video")
            from foleystudio.export.video import remux_video

            assert project.video is not None
            remux_video(
                project.video,
                mix,
                sr,
                staging.path_for(to.video),
                audio_codec=options.video_audio_codec,
                bits=bits,
                duration=project.duration or None,
            )
        del mix

    if any(p is not None for p in (to.otio, to.rpp, to.edl)):
        cancel.raise_if_cancelled()
        progress(0.95, "writing the interchange files")
        layout = _final_layout(project, plan)
        if project.video is None:
            warnings.append("the project has no video: the interchange files have no picture track")
        if to.otio is not None:
            from foleystudio.export.otio_export import write_otio

            write_otio(layout, staging.path_for(to.otio))
        if to.rpp is not None:
            from foleystudio.export.reaper import write_rpp

            write_rpp(layout, staging.path_for(to.rpp), file_path=to.rpp)
        if to.edl is not None:
            from foleystudio.export.edl import edl_files, write_edls

            written = {p.name for p, *_ in edl_files(layout, to.edl)}
            assert written == {p.name for p in plan.edl_paths}, "EDL names changed between plan and write"
            write_edls(layout, to.edl, staging=staging.stages[to.edl.parent])
            if not plan.edl_paths:
                warnings.append("no clips: no EDL written")

    return ExportResult(
        stems=tuple(
            [plan.stem_path(n) for n in sorted(plan.stem_names)]
            + [plan.clip_path(*k) for k in sorted(plan.clip_names)]
        ),
        mix=to.mix,
        video=to.video,
        otio=to.otio,
        rpp=to.rpp,
        edls=plan.edl_paths,
        sample_rate=sr,
        bits=bits,
        length_samples=length,
        start_samples=start_samples,
        mix_report=mix_report,
        warnings=tuple(warnings),
    )


def _write_clip_file(
    plan: _Plan,
    staging: StagingFolders,
    metadata: _Metadata,
    number: int,
    track: Track,
    span: ClipSpan,
    cache: RenderCache,
    cancel: CancelToken,
) -> None:
    path = plan.clip_path(number, span.number)
    time_reference = metadata.start_samples + span.start
    write_bwf(
        staging.path_for(path),
        render_clip(track, span, cache),
        plan.options.sample_rate,
        plan.options.bits,
        metadata.bext(f"{track.name} {span.clip.label}".strip(), span.clip.id, time_reference, 1),
        metadata.ixml(track.name, time_reference, (track.name,)),
        cancel=cancel,
    )


def _final_layout(project: Project, plan: _Plan) -> ExportLayout:
    video_start = 0
    if project.video:
        from foleystudio.core.media import probe

        try:
            info = probe(project.video)
            video_start = timecode_to_frames(info.start_timecode, project.fps)
        except FoleyStudioError:
            video_start = 0  # an unreadable or odd timecode: the picture's own time starts at 0
    sample_rate = plan.options.sample_rate
    if plan.stem_names:
        return build_layout(
            project,
            sample_rate,
            stem_files={n: plan.stem_path(n) for n in plan.stem_names},
            video_start_frames=video_start,
        )
    if plan.options.per_clip:
        return build_layout(
            project,
            sample_rate,
            clip_files={k: plan.clip_path(*k) for k in plan.clip_names},
            video_start_frames=video_start,
        )
    return build_layout(project, sample_rate, video_start_frames=video_start)


@dataclass(frozen=True)
class _Metadata:
    """Builds the bext/iXML of each file of one export."""

    project: Project
    sample_rate: int
    bits: int
    start_samples: int
    created: datetime
    with_ixml: bool

    def bext(
        self, what: str, key: str, time_reference: int, channels: int, loudness: float | None = None
    ) -> BextInfo:
        digest = hashlib.sha1(f"{self.project.name}/{key}/{self.created.isoformat()}".encode()).hexdigest()
        return BextInfo(
            description=f"{self.project.name}: {what} (FoleyStudio, start {self.project.start_timecode})",
            originator="FoleyStudio",
            originator_reference=f"FS{digest[:30]}",
            origination_date=self.created.strftime("%Y-%m-%d"),
            origination_time=self.created.strftime("%H:%M:%S"),
            time_reference=time_reference,
            loudness_value=loudness if loudness is not None and math.isfinite(loudness) else None,
            coding_history=coding_history_line(
                self.sample_rate, self.bits, channels, f"FoleyStudio {__version__}"
            ),
        )

    def ixml(self, note: str, time_reference: int, names: tuple[str, ...]) -> IXMLInfo | None:
        if not self.with_ixml:
            return None
        drop = uses_drop_frame(self.project.start_timecode, self.project.fps)
        return IXMLInfo(
            project=self.project.name,
            track_names=names,
            fps=self.project.fps,
            drop_frame=drop,
            sample_rate=self.sample_rate,
            bits=self.bits,
            time_reference=time_reference,
            note=note,
        )
