"""Read the description a recordist left in a WAV file: the BWF ``bext`` and ``iXML`` chunks.

No maintained runtime dependency reads these chunks (``export/bwf.py`` writes them by hand for
the same reason, docs/architecture.md §2.6), so this walks the RIFF chunk list itself. Only
the chunk headers and the two small chunks are read, never the samples, so it costs one
short read per file (the sound library calls it for every WAV it indexes).

Fields returned (all optional, text stripped of padding NULs and spaces):

- ``description``: the bext Description (EBU Tech 3285, 256 ASCII bytes);
- ``originator``: the bext Originator;
- ``ixml``: iXML's top-level ``PROJECT``, ``SCENE``, ``TAKE``, ``TAPE`` and ``NOTE`` texts.
"""

from __future__ import annotations

import os
import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

#: iXML elements kept (iXML 2.x, children of ``BWFXML``).
IXML_FIELDS = ("PROJECT", "SCENE", "TAKE", "TAPE", "NOTE")
#: The bext fields read: Description (256 bytes) and Originator (32 bytes).
_BEXT_TEXT = struct.Struct("<256s32s")
#: Chunks larger than this are not metadata we read (an iXML of a few kB is usual).
_MAX_META_BYTES = 1 << 20


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def read_wav_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"description", "originator", "ixml"}`` of a RIFF/WAVE (or RF64) file, each key present
    only when the file has it; ``{}`` for other or malformed files (metadata is optional, so a
    damaged chunk never makes a readable recording unusable)."""
    found: dict[str, Any] = {}
    try:
        with open(Path(path), "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return {}
            while True:
                header = fh.read(8)
                if len(header) < 8:
                    break
                ident, size = header[:4], struct.unpack("<I", header[4:])[0]
                if ident in (b"bext", b"iXML") and size <= _MAX_META_BYTES:
                    payload = fh.read(size)
                    if ident == b"bext" and len(payload) >= _BEXT_TEXT.size:
                        description, originator = (_text(v) for v in _BEXT_TEXT.unpack_from(payload))
                        if description:
                            found["description"] = description
                        if originator:
                            found["originator"] = originator
                    elif ident == b"iXML":
                        ixml = _ixml_fields(payload)
                        if ixml:
                            found["ixml"] = ixml
                    if size % 2:
                        fh.seek(1, os.SEEK_CUR)
                else:
                    # data (and anything else) is skipped; RIFF pads odd-sized chunks to even.
                    fh.seek(size + (size % 2), os.SEEK_CUR)
    except OSError:
        return found
    return found


def _ixml_fields(payload: bytes) -> dict[str, str]:
    """The :data:`IXML_FIELDS` texts of an iXML document; {} when it does not parse."""
    try:
        root = ET.fromstring(payload.rstrip(b"\0 \n\r\t"))
    except ET.ParseError:
        return {}
    out = {}
    for name in IXML_FIELDS:
        element = root.find(name)
        if element is not None and element.text and element.text.strip():
            out[name.lower()] = element.text.strip()
    return out
