"""Broadcast WAV writing: PCM/float samples plus the ``bext`` and ``iXML`` chunks.

No maintained Python library writes ``bext`` (docs/architecture.md §10), so this module writes the
whole RIFF file itself — the header, the metadata chunks, then the samples block by block —
which also avoids writing every sample twice (once by a library, once more to insert the
chunks). The layout, all little-endian::

    RIFF <size> WAVE
      fmt   WAVE_FORMAT_PCM (16/24-bit) or WAVE_FORMAT_IEEE_FLOAT (32-bit, with cbSize = 0)
      fact  frame count (float files only: the RIFF rule for non-PCM formats)
      bext  EBU Tech 3285 v2 (602 fixed bytes + CodingHistory)
      iXML  optional, UTF-8 XML (iXML 2.x: PROJECT, SPEED with timestamp, TRACK_LIST)
      data  interleaved samples

Every chunk of odd length is followed by one pad byte (not counted in its size, counted in
the RIFF size). Integer formats round to nearest and clip to full scale (a sample of +1.0
becomes the largest positive code); no dither. Files are written atomically.
"""

from __future__ import annotations

import math
import os
import struct
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from foleystudio.core.atomicfile import atomic_output
from foleystudio.core.jobs import CancelToken
from foleystudio.errors import ExportError

#: Bit depths we write: 16- and 24-bit integer PCM, 32-bit IEEE float.
SUPPORTED_BITS = (16, 24, 32)

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003

#: EBU Tech 3285 v2 §2.4: a loudness field that is not used holds 7FFFh.
LOUDNESS_UNUSED = 0x7FFF

#: bext fixed part: Description, Originator, OriginatorReference, OriginationDate,
#: OriginationTime, TimeReferenceLow, TimeReferenceHigh, Version, UMID, five loudness
#: WORDs, Reserved (602 bytes); CodingHistory follows.
_BEXT_STRUCT = struct.Struct("<256s32s32s10s8sIIH64s5h180s")
assert _BEXT_STRUCT.size == 602

#: Frames encoded per block: bounds the temporary memory of the integer conversion.
BLOCK_FRAMES = 1 << 20

#: The largest RIFF file: its size field is 32-bit (RF64 is not written).
_MAX_RIFF_BYTES = 0xFFFFFFFF


@dataclass(frozen=True)
class BextInfo:
    """The fields of a ``bext`` chunk (text is ASCII; longer text is cut to the field size).

    ``time_reference``: samples since midnight of the file's first sample. Loudness values:
    LUFS / LU / dBTP, or None for "not measured" (written as 7FFFh).
    ``origination_date`` is ``yyyy-mm-dd``, ``origination_time`` ``hh:mm:ss``.
    """

    description: str = ""
    originator: str = "FoleyStudio"
    originator_reference: str = ""
    origination_date: str = ""
    origination_time: str = ""
    time_reference: int = 0
    loudness_value: float | None = None
    loudness_range: float | None = None
    max_true_peak_level: float | None = None
    max_momentary_loudness: float | None = None
    max_short_term_loudness: float | None = None
    coding_history: str = ""


@dataclass(frozen=True)
class IXMLInfo:
    """What the ``iXML`` chunk says: project, track names, timecode rate and timestamp."""

    project: str
    track_names: tuple[str, ...]
    fps: Fraction
    drop_frame: bool
    sample_rate: int
    bits: int
    time_reference: int
    note: str = ""
    file_uid: str = ""


def coding_history_line(sample_rate: int, bits: int, channels: int, text: str) -> str:
    """One EBU R 98 CodingHistory row, e.g. ``A=PCM,F=48000,W=24,M=mono,T=FoleyStudio\\r\\n``."""
    mode = {1: "mono", 2: "stereo"}.get(channels, "multichannel")
    return f"A=PCM,F={sample_rate},W={bits},M={mode},T={text}\r\n"


def bext_payload(info: BextInfo) -> bytes:
    """The bytes of a version 2 ``bext`` chunk (without the chunk header)."""
    if not 0 <= info.time_reference < 2**64:
        raise ExportError(f"bext TimeReference out of range: {info.time_reference}")
    loudness = tuple(
        _loudness_word(value)
        for value in (
            info.loudness_value,
            info.loudness_range,
            info.max_true_peak_level,
            info.max_momentary_loudness,
            info.max_short_term_loudness,
        )
    )
    fixed = _BEXT_STRUCT.pack(
        _ascii(info.description, 256),
        _ascii(info.originator, 32),
        _ascii(info.originator_reference, 32),
        _ascii(info.origination_date, 10),
        _ascii(info.origination_time, 8),
        info.time_reference & 0xFFFFFFFF,
        info.time_reference >> 32,
        2,  # version 2: UMID + loudness fields
        bytes(64),  # no UMID (SMPTE 330M needs an organisation registration we do not have)
        *loudness,
        bytes(180),
    )
    return fixed + info.coding_history.encode("ascii", "replace")


def ixml_payload(info: IXMLInfo) -> bytes:
    """The UTF-8 bytes of an ``iXML`` chunk."""
    root = ET.Element("BWFXML")
    ET.SubElement(root, "IXML_VERSION").text = "2.10"
    ET.SubElement(root, "PROJECT").text = info.project
    if info.note:
        ET.SubElement(root, "NOTE").text = info.note
    if info.file_uid:
        ET.SubElement(root, "FILE_UID").text = info.file_uid
    speed = ET.SubElement(root, "SPEED")
    rate = f"{info.fps.numerator}/{info.fps.denominator}"
    ET.SubElement(speed, "MASTER_SPEED").text = rate
    ET.SubElement(speed, "CURRENT_SPEED").text = rate
    ET.SubElement(speed, "TIMECODE_RATE").text = rate
    ET.SubElement(speed, "TIMECODE_FLAG").text = "DF" if info.drop_frame else "NDF"
    ET.SubElement(speed, "FILE_SAMPLE_RATE").text = str(info.sample_rate)
    ET.SubElement(speed, "AUDIO_BIT_DEPTH").text = str(info.bits)
    ET.SubElement(speed, "DIGITIZER_SAMPLE_RATE").text = str(info.sample_rate)
    ET.SubElement(speed, "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI").text = str(info.time_reference >> 32)
    ET.SubElement(speed, "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO").text = str(info.time_reference & 0xFFFFFFFF)
    ET.SubElement(speed, "TIMESTAMP_SAMPLE_RATE").text = str(info.sample_rate)
    tracks = ET.SubElement(root, "TRACK_LIST")
    ET.SubElement(tracks, "TRACK_COUNT").text = str(len(info.track_names))
    for index, name in enumerate(info.track_names, start=1):
        track = ET.SubElement(tracks, "TRACK")
        ET.SubElement(track, "CHANNEL_INDEX").text = str(index)
        ET.SubElement(track, "INTERLEAVE_INDEX").text = str(index)
        ET.SubElement(track, "NAME").text = name
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def write_bwf(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    bits: int,
    bext: BextInfo,
    ixml: IXMLInfo | None = None,
    *,
    cancel: CancelToken | None = None,
) -> Path:
    """Write ``audio`` (float32 ``(frames,)`` or ``(frames, channels)``) as a Broadcast WAV.

    ``bits``: 16 or 24 (integer PCM) or 32 (IEEE float). Atomic: on error or cancel the
    destination keeps its previous content. Raises :class:`ExportError` naming the file.
    """
    path = Path(path)
    if bits not in SUPPORTED_BITS:
        raise ExportError(f"unsupported bit depth {bits}; use one of {SUPPORTED_BITS}", path)
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or samples.shape[1] < 1:
        raise ExportError(f"audio must be (frames,) or (frames, channels), got shape {samples.shape}", path)
    frames, channels = samples.shape
    sample_bytes = bits // 8
    data_size = frames * channels * sample_bytes
    head = _header_chunks(samples.shape, sample_rate, bits, bext, ixml)
    riff_size = 4 + len(head) + 8 + data_size + (data_size & 1)
    if riff_size + 8 > _MAX_RIFF_BYTES:
        raise ExportError(
            f"too long for a WAV file ({(riff_size + 8) / 2**30:.1f} GiB > 4 GiB); "
            "export at a lower rate/bit depth or a shorter range",
            path,
        )
    try:
        with atomic_output(path) as fh:
            fh.write(b"RIFF" + struct.pack("<I", riff_size) + b"WAVE")
            fh.write(head)
            fh.write(b"data" + struct.pack("<I", data_size))
            for start in range(0, frames, BLOCK_FRAMES):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                fh.write(encode_samples(samples[start : start + BLOCK_FRAMES], bits))
            if data_size & 1:
                fh.write(b"\0")
    except OSError as exc:
        raise ExportError(f"cannot write WAV file: {exc.strerror or exc}", path) from exc
    return path


def encode_samples(block: np.ndarray, bits: int) -> np.ndarray:
    """Little-endian interleaved sample bytes (a contiguous array, for ``file.write``) of a
    float block at ``bits`` (16/24-bit integer, 32-bit float)."""
    if bits == 32:
        return np.ascontiguousarray(block, dtype="<f4")
    scale = np.float32(2 ** (bits - 1))
    codes = np.multiply(block, scale, dtype=np.float32)
    np.rint(codes, out=codes)
    np.clip(codes, -scale, scale - 1, out=codes)
    if bits == 16:
        return codes.astype("<i2")
    # 24-bit: the low three bytes of each little-endian int32, gathered byte plane by byte
    # plane (three strided copies are ~3x faster than slicing (n, 4) rows to (n, 3)).
    quads = codes.astype("<i4").reshape(-1).view(np.uint8)
    packed = np.empty(quads.size // 4 * 3, np.uint8)
    for byte in range(3):
        packed[byte::3] = quads[byte::4]
    return packed


def _header_chunks(
    shape: tuple[int, int], sample_rate: int, bits: int, bext: BextInfo, ixml: IXMLInfo | None
) -> bytes:
    frames, channels = shape
    block_align = channels * bits // 8
    if bits == 32:
        fmt = struct.pack(
            "<HHIIHHH",
            WAVE_FORMAT_IEEE_FLOAT,
            channels,
            sample_rate,
            sample_rate * block_align,
            block_align,
            bits,
            0,
        )
        head = _chunk(b"fmt ", fmt) + _chunk(b"fact", struct.pack("<I", frames))
    else:
        fmt = struct.pack(
            "<HHIIHH", WAVE_FORMAT_PCM, channels, sample_rate, sample_rate * block_align, block_align, bits
        )
        head = _chunk(b"fmt ", fmt)
    head += _chunk(b"bext", bext_payload(bext))
    if ixml is not None:
        head += _chunk(b"iXML", ixml_payload(ixml))
    return head


def _chunk(ident: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: id, size, payload and the pad byte an odd size needs."""
    return ident + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def _loudness_word(value: float | None) -> int:
    """round(100 × value) as a signed 16-bit word, or 7FFFh when unknown or out of range."""
    if value is None or not math.isfinite(value):
        return LOUDNESS_UNUSED
    word = round(value * 100)
    return word if -32768 <= word < LOUDNESS_UNUSED else LOUDNESS_UNUSED


def _ascii(text: str, size: int) -> bytes:
    """ASCII bytes of ``text`` cut to ``size`` (struct pads the rest with NUL)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore")
    return plain[:size]
