"""Real, small media files for the sandbox's job outputs.

Everything here is generated locally and deterministically from a few parameters:

* :func:`png` - a pure-Python PNG (zlib + struct), no extra dependency;
* :func:`mp4` - an H.264/yuv420p MP4 with a moving pattern, optionally with an AAC tone;
* :func:`mp3` - an MP3 chime whose pitch derives from a seed (a stand-in for narration);
* :func:`compose` - an MP4 whose soundtrack is replaced by, or mixed with, another audio file;
* :func:`probe` - what a media file holds (format, duration, codecs);
* :class:`MediaLibrary` - a thread-safe on-disk cache of the above.

MP4/MP3 rendering needs PyAV (``pip install 'creativeai-connector[sandbox]'``), which bundles
FFmpeg with libx264, aac and libmp3lame. PyAV is imported lazily, so :func:`png` and the rest
of the sandbox work without it; the functions that need it raise :class:`MediaUnavailable`.
"""

from __future__ import annotations

import colorsys
import hashlib
import importlib
import json
import math
import os
import re
import struct
import sys
import threading
import uuid
import zlib
from array import array
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "AUDIO_SAMPLE_RATE",
    "MediaLibrary",
    "MediaUnavailable",
    "compose",
    "mp3",
    "mp4",
    "png",
    "probe",
]

#: Sample rate of the AAC tracks written by :func:`mp4` and :func:`compose`.
AUDIO_SAMPLE_RATE = 44100

_INSTALL_HINT = (
    "the sandbox needs PyAV to render MP4/MP3: pip install 'creativeai-connector[sandbox]'"
)

#: Video codecs that can be copied into an MP4 as they are; anything else is re-encoded.
_MP4_COPYABLE_VIDEO = frozenset({"h264", "hevc", "av1", "mpeg4", "vp9"})

_MAX_PIXELS = 4096 * 4096
_MAX_SECONDS = 600.0


class MediaUnavailable(RuntimeError):
    """Raised when rendering needs PyAV and it is not installed."""


def _av() -> ModuleType:
    try:
        return importlib.import_module("av")
    except ImportError as exc:
        raise MediaUnavailable(_INSTALL_HINT) from exc


def av_available() -> bool:
    """True when PyAV can be imported (MP4/MP3 rendering works)."""
    try:
        _av()
    except MediaUnavailable:
        return False
    return True


# --------------------------------------------------------------------------- helpers


def _digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode("utf-8")).digest()


def _seed_rgb(seed: str, saturation: float = 0.6, value: float = 0.85) -> tuple[int, int, int]:
    hue = int.from_bytes(_digest(seed)[:2], "big") / 65536.0
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def _seed_frequency(seed: str, low: float = 220.0, octaves: float = 2.0) -> float:
    """A pitch between ``low`` and ``low * 2**octaves`` Hz, snapped to a semitone."""
    semitones = int.from_bytes(_digest(seed)[2:4], "big") % int(12 * octaves + 1)
    return float(low * 2.0 ** (semitones / 12.0))


def _check_size(width: int, height: int, *, even: bool = False) -> None:
    if width <= 0 or height <= 0 or width * height > _MAX_PIXELS:
        raise ValueError(f"invalid size {width}x{height}")
    if even and (width % 2 or height % 2):
        raise ValueError(f"H.264 yuv420p needs even dimensions, got {width}x{height}")


def _check_seconds(seconds: float) -> None:
    if not (0.0 < seconds <= _MAX_SECONDS) or math.isnan(seconds):
        raise ValueError(f"invalid duration {seconds!r}s (0 < seconds <= {_MAX_SECONDS})")


def _clamp8(value: float) -> int:
    return 0 if value < 0 else 255 if value > 255 else int(value)


def _rgb_to_yuv(r: int, g: int, b: int) -> tuple[int, int, int]:
    """BT.601 limited range."""
    y = 16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256
    u = 128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256
    v = 128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256
    return _clamp8(round(y)), _clamp8(round(u)), _clamp8(round(v))


# --------------------------------------------------------------------------- PNG


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _rounded_rect_span(
    y: float, top: float, bottom: float, left: float, right: float, radius: float
) -> tuple[float, float] | None:
    """Horizontal extent of a rounded rectangle at row centre ``y``, or None outside it."""
    if y < top or y >= bottom:
        return None
    if y < top + radius:
        dy = top + radius - y
    elif y > bottom - radius:
        dy = y - (bottom - radius)
    else:
        return left, right
    inset = radius - math.sqrt(max(radius * radius - dy * dy, 0.0))
    return left + inset, right - inset


def png(width: int = 256, height: int = 256, *, seed: str = "", transparent: bool = False) -> bytes:
    """A deterministic PNG: a soft gradient backdrop with a centred "product" shape.

    The product (a rounded box with a lighter label band and a side highlight) takes its
    colour from ``seed``. With ``transparent`` the image is RGBA and everything but the
    product has alpha 0 (a cut-out, as a background-removal job would return).
    """
    _check_size(width, height)
    channels = 4 if transparent else 3
    product = _seed_rgb(seed)
    label = tuple(_clamp8(c + (255 - c) * 0.55) for c in product)
    # A pale backdrop tinted towards the product's hue.
    top_rgb = tuple(_clamp8(246 - (255 - c) * 0.06) for c in product)
    bottom_rgb = tuple(_clamp8(c * 0.18 + 190) for c in product)

    box_w = max(width * 0.42, 1.0)
    box_h = max(height * 0.62, 1.0)
    left = (width - box_w) / 2
    right = left + box_w
    top = (height - box_h) / 2
    bottom = top + box_h
    radius = min(box_w, box_h) * 0.18
    label_top = top + box_h * 0.38
    label_bottom = top + box_h * 0.62
    shadow_cy = min(bottom + height * 0.04, height - 1.0)
    shadow_rx = box_w * 0.62
    shadow_ry = max(height * 0.035, 1.0)

    # Side shading of the product, per column: a highlight left of centre, darker edges.
    shade: list[float] = []
    for x in range(width):
        u = (x + 0.5 - left) / box_w  # 0..1 across the product
        shade.append(0.78 + 0.32 * math.exp(-(((u - 0.33) / 0.22) ** 2)) - 0.12 * abs(u - 0.5))

    def product_row(colour: tuple[int, ...], x0: int, x1: int) -> bytes:
        out = bytearray()
        for x in range(x0, x1):
            k = shade[x]
            out += bytes(_clamp8(c * k) for c in colour)
            if transparent:
                out.append(255)
        return bytes(out)

    body_cache: dict[tuple[int, int, bool], bytes] = {}
    raw = bytearray()
    for y in range(height):
        t = y / max(height - 1, 1)
        if transparent:
            row = bytearray(width * 4)  # fully transparent black
        else:
            bg = bytes(_clamp8(a + (b - a) * t) for a, b in zip(top_rgb, bottom_rgb, strict=True))
            row = bytearray(bg * width)
            dy = (y + 0.5 - shadow_cy) / shadow_ry
            if abs(dy) < 1.0:  # soft elliptical shadow under the product
                half = shadow_rx * math.sqrt(1.0 - dy * dy)
                x0 = max(int(width / 2 - half), 0)
                x1 = min(math.ceil(width / 2 + half), width)
                for x in range(x0, x1):
                    dx = (x + 0.5 - width / 2) / shadow_rx
                    k = 1.0 - 0.22 * max(0.0, 1.0 - dx * dx - dy * dy)
                    for c in range(3):
                        row[x * 3 + c] = _clamp8(bg[c] * k)
        span = _rounded_rect_span(y + 0.5, top, bottom, left, right, radius)
        if span is not None:
            x0 = max(round(span[0]), 0)
            x1 = min(round(span[1]), width)
            if x1 > x0:
                in_label = label_top <= y + 0.5 < label_bottom
                key = (x0, x1, in_label)
                if key not in body_cache:
                    body_cache[key] = product_row(label if in_label else product, x0, x1)
                row[x0 * channels : x1 * channels] = body_cache[key]
        raw.append(0)  # filter type: None
        raw += row

    header = struct.pack(">IIBBBBB", width, height, 8, 6 if transparent else 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(bytes(raw), 9)),
            _png_chunk(b"IEND", b""),
        )
    )


# --------------------------------------------------------------------------- audio synthesis


def _tone_samples(seconds: float, sample_rate: int, seed: str, *, chime: bool) -> array[int]:
    """Mono signed 16-bit samples: a seeded tone (``chime`` = struck notes that decay)."""
    n = max(round(seconds * sample_rate), 1)
    base = _seed_frequency(seed)
    # A short phrase of notes derived from the seed, like the cadence of a voice.
    steps = [0, 4, 7, 12, 7, 4, 2, 5]
    d = _digest(seed + "#phrase")
    notes = [base * 2.0 ** (steps[d[i] % len(steps)] / 12.0) for i in range(8)]
    beat = 0.5 if chime else seconds
    out = array("h", bytes(2 * n))
    two_pi = 2.0 * math.pi
    for i in range(n):
        t = i / sample_rate
        beat_index = int(t / beat)
        tb = t - beat_index * beat
        freq = notes[beat_index % len(notes)] if chime else base
        env = min(tb / 0.01, 1.0) * math.exp(-tb * 5.0) if chime else 0.6
        s = math.sin(two_pi * freq * tb) + 0.3 * math.sin(two_pi * 2.0 * freq * tb)
        # 20 ms fades at both ends avoid clicks.
        fade = min(1.0, t / 0.02, (seconds - t) / 0.02)
        out[i] = int(max(-1.0, min(1.0, 0.55 * env * fade * s / 1.3)) * 32767)
    return out


def _s16_to_bytes(samples: array[int]) -> bytes:
    if sys.byteorder != "little":  # pragma: no cover
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def _audio_frames(samples: array[int], sample_rate: int, chunk: int = 1024) -> Iterator[Any]:
    """Mono s16 ``av.AudioFrame`` objects covering ``samples``, with pts in samples."""
    av = _av()
    for start in range(0, len(samples), chunk):
        part = samples[start : start + chunk]
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(part))
        frame.planes[0].update(_s16_to_bytes(part))
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        yield frame


def _encode_audio(stream: Any, samples: array[int], sample_rate: int) -> list[Any]:
    packets: list[Any] = []
    for frame in _audio_frames(samples, sample_rate):
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets


def _decode_mono(path: Path, sample_rate: int) -> array[int]:
    """All audio of ``path``'s first audio stream as mono s16 at ``sample_rate``."""
    av = _av()
    out = array("h")
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return out
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        for frame in container.decode(stream):
            for converted in resampler.resample(frame):
                out.frombytes(bytes(converted.planes[0])[: converted.samples * 2])
        for converted in resampler.resample(None):
            out.frombytes(bytes(converted.planes[0])[: converted.samples * 2])
    if sys.byteorder != "little":  # pragma: no cover
        out.byteswap()
    return out


# --------------------------------------------------------------------------- MP4


def _video_frames(
    count: int, width: int, height: int, fps: int, seed: str
) -> Iterator[tuple[bytes, bytes, bytes]]:
    """Y, U, V planes (tightly packed) of a moving pattern.

    Diagonal luma bands scroll across a backdrop tinted by the seed's colour, a white box
    bounces left and right, and a bar at the bottom fills up as the clip plays.
    """
    period = 64
    d = _digest(seed)
    speed = 2 + d[4] % 4
    band = bytes(_clamp8(92 + 38 * math.sin(2 * math.pi * i / period)) for i in range(period))
    luma_strip = band * (width // period + 2)
    _, u_bg, v_bg = _rgb_to_yuv(*_seed_rgb(seed, 0.7, 0.8))
    box = max(min(width, height) // 4 & ~1, 2)
    box_y = (height - box) // 2 & ~1
    bar_h = max(height // 30 & ~1, 2)
    cw, ch = width // 2, height // 2
    u_plane = bytes([u_bg]) * (cw * ch)
    v_plane = bytes([v_bg]) * (cw * ch)
    white = b"\xeb" * box
    for index in range(count):
        phase = index / max(fps, 1)
        shift = index * speed
        rows = [
            luma_strip[(y + shift) % period : (y + shift) % period + width] for y in range(height)
        ]
        box_x = int((width - box) * (0.5 + 0.5 * math.sin(2 * math.pi * phase / 2.0))) & ~1
        for y in range(box_y, box_y + box):
            r = rows[y]
            rows[y] = r[:box_x] + white + r[box_x + box :]
        filled = round(width * (index + 1) / count)
        for y in range(height - bar_h, height):
            rows[y] = b"\xd2" * filled + b"\x20" * (width - filled)
        yield b"".join(rows), u_plane, v_plane


def _fill_plane(plane: Any, data: bytes, width: int, height: int) -> None:
    stride = plane.line_size
    if stride != width:
        pad = bytes(stride - width)
        data = b"".join(data[y * width : (y + 1) * width] + pad for y in range(height))
    plane.update(data)


def _open_mp4_for_writing(path: Path) -> Any:
    av = _av()
    # faststart: the index goes first so a browser can play while downloading.
    return av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})


def _add_h264_stream(container: Any, width: int, height: int, fps: int | Fraction) -> Any:
    stream = container.add_stream(
        "libx264", rate=fps, options={"preset": "ultrafast", "crf": "30", "threads": "1"}
    )
    stream.width = width
    stream.height = height
    stream.pix_fmt = "yuv420p"
    stream.codec_context.thread_count = 1  # one thread: byte-identical output every run
    return stream


def _add_aac_stream(container: Any, sample_rate: int) -> Any:
    stream = container.add_stream("aac", rate=sample_rate)
    stream.layout = "mono"
    stream.bit_rate = 64000
    return stream


def _mux_interleaved(container: Any, video: Iterator[Any], audio: list[Any]) -> None:
    """Mux video packets with the (already encoded) audio packets ordered by time."""
    pending = sorted(
        (p for p in audio if p.pts is not None), key=lambda p: float(p.pts * p.time_base)
    )
    i = 0
    for packet in video:
        if packet.dts is not None and packet.time_base is not None:
            now = float(packet.dts * packet.time_base)
            while i < len(pending) and float(pending[i].pts * pending[i].time_base) <= now:
                container.mux(pending[i])
                i += 1
        container.mux(packet)
    for packet in pending[i:]:
        container.mux(packet)


def mp4(
    path: str | os.PathLike[str],
    *,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 180,
    fps: int = 12,
    seed: str = "",
    with_audio: bool = False,
) -> Path:
    """Write an H.264 (yuv420p, libx264 ultrafast) MP4 with a moving pattern to ``path``.

    With ``with_audio`` an AAC mono tone (pitch from ``seed``) runs for the whole clip.
    The same parameters give the same bytes.
    """
    _check_seconds(seconds)
    _check_size(width, height, even=True)
    if not 1 <= fps <= 120:
        raise ValueError(f"invalid fps {fps!r}")
    av = _av()
    target = Path(path)
    count = max(round(seconds * fps), 1)
    with _open_mp4_for_writing(target) as container:
        vstream = _add_h264_stream(container, width, height, fps)
        astream = _add_aac_stream(container, AUDIO_SAMPLE_RATE) if with_audio else None
        audio_packets: list[Any] = []
        if astream is not None:
            samples = _tone_samples(count / fps, AUDIO_SAMPLE_RATE, seed, chime=False)
            audio_packets = _encode_audio(astream, samples, AUDIO_SAMPLE_RATE)

        def video_packets() -> Iterator[Any]:
            for index, planes in enumerate(_video_frames(count, width, height, fps, seed)):
                frame = av.VideoFrame(width, height, "yuv420p")
                for plane, data, (w, h) in zip(
                    frame.planes,
                    planes,
                    ((width, height), (width // 2, height // 2), (width // 2, height // 2)),
                    strict=True,
                ):
                    _fill_plane(plane, data, w, h)
                frame.pts = index
                frame.time_base = Fraction(1, fps)
                yield from vstream.encode(frame)
            yield from vstream.encode(None)

        _mux_interleaved(container, video_packets(), audio_packets)
    return target


# --------------------------------------------------------------------------- MP3


def mp3(
    path: str | os.PathLike[str],
    *,
    seconds: float = 2.0,
    seed: str = "",
    sample_rate: int = 22050,
) -> Path:
    """Write a mono MP3 (libmp3lame) chime to ``path``; its notes derive from ``seed``.

    A stand-in for synthesised narration: a phrase of decaying notes, one every half second.
    """
    _check_seconds(seconds)
    if sample_rate not in (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000):
        raise ValueError(f"unsupported MP3 sample rate {sample_rate!r}")
    av = _av()
    target = Path(path)
    samples = _tone_samples(seconds, sample_rate, seed, chime=True)
    with av.open(str(target), mode="w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=sample_rate)
        stream.layout = "mono"
        stream.bit_rate = 48000 if sample_rate > 24000 else 32000
        for packet in _encode_audio(stream, samples, sample_rate):
            container.mux(packet)
    return target


# --------------------------------------------------------------------------- compose


def _stream_seconds(stream: Any, container: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def _mix(
    base: array[int], overlay: array[int], length: int, *, base_gain: float = 0.5
) -> array[int]:
    """``overlay`` at full level over ``base`` scaled by ``base_gain``; clipped, ``length`` long."""
    out = array("h", bytes(2 * length))
    nb, no = len(base), len(overlay)
    for i in range(length):
        s = (base[i] * base_gain if i < nb else 0.0) + (overlay[i] if i < no else 0)
        out[i] = -32768 if s < -32768 else 32767 if s > 32767 else int(s)
    return out


def _fit(samples: array[int], length: int) -> array[int]:
    """Trim or zero-pad ``samples`` to ``length``."""
    if len(samples) >= length:
        return samples[:length]
    return samples + array("h", bytes(2 * (length - len(samples))))


def compose(
    video_path: str | os.PathLike[str],
    audio_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    replace_audio: bool,
) -> Path:
    """Put ``audio_path``'s sound on ``video_path``'s picture and write an MP4 to ``out_path``.

    The video stream is copied as it is when MP4 can hold it (else re-encoded to H.264).
    The output has one AAC track: with ``replace_audio`` only the new audio; without it the new
    audio mixed over the video's own track (which is lowered to half level), or just the new
    audio when the video has none. The new audio is trimmed or padded with silence to the
    video's duration.
    """
    av = _av()
    video_path, audio_path, target = Path(video_path), Path(audio_path), Path(out_path)
    rate = AUDIO_SAMPLE_RATE
    new_audio = _decode_mono(audio_path, rate)
    if not new_audio:
        raise ValueError(f"{audio_path} has no audio")
    with av.open(str(video_path)) as source:
        if not source.streams.video:
            raise ValueError(f"{video_path} has no video stream")
        vin = source.streams.video[0]
        has_audio = bool(source.streams.audio)
        duration = _stream_seconds(vin, source)
        copy = vin.codec_context.name in _MP4_COPYABLE_VIDEO
        if duration is None or duration <= 0:
            duration = len(new_audio) / rate
        length = max(round(duration * rate), 1)
        if replace_audio or not has_audio:
            track = _fit(new_audio, length)
        else:
            track = _mix(_decode_mono(video_path, rate), new_audio, length)

        with _open_mp4_for_writing(target) as container:
            if copy:
                vout = container.add_stream_from_template(vin)
            else:
                fps = vin.average_rate or vin.guessed_rate or Fraction(25)
                width = max((vin.codec_context.width or 2) & ~1, 2)
                height = max((vin.codec_context.height or 2) & ~1, 2)
                vout = _add_h264_stream(container, width, height, fps)
            aout = _add_aac_stream(container, rate)
            audio_packets = _encode_audio(aout, track, rate)

            def copied() -> Iterator[Any]:
                for packet in source.demux(vin):
                    if packet.dts is None:  # the demuxer's flush packet
                        continue
                    packet.stream = vout
                    yield packet

            def reencoded() -> Iterator[Any]:
                for frame in source.decode(vin):
                    yuv = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
                    yuv.pts = frame.pts
                    yuv.time_base = frame.time_base
                    yield from vout.encode(yuv)
                yield from vout.encode(None)

            _mux_interleaved(container, copied() if copy else reencoded(), audio_packets)
    return target


# --------------------------------------------------------------------------- probe


def probe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What ``path`` holds.

    Returns ``{"format", "duration", "video", "audio"}``: ``format`` is the container's
    short name (``"mp4"``, ``"mp3"``, ...), ``duration`` seconds (float, or None when
    unknown), ``video`` ``{"codec", "width", "height"}`` or None, ``audio``
    ``{"codec", "sample_rate"}`` or None (first stream of each kind).
    """
    av = _av()
    p = Path(path)
    with av.open(str(p)) as container:
        names = container.format.name.split(",")
        suffix = p.suffix.lower().lstrip(".")
        fmt = suffix if suffix in names else names[0]
        duration = float(container.duration) / 1_000_000 if container.duration is not None else None
        video: dict[str, Any] | None = None
        if container.streams.video:
            vs = container.streams.video[0]
            video = {
                "codec": vs.codec_context.codec.canonical_name,
                "width": vs.codec_context.width,
                "height": vs.codec_context.height,
            }
        audio: dict[str, Any] | None = None
        if container.streams.audio:
            aus = container.streams.audio[0]
            audio = {
                "codec": aus.codec_context.codec.canonical_name,
                "sample_rate": aus.codec_context.sample_rate,
            }
    return {"format": fmt, "duration": duration, "video": video, "audio": audio}


# --------------------------------------------------------------------------- cache


_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def _slug(key: str) -> str:
    return _SLUG.sub("-", key).strip("-")[:40] or "media"


def _fingerprint(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class MediaLibrary:
    """An on-disk cache of generated media under ``root``.

    Each method returns the path of a file made from ``key`` and its parameters, rendering it
    on first use. ``key`` also seeds the picture/pitch unless ``seed`` is given. Files are
    written to a temporary name and moved into place with :func:`os.replace`, and a per-file
    lock keeps two threads from rendering the same file, so concurrent callers are safe.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock_for(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def _produce(
        self,
        kind: str,
        key: str,
        suffix: str,
        payload: dict[str, Any],
        render: Callable[[Path], Any],
    ) -> Path:
        name = f"{kind}-{_slug(key)}-{_fingerprint({'kind': kind, 'key': key, **payload})}{suffix}"
        target = self.root / name
        if target.exists():
            return target
        with self._lock_for(name):
            if target.exists():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f".{name}.{uuid.uuid4().hex}.tmp{suffix}"
            try:
                render(tmp)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        return target

    def video(self, key: str, **params: Any) -> Path:
        """An MP4 from :func:`mp4` (``seconds``, ``width``, ``height``, ``fps``, ``with_audio``)."""
        _av()
        params.setdefault("seed", key)
        return self._produce("video", key, ".mp4", params, lambda p: mp4(p, **params))

    def audio(self, key: str, **params: Any) -> Path:
        """An MP3 from :func:`mp3` (``seconds``, ``sample_rate``)."""
        _av()
        params.setdefault("seed", key)
        return self._produce("audio", key, ".mp3", params, lambda p: mp3(p, **params))

    def image(self, key: str, **params: Any) -> Path:
        """A PNG from :func:`png` (``width``, ``height``, ``transparent``); no PyAV needed."""
        params.setdefault("seed", key)
        return self._produce("image", key, ".png", params, lambda p: p.write_bytes(png(**params)))

    def composed(
        self,
        key: str,
        video_path: str | os.PathLike[str],
        audio_path: str | os.PathLike[str],
        replace_audio: bool,
    ) -> Path:
        """An MP4 from :func:`compose`; a changed input file gives a new output."""
        _av()
        inputs = []
        for source in (Path(video_path), Path(audio_path)):
            st = source.stat()  # also: a missing input fails here, clearly
            inputs.append([str(source.resolve()), st.st_size, st.st_mtime_ns])
        payload = {"inputs": inputs, "replace_audio": bool(replace_audio)}
        return self._produce(
            "composed",
            key,
            ".mp4",
            payload,
            lambda p: compose(video_path, audio_path, p, replace_audio=replace_audio),
        )
