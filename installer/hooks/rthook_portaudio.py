"""Runtime hook: sounddevice loads the PortAudio library shipped inside the build.

sounddevice asks ``ctypes.util.find_library("portaudio")``, which on Linux only consults the
system's linker cache; the bundled ``libportaudio.so.2`` lies in ``sys._MEIPASS`` instead.
"""

import ctypes.util
import os
import sys

_bundled = os.path.join(getattr(sys, "_MEIPASS", ""), "libportaudio.so.2")
if sys.platform.startswith("linux") and os.path.isfile(_bundled):
    _system_find_library = ctypes.util.find_library

    def _find_library(name: str) -> str | None:
        return _bundled if name == "portaudio" else _system_find_library(name)

    ctypes.util.find_library = _find_library
