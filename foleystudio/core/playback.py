"""Audio playback: a sounddevice callback stream mixing the project's tracks (docs/architecture.md §9).

The engine plays *pre-rendered* mono buffers, one per track, each starting at project time 0
and sampled at the engine's rate (clip placement and clip gain already applied, e.g. by
``export.stems.render_track`` with the track gain left out). Track gain, pan, mute and solo
are applied in the callback from a small immutable :class:`MixState`, so a fader move never
re-renders audio; an edit that changes clips renders new buffers off the audio thread and
swaps the whole state in one reference assignment, which the callback picks up at its next
block.

The callback allocates no sample memory: it writes into PortAudio's buffer and one scratch
array made when the engine is created. Its clock, :meth:`PlaybackEngine.position`, is the
frame the callback has reached, advanced smoothly between blocks and corrected for the
device's output latency, so the picture follows what is heard.

Without an output device (or without PortAudio) the engine is *unavailable*: ``available`` is
False, ``unavailable_reason`` says why, and the transport still runs on a wall clock so the
picture can play silently; everything else works.

Units: seconds for times, samples at ``sample_rate`` Hz for buffers, dB for gain, pan in
[-1, 1]. ``speed`` is the play rate: an integer for the J/K/L shuttle (1 normal, 2 double,
-1 reverse) or a fraction (½×, ¼× for tapping to picture). At a fractional rate the audio is
*muted*: the callback writes silence and advances its clock by ``frames * speed``, so the
clock (and the picture following it) runs at that rate; resampling the mix was left out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from foleystudio.core.audio import db_to_gain, pan_gains, resample
from foleystudio.core.project import Track
from foleystudio.core.tapping import tap_time

#: Largest block the callback mixes at once; bigger PortAudio blocks are done in pieces.
SCRATCH_FRAMES = 8192


@dataclass(frozen=True)
class MixLayer:
    """One audible buffer in the mix: mono float32 samples and its left/right gains."""

    key: str
    audio: np.ndarray
    gain_left: float
    gain_right: float
    start_frame: int = 0


@dataclass(frozen=True)
class MixState:
    """What the callback mixes; replaced whole, never mutated (the swap is atomic)."""

    layers: tuple[MixLayer, ...] = ()
    length_frames: int = 0


def mix_state(
    buffers: Mapping[str, np.ndarray], tracks: Sequence[Track], audible: Sequence[Track]
) -> MixState:
    """The mix of ``buffers`` (track id -> mono samples) for the tracks that play.

    ``audible`` is the project's rule for mute/solo (:meth:`Project.audible_tracks`); each
    track's gain (dB) and pan become the layer's left/right gains.
    """
    audible_ids = {t.id for t in audible}
    layers = []
    for track in tracks:
        audio = buffers.get(track.id)
        if audio is None or track.id not in audible_ids:
            continue
        gain = db_to_gain(track.gain_db)
        left, right = pan_gains(track.pan)
        layers.append(MixLayer(track.id, audio, float(gain * left), float(gain * right)))
    length = max((len(b) for b in buffers.values()), default=0)
    return MixState(tuple(layers), length)


def _play_rate(speed: float) -> int | float:
    """``speed`` as the engine keeps it: an int when whole (the mixer strides by it)."""
    speed = float(speed)
    if speed == 0 or not math.isfinite(speed):
        raise ValueError(f"speed must be a finite non-zero number, got {speed}")
    return int(speed) if speed.is_integer() else speed


def _segment(length: int, pos: int, frames: int, speed: int) -> tuple[int, int, int]:
    """For output samples ``k`` reading ``buffer[pos + k * speed]``: the first valid ``k``,
    how many follow, and the buffer index of the first (0 count when none is in range)."""
    if speed > 0:
        k0 = max(0, -(pos // speed))  # ceil(-pos / speed)
        k1 = min(frames - 1, (length - 1 - pos) // speed)
    else:
        step = -speed
        k0 = max(0, -(-(pos - (length - 1)) // step))
        k1 = min(frames - 1, pos // step)
    count = k1 - k0 + 1
    if count <= 0 or length == 0:
        return 0, 0, 0
    return k0, count, pos + k0 * speed


class PlaybackEngine:
    """The transport and its output stream.

    ``start``/``stop``/``seek`` drive the transport; ``set_state`` swaps the mix;
    ``audition`` plays one candidate buffer (placed at its start time) instead of the tracks.
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        blocksize: int = 512,
        device: int | str | None = None,
        open_device: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.blocksize = int(blocksize)
        self.device = device
        #: The wall clock (s) the transport reads; tests replace it to drive time exactly.
        self.clock = clock
        self.available = False
        self.unavailable_reason = "audio output not opened"
        self._sd: Any = None
        self._stream: Any = None
        self._scratch = np.zeros(SCRATCH_FRAMES, np.float32)
        self._state = MixState()
        self._audition: MixState | None = None
        self._playing = False
        self._speed: int | float = 1
        self._frame: int | float = 0  # next frame the callback reads (fractional at ½×, ¼×)
        self._seek_request: tuple[int, int] = (0, 0)  # (serial, frame): atomic tuple swap
        self._seek_done = 0
        self._block_frame = 0
        self._block_time = 0.0
        self._latency = 0.0
        self._wall_start = 0.0
        self._wall_frame = 0
        self._last_position = 0.0
        self.blocks_mixed = 0
        if open_device:
            self._probe_device()
        else:
            self.unavailable_reason = "audio output disabled"

    # --- device --------------------------------------------------------------------------
    def _probe_device(self) -> None:
        try:
            import sounddevice as sd
        except OSError as exc:  # PortAudio library missing
            self.unavailable_reason = f"PortAudio is not available ({exc}); playback is silent"
            return
        try:
            sd.check_output_settings(
                device=self.device, channels=2, dtype="float32", samplerate=self.sample_rate
            )
        except Exception as exc:  # sd.PortAudioError or ValueError: no usable output device
            self.unavailable_reason = f"no audio output device ({exc}); playback is silent"
            return
        self._sd = sd
        self.available = True
        self.unavailable_reason = ""

    def _ensure_stream(self) -> bool:
        if not self.available:
            return False
        if self._stream is not None:
            return True
        try:
            self._stream = self._sd.OutputStream(
                samplerate=self.sample_rate,
                blocksize=self.blocksize,
                device=self.device,
                channels=2,
                dtype="float32",
                latency="low",
                callback=self.callback,
            )
            self._latency = float(self._stream.latency)
        except Exception as exc:  # PortAudioError: the device vanished or refuses the format
            self.available = False
            self.unavailable_reason = f"cannot open the audio output ({exc}); playback is silent"
            self._stream = None
            return False
        return True

    # --- mix -----------------------------------------------------------------------------
    def set_state(self, state: MixState) -> None:
        """Swap the track mix; the callback uses it from its next block."""
        self._state = state

    @property
    def state(self) -> MixState:
        return self._state

    def audition(self, audio: np.ndarray, sample_rate: int, start: float) -> None:
        """Play ``audio`` (mono, ``sample_rate`` Hz) placed at ``start`` s instead of the tracks,
        from ``start``; :meth:`stop` ends the audition."""
        mono = np.asarray(audio, dtype=np.float32).reshape(len(audio), -1).mean(axis=1)
        if sample_rate != self.sample_rate:
            mono = np.asarray(resample(mono, sample_rate, self.sample_rate), dtype=np.float32)
        first = round(start * self.sample_rate)
        layer = MixLayer("audition", np.ascontiguousarray(mono), 1.0, 1.0, first)
        self._audition = MixState((layer,), first + len(mono))
        self.start(start)

    @property
    def auditioning(self) -> bool:
        return self._audition is not None

    # --- transport -----------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def speed(self) -> int | float:
        return self._speed

    @property
    def output_latency(self) -> float:
        """The output latency (wall s) the open stream reports (sounddevice's
        ``stream.latency``); 0 on the silent wall clock."""
        return self._latency if self._stream is not None and self.available else 0.0

    def start(self, position: float | None = None, speed: float = 1) -> None:
        """Play from ``position`` seconds (default: where the transport is) at ``speed``."""
        rate = _play_rate(speed)
        frame = self._current_frame() if position is None else max(round(position * self.sample_rate), 0)
        self._speed = rate
        self._frame = frame
        self._seek_done = self._seek_request[0]
        self._block_frame = frame
        self._block_time = self.clock()
        self._wall_start = self.clock()
        self._wall_frame = frame
        self._last_position = frame / self.sample_rate
        self._playing = True
        if self._ensure_stream() and not self._stream.active:
            try:
                self._stream.start()
            except Exception as exc:  # PortAudioError while starting: fall back to silence
                self.available = False
                self.unavailable_reason = f"cannot start the audio output ({exc}); playback is silent"

    def stop(self) -> None:
        """Stop the transport where it is (and end any audition)."""
        here = self._current_frame()
        self._playing = False
        if self._stream is not None and self._stream.active:
            self._stream.abort()  # drop queued blocks: stopping is immediate, as editors expect
        self._frame = here
        self._last_position = here / self.sample_rate
        self._audition = None

    def seek(self, seconds: float) -> None:
        """Move the transport to ``seconds`` (playing or not)."""
        frame = max(round(seconds * self.sample_rate), 0)
        if self._playing:
            serial = self._seek_request[0] + 1
            self._seek_request = (serial, frame)
            self._wall_start = self.clock()
            self._wall_frame = frame
            self._block_frame = frame
            self._block_time = self.clock()
        else:
            self._frame = frame
        self._last_position = frame / self.sample_rate

    def set_speed(self, speed: float) -> None:
        """Change the play rate while playing (or before the next start)."""
        rate = _play_rate(speed)
        if self._playing:
            self.seek(self.position())
        self._speed = rate

    def _current_frame(self) -> int:
        return round(self.position() * self.sample_rate)

    def position(self) -> float:
        """The transport position in seconds: what is being heard now while playing.

        Smooth between callback blocks and never moving against the play direction within a
        run (so the picture never steps back); the wall clock stands in without a device.
        """
        if not self._playing:
            return self._frame / self.sample_rate
        seconds = tap_time(self.mix_position(), self.output_latency, self._speed)
        if (seconds - self._last_position) * self._speed < 0:
            seconds = self._last_position
        self._last_position = seconds
        return seconds

    def mix_position(self) -> float:
        """The clock *before* latency compensation (s): the sample being written now.

        ``position()`` is this less ``output_latency * speed`` (:func:`core.tapping.tap_time`);
        on the silent wall clock (no stream, no latency) the two are the same.
        """
        if not self._playing:
            return self._frame / self.sample_rate
        now = self.clock()
        if self._stream is not None and self.available and self.blocks_mixed_since_start():
            elapsed = min(now - self._block_time, self.blocksize / self.sample_rate)
            frame = self._block_frame + self._speed * (elapsed * self.sample_rate)
        else:
            frame = self._wall_frame + self._speed * (now - self._wall_start) * self.sample_rate
        return frame / self.sample_rate  # may dip below 0 in reverse; tap_time clamps

    def blocks_mixed_since_start(self) -> bool:
        """Whether the callback has run since the last start/seek (its clock is valid)."""
        return self._block_time >= self._wall_start

    # --- the audio callback ----------------------------------------------------------------
    def callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's callback: mix ``frames`` samples into ``outdata`` (frames × 2, float32).

        Public so tests can call it with a buffer. No sample memory is allocated here.
        """
        outdata.fill(0.0)
        if not self._playing:
            return
        serial, target = self._seek_request
        if serial != self._seek_done:
            self._seek_done = serial
            self._frame = target
        pos = self._frame
        speed = self._speed
        state = self._audition if self._audition is not None else self._state
        if not isinstance(speed, int):  # fractional rate: muted, the clock still advances
            self._block_frame = pos
            self._block_time = self.clock()
            self._frame = max(pos + frames * speed, 0.0)
            self.blocks_mixed += 1
            return
        done = 0
        while done < frames:
            n = min(frames - done, SCRATCH_FRAMES)
            block_pos = pos + done * speed
            for layer in state.layers:
                self._mix_layer(layer, outdata, done, n, block_pos, speed)
            done += n
        np.clip(outdata, -1.0, 1.0, out=outdata)
        self._block_frame = pos
        self._block_time = self.clock()
        self._frame = max(pos + frames * speed, 0)
        self.blocks_mixed += 1

    def _mix_layer(self, layer: MixLayer, outdata: np.ndarray, at: int, n: int, pos: int, speed: int) -> None:
        buffer = layer.audio
        k0, count, first = _segment(len(buffer), pos - layer.start_frame, n, speed)
        if count == 0:
            return
        source = buffer[first::speed][:count]
        scratch = self._scratch[:count]
        left = outdata[at + k0 : at + k0 + count, 0]
        right = outdata[at + k0 : at + k0 + count, 1]
        np.multiply(source, layer.gain_left, out=scratch)
        np.add(left, scratch, out=left)
        np.multiply(source, layer.gain_right, out=scratch)
        np.add(right, scratch, out=right)

    # --- teardown ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop and release the output stream."""
        self._playing = False
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:  # closing a stream whose device vanished: nothing left to free
                pass
            self._stream = None
