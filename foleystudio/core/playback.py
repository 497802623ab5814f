"""Audio playback: a sounddevice callback stream mixing the project's tracks (docs/architecture.md §9).

The tracks are *streamed*: a reader thread fills a preallocated ring per track from the
clips' playback files (``core/playback_stream.py``), ahead of the play position in the play
direction, and the callback mixes from the rings. Memory is the rings (two sets of
:data:`RING_FRAMES` samples per track: about 1 MB per track at 48 kHz) and the layout,
whatever the project's length. Track gain, pan, mute and solo are applied in the callback
from a small immutable :class:`MixState`, so a fader move never touches the rings; an edit
that changes clips builds a new :class:`StreamLayout` off the audio thread and swaps it in
with the mix, and the reader refills from the play position.

**Cues.** Every start, seek, speed change or new layout publishes a frozen :class:`_Cue`
(serial, frame, speed, layout) by one reference assignment. The callback adopts the newest
cue at the start of a block; the reader fills a ring *for a cue*. There are two rings: while
the callback plays one, the reader prepares the other for a new cue, so a seek costs no
gap when the reader gets there before the callback's next block. A ring's window
``(serial, lo, hi)`` (published after its samples are written) says which timeline frames
it holds; the reader never overwrites frames the callback may still read (those at or past
the callback's position in the play direction), and a ring is reused for another cue only
once the callback has left it. Python's GIL orders these plain reads and writes, so no lock
is taken in the callback. A block whose frames are not in the ring yet plays silence there
and counts in :attr:`PlaybackEngine.underruns`, or in :attr:`PlaybackEngine.cue_gaps`
when nothing was read for its cue yet (a seek just before the block): then the callback's
clock does not advance, so playback starts at the target a block later rather than
skipping it.

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
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from foleystudio.core.audio import db_to_gain, pan_gains, resample
from foleystudio.core.playback_stream import SAMPLE_DTYPE, StreamLayout, array_layout, fill_track
from foleystudio.core.project import Track
from foleystudio.core.tapping import tap_time

#: Largest block the callback mixes at once; bigger PortAudio blocks are done in pieces.
SCRATCH_FRAMES = 8192
#: Samples per track in one ring (2.7 s at 48 kHz): the reader stays up to this far ahead.
RING_FRAMES = 1 << 17
#: Samples per track the reader fills at a time (~85 ms at 48 kHz); the first fill for a
#: new cue is :data:`FIRST_CHUNK_FRAMES`, so a seek is audible sooner.
CHUNK_FRAMES = 4096
FIRST_CHUNK_FRAMES = 1024
#: How long the reader waits when its ring is full or nothing plays (s).
READER_IDLE_S = 0.005


@dataclass(frozen=True)
class MixLayer:
    """One audible track in the mix: its ring row in the layout and its left/right gains."""

    key: str
    row: int
    gain_left: float
    gain_right: float


@dataclass(frozen=True)
class MixState:
    """What the callback mixes; replaced whole, never mutated (the swap is atomic)."""

    layout: StreamLayout = StreamLayout()
    layers: tuple[MixLayer, ...] = ()

    @property
    def length_frames(self) -> int:
        return self.layout.length


def mix_state(layout: StreamLayout, tracks: Sequence[Track], audible: Sequence[Track]) -> MixState:
    """The mix of ``layout``'s tracks (keyed by track id) for the tracks that play.

    ``audible`` is the project's rule for mute/solo (:meth:`Project.audible_tracks`); each
    track's gain (dB) and pan become the layer's left/right gains.
    """
    audible_ids = {t.id for t in audible}
    layers = []
    for track in tracks:
        row = layout.row(track.id)
        if row is None or track.id not in audible_ids:
            continue
        gain = db_to_gain(track.gain_db)
        left, right = pan_gains(track.pan)
        layers.append(MixLayer(track.id, row, float(gain * left), float(gain * right)))
    return MixState(layout, tuple(layers))


@dataclass(frozen=True)
class _Cue:
    """Where and how to play: published by the transport, adopted by the callback."""

    serial: int
    frame: int
    speed: int | float
    layout: StreamLayout


class _Ring:
    """Per-track ring buffers (rows × :data:`RING_FRAMES`) for one cue.

    Frame ``f`` of the timeline lives in slot ``f % capacity``; ``window`` = (cue serial,
    lo, hi): frames ``lo … hi - 1`` are written. Written by the reader thread only.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.layout: StreamLayout | None = None
        self.data = np.zeros((0, capacity), SAMPLE_DTYPE)
        self.window: tuple[int, int, int] = (-1, 0, 0)


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
    """The transport, its output stream and the reader thread that streams the tracks.

    ``start``/``stop``/``seek`` drive the transport; ``set_state`` swaps the mix (and, with
    a new layout, what is streamed); ``audition`` plays one candidate buffer (placed at its
    start time) instead of the tracks. ``reader_thread=False`` leaves the reader to
    :meth:`fill_ahead` calls (tests, to be deterministic).
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        blocksize: int = 512,
        device: int | str | None = None,
        open_device: bool = True,
        clock: Callable[[], float] = time.monotonic,
        reader_thread: bool = True,
        ring_frames: int = RING_FRAMES,
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
        self._state = MixState(StreamLayout(sample_rate=self.sample_rate))
        self._audition: MixState | None = None
        self._playing = False
        self._speed: int | float = 1  # the transport's rate (the clock extrapolates with it)
        self._cue = _Cue(0, 0, 1, self._state.layout)
        # The callback's own copy of the cue it plays (serial, next frame, rate).
        self._serial = 0
        self._frame: int | float = 0  # next frame the callback reads (fractional at ½×, ¼×)
        self._run_speed: int | float = 1
        self._block_frame = 0
        self._block_time = 0.0
        self._latency = 0.0
        self._wall_start = 0.0
        self._wall_frame = 0
        self._last_position = 0.0
        self.blocks_mixed = 0
        #: Blocks in which the reader, streaming the current cue, had not delivered frames
        #: to play yet (they play as silence): it fell behind.
        self.underruns = 0
        #: Blocks played before anything was read for a new cue (a seek, start or layout the
        #: callback adopted before the reader's first chunk for it): silence, not counted
        #: as underruns.
        self.cue_gaps = 0
        self._waiting = False  # this block waited for the reader's first chunk of a cue
        self._rings = (_Ring(ring_frames), _Ring(ring_frames))
        self._read_scratch = np.zeros(CHUNK_FRAMES, SAMPLE_DTYPE)
        self._wake = threading.Event()
        self._stop_reader = False
        self._reader: threading.Thread | None = None
        if reader_thread:
            self._reader = threading.Thread(target=self._read_loop, name="playback-reader", daemon=True)
            self._reader.start()
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
        """Swap the track mix; the callback uses it from its next block. A new layout is
        streamed from the current position (the reader refills)."""
        new_layout = state.layout is not self._state.layout
        self._state = state
        if new_layout and self._audition is None:
            self._recue(self._current_frame(), self._speed)

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
        placed = array_layout({"audition": mono}, self.sample_rate, start=first)
        self._audition = MixState(placed, (MixLayer("audition", 0, 1.0, 1.0),))
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

    def _recue(self, frame: int, speed: int | float) -> None:
        """Publish a new cue; while stopped the callback is idle, so it is adopted at once."""
        layout = (self._audition or self._state).layout
        self._cue = _Cue(self._cue.serial + 1, frame, speed, layout)
        if not self._playing:
            self._serial, self._frame, self._run_speed = self._cue.serial, frame, speed
        self._wake.set()

    def start(self, position: float | None = None, speed: float = 1) -> None:
        """Play from ``position`` seconds (default: where the transport is) at ``speed``."""
        rate = _play_rate(speed)
        frame = self._current_frame() if position is None else max(round(position * self.sample_rate), 0)
        cue = self._cue
        layout = (self._audition or self._state).layout
        # Starting where the stopped transport was cued keeps what the reader has read.
        if self._playing or cue.frame != frame or cue.speed != rate or cue.layout is not layout:
            self._recue(frame, rate)
        self._speed = rate
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
        self._last_position = here / self.sample_rate
        self._audition = None
        self._recue(here, self._speed)  # the reader reads ahead of the next start

    def seek(self, seconds: float) -> None:
        """Move the transport to ``seconds`` (playing or not)."""
        self._move(max(round(seconds * self.sample_rate), 0), self._speed)

    def set_speed(self, speed: float) -> None:
        """Change the play rate while playing (or before the next start)."""
        rate = _play_rate(speed)
        if self._playing:
            self._move(self._current_frame(), rate)
        self._speed = rate

    def _move(self, frame: int, speed: int | float) -> None:
        if self._playing:
            self._wall_start = self.clock()
            self._wall_frame = frame
            self._block_frame = frame
            self._block_time = self.clock()
        self._recue(frame, speed)
        self._last_position = frame / self.sample_rate

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

        Public so tests and the benchmark can call it with a buffer. No sample memory is
        allocated here, no lock is taken and no file is read: it only mixes from the rings.
        """
        outdata.fill(0.0)
        if not self._playing:
            return
        cue = self._cue
        if cue.serial != self._serial:  # a seek, speed change or new layout
            self._serial, self._frame, self._run_speed = cue.serial, cue.frame, cue.speed
        pos = self._frame
        speed = self._run_speed
        if not isinstance(speed, int):  # fractional rate: muted, the clock still advances
            self._block_frame = pos
            self._block_time = self.clock()
            self._frame = max(pos + frames * speed, 0.0)
            self.blocks_mixed += 1
            return
        state = self._audition if self._audition is not None else self._state
        ring = None
        for candidate in self._rings:
            if candidate.window[0] == self._serial and candidate.layout is state.layout:
                ring = candidate
        self._waiting = False
        done = 0
        while done < frames:
            n = min(frames - done, SCRATCH_FRAMES)
            self._mix_block(ring, state, outdata, done, n, pos + done * speed, speed)
            done += n
        np.clip(outdata, -1.0, 1.0, out=outdata)
        self._block_frame = pos
        self._block_time = self.clock()
        if not self._waiting:
            self._frame = max(pos + frames * speed, 0)
        # else: nothing read for this cue yet; the clock (and the picture) waits for it, so
        # playback after a seek starts at the target instead of skipping its first blocks.
        self.blocks_mixed += 1

    def _mix_block(
        self, ring: _Ring | None, state: MixState, outdata: np.ndarray, at: int, n: int, pos: int, speed: int
    ) -> None:
        """Mix output samples ``at … at + n`` (reading frames ``pos + k * speed``) from ``ring``."""
        length = state.layout.length
        needed = _segment(length, pos, n, speed)[1]
        if needed == 0 or not state.layers:
            return
        count = 0
        started = False
        if ring is not None:
            _, lo, hi = ring.window  # one read: the reader publishes a new tuple
            started = hi > lo
            lo, hi = max(lo, 0), min(hi, length)
            if hi > lo:
                k0, count, first = _segment(hi - lo, pos - lo, n, speed)
        if count < needed:
            # Nothing read for this cue yet (a seek this block) or the reader fell behind.
            if started:
                self.underruns += 1
            else:
                self.cue_gaps += 1
                self._waiting = True
        if count == 0 or ring is None:
            return
        first += lo
        capacity = ring.capacity
        slot = first % capacity
        # Output samples before the ring wraps, and the slot reading resumes at after it.
        if speed > 0:
            room = (capacity - slot + speed - 1) // speed
            wrapped = slot + room * speed - capacity
        else:
            room = slot // -speed + 1
            wrapped = slot + room * speed + capacity
        n1 = min(count, room)
        data = ring.data
        for layer in state.layers:
            row = data[layer.row]
            self._add(row[slot::speed], layer, outdata, at + k0, n1)
            if count > n1:
                self._add(row[wrapped::speed], layer, outdata, at + k0 + n1, count - n1)

    def _add(self, source: np.ndarray, layer: MixLayer, outdata: np.ndarray, at: int, count: int) -> None:
        source = source[:count]
        scratch = self._scratch[:count]
        left = outdata[at : at + count, 0]
        right = outdata[at : at + count, 1]
        np.multiply(source, layer.gain_left, out=scratch)
        np.add(left, scratch, out=left)
        np.multiply(source, layer.gain_right, out=scratch)
        np.add(right, scratch, out=right)

    # --- the reader ------------------------------------------------------------------------
    def _read_loop(self) -> None:
        while not self._stop_reader:
            if not self.fill_step():
                self._wake.wait(READER_IDLE_S)
                self._wake.clear()

    def fill_ahead(self) -> None:
        """Run the reader until its ring for the current cue is full (tests, benchmarks)."""
        while self.fill_step():
            pass

    def fill_step(self) -> bool:
        """One piece of the reader's work; False when there is nothing to do now.

        Prepares a ring for a new cue (the one the callback is not playing), or reads the
        next chunk ahead of the callback in the cue's direction into the cue's ring.
        """
        cue = self._cue
        if not isinstance(cue.speed, int) or cue.layout.length == 0:
            return False  # muted rates and empty projects read nothing
        ring = next((r for r in self._rings if r.window[0] == cue.serial), None)
        if ring is None:
            return self._prepare(cue)
        if ring.layout is not cue.layout:
            return False
        # The callback reads from its position on in the play direction; before adopting
        # this cue it will start at the cue's frame.
        position = int(self._frame) if self._serial == cue.serial else cue.frame
        if self._read_chunk(ring, cue, position):
            return True
        return self._ready_spare(cue)

    def _ready_spare(self, cue: _Cue) -> bool:
        """With the cue's ring full, give the other ring the layout's rows now (allocated
        and touched), so preparing the next seek does not pay for 1 MB a track then."""
        spare = next(r for r in self._rings if r.window[0] != cue.serial)
        rows = len(cue.layout.tracks)
        if spare.data.shape[0] == rows or self._serial == spare.window[0]:
            return False
        saved = spare.window
        spare.window = (-1, 0, 0)
        if self._serial == saved[0]:
            spare.window = saved
            return False
        spare.data = np.zeros((rows, spare.capacity), SAMPLE_DTYPE)
        spare.data.fill(0.0)  # fault the pages in here, not during a seek
        return True

    def _prepare(self, cue: _Cue) -> bool:
        playing_serial = self._serial
        ring = next(r for r in self._rings if r.window[0] != playing_serial)
        saved = ring.window
        ring.window = (-1, 0, 0)  # retired: the callback will not start reading it
        if self._serial == saved[0]:
            # The callback adopted this ring's cue meanwhile and may be mid-block on it.
            ring.window = saved
            return False
        rows = len(cue.layout.tracks)
        if ring.data.shape[0] != rows:
            ring.data = np.zeros((rows, ring.capacity), SAMPLE_DTYPE)
            ring.data.fill(0.0)  # fault the pages in now, not chunk by chunk
        ring.layout = cue.layout
        start = min(cue.frame, cue.layout.length)
        if cue.speed < 0:
            start = min(cue.frame + 1, cue.layout.length)
        ring.window = (cue.serial, start, start)
        self._read_chunk(ring, cue, cue.frame, FIRST_CHUNK_FRAMES)
        return True

    def _read_chunk(self, ring: _Ring, cue: _Cue, position: int, size: int = CHUNK_FRAMES) -> bool:
        serial, lo, hi = ring.window
        capacity, length = ring.capacity, cue.layout.length
        if cue.speed > 0:
            # Frames ≥ position may still be read: a write must not wrap onto them.
            count = min(size, length - hi, position + capacity - hi)
            first = hi
        else:
            count = min(size, lo, lo - (position + 1 - capacity))
            first = lo - count
        if count <= 0:
            return False
        slot = first % capacity
        head = min(count, capacity - slot)
        for row, track in enumerate(cue.layout.tracks):
            fill_track(track, ring.data[row, slot : slot + head], first, self._read_scratch)
            if count > head:
                fill_track(track, ring.data[row, : count - head], first + head, self._read_scratch)
            time.sleep(0)  # let the callback's thread take the GIL between tracks
        if cue.speed > 0:
            ring.window = (serial, max(lo, first + count - capacity), first + count)
        else:
            ring.window = (serial, first, min(hi, first + capacity))
        return True

    # --- teardown ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop and release the output stream and the reader thread."""
        self._playing = False
        self._stop_reader = True
        self._wake.set()
        if self._reader is not None:
            self._reader.join(timeout=5.0)
            self._reader = None
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:  # closing a stream whose device vanished: nothing left to free
                pass
            self._stream = None
