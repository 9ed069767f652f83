"""The sandbox's generated media are real files: decode them and check what is inside."""

from __future__ import annotations

import math
import struct
import sys
import threading
import zlib
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from connector.sandbox import media
from connector.sandbox.media import MediaLibrary, MediaUnavailable

PYAV_REASON = "PyAV is not installed (pip install 'creativeai-connector[sandbox]')"


@pytest.fixture
def av() -> Any:
    return pytest.importorskip("av", reason=PYAV_REASON)


# --------------------------------------------------------------------------- PNG decoding


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, channels, rows) of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, comp, filt, interlace) == (8, 0, 0, 0)
    channels = {2: 3, 6: 4}[colour]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + width * channels
    assert len(raw) == stride * height
    rows = []
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0  # filter "None": rows are the pixels as they are
        rows.append(line[1:])
    return width, height, channels, rows


def pixel(rows: list[bytes], channels: int, x: int, y: int) -> tuple[int, ...]:
    return tuple(rows[y][x * channels : (x + 1) * channels])


def test_png_rgb_structure_and_pixels() -> None:
    width, height, channels, rows = decode_png(media.png(seed="red sneaker"))
    assert (width, height, channels) == (256, 256, 3)
    corner = pixel(rows, 3, 2, 2)
    centre = pixel(rows, 3, 128, 90)  # the product body, above its label band
    assert min(corner) > 200  # a pale backdrop
    assert max(centre) - min(centre) > 60  # a saturated product colour
    # The backdrop is a vertical gradient; the product is centred (symmetric silhouette).
    assert pixel(rows, 3, 2, 2) != pixel(rows, 3, 2, 253)
    background = pixel(rows, 3, 10, 128)
    assert pixel(rows, 3, 245, 128) == background
    assert pixel(rows, 3, 128, 128) != background


def test_png_transparent_is_rgba_with_clear_background() -> None:
    width, height, channels, rows = decode_png(media.png(320, 200, seed="bottle", transparent=True))
    assert (width, height, channels) == (320, 200, 4)
    assert pixel(rows, 4, 0, 0) == (0, 0, 0, 0)
    assert pixel(rows, 4, 319, 199)[3] == 0
    assert pixel(rows, 4, 160, 100)[3] == 255
    alphas = {rows[y][x * 4 + 3] for y in range(height) for x in range(width)}
    assert alphas == {0, 255}
    opaque = sum(1 for y in range(height) for x in range(width) if rows[y][x * 4 + 3])
    assert 0.15 < opaque / (width * height) < 0.4  # the product, about 42% x 62% of the frame


def test_png_is_deterministic_and_seeded() -> None:
    a = media.png(seed="lamp")
    assert a == media.png(seed="lamp")
    b = media.png(seed="chair")
    assert a != b
    _, _, _, rows_a = decode_png(a)
    _, _, _, rows_b = decode_png(b)
    assert pixel(rows_a, 3, 128, 90) != pixel(rows_b, 3, 128, 90)  # the colour follows the seed


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (17, 400)])
def test_png_small_and_odd_sizes(size: tuple[int, int]) -> None:
    assert decode_png(media.png(*size))[:2] == size


@pytest.mark.parametrize("size", [(0, 10), (10, -1), (100_000, 100_000)])
def test_png_rejects_bad_sizes(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        media.png(*size)


# --------------------------------------------------------------------------- helpers (PyAV)


def decode_audio(av: Any, path: Path, rate: int = 44100) -> array[int]:
    """All of the file's audio as mono s16 at ``rate``."""
    out = array("h")
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        for frame in container.decode(audio=0):
            for f in resampler.resample(frame):
                out.frombytes(bytes(f.planes[0])[: f.samples * 2])
        for f in resampler.resample(None):
            out.frombytes(bytes(f.planes[0])[: f.samples * 2])
    if sys.byteorder != "little":
        out.byteswap()
    return out


def rms(samples: Sequence[float]) -> float:
    return math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))


def tone_power(samples: array[int], freq: float, rate: int = 44100) -> float:
    """Normalised Goertzel power of ``freq`` (amplitude of that sinusoid, roughly)."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / len(samples)


def video_packets(av: Any, path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


# --------------------------------------------------------------------------- MP4


def test_mp4_decodes_as_h264(av: Any, tmp_path: Path) -> None:
    path = media.mp4(tmp_path / "clip.mp4", seconds=2.0, seed="beach")
    assert path == tmp_path / "clip.mp4"
    assert 2_000 < path.stat().st_size < 100_000  # tens of KB
    with av.open(str(path)) as container:
        assert not container.streams.audio
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        frames = [bytes(f.planes[0]) for f in container.decode(stream)]
    assert len(frames) == 24
    assert len(set(frames)) > 12  # the pattern moves
    info = media.probe(path)
    assert info["format"] == "mp4"
    assert info["duration"] == pytest.approx(2.0, abs=0.1)
    assert info["video"] == {"codec": "h264", "width": 320, "height": 180}
    assert info["audio"] is None


def test_mp4_with_audio_has_an_aac_tone(av: Any, tmp_path: Path) -> None:
    path = media.mp4(
        tmp_path / "clip.mp4", seconds=1.5, width=160, height=90, fps=10, with_audio=True
    )
    info = media.probe(path)
    assert info["video"] == {"codec": "h264", "width": 160, "height": 90}
    assert info["audio"] == {"codec": "aac", "sample_rate": 44100}
    assert info["duration"] == pytest.approx(1.5, abs=0.1)
    with av.open(str(path)) as container:
        assert len(list(container.decode(video=0))) == 15
    samples = decode_audio(av, path)
    assert len(samples) / 44100 == pytest.approx(1.5, abs=0.1)
    assert rms(samples) > 2000  # a real tone, not silence
    assert tone_power(samples, media._seed_frequency("")) > 3000


def test_mp4_is_deterministic(tmp_path: Path, av: Any) -> None:
    a = media.mp4(tmp_path / "a.mp4", seed="x", with_audio=True).read_bytes()
    b = media.mp4(tmp_path / "b.mp4", seed="x", with_audio=True).read_bytes()
    c = media.mp4(tmp_path / "c.mp4", seed="y", with_audio=True).read_bytes()
    assert a == b
    assert a != c


def test_mp4_rejects_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        media.mp4(tmp_path / "x.mp4", width=321)
    with pytest.raises(ValueError):
        media.mp4(tmp_path / "x.mp4", seconds=0)
    with pytest.raises(ValueError):
        media.mp4(tmp_path / "x.mp4", fps=0)


# --------------------------------------------------------------------------- MP3


def test_mp3_decodes(av: Any, tmp_path: Path) -> None:
    path = media.mp3(tmp_path / "voice.mp3", seconds=2.0, seed="hello")
    assert 1_000 < path.stat().st_size < 40_000
    info = media.probe(path)
    assert info["format"] == "mp3"
    assert info["video"] is None
    assert info["audio"] == {"codec": "mp3", "sample_rate": 22050}
    assert info["duration"] == pytest.approx(2.0, abs=0.1)
    samples = decode_audio(av, path, rate=22050)
    assert len(samples) / 22050 == pytest.approx(2.0, abs=0.1)
    assert rms(samples) > 1000


def test_mp3_pitch_follows_the_seed(av: Any, tmp_path: Path) -> None:
    seeds = ["alpha", "omega"]
    freqs = [media._seed_frequency(s) for s in seeds]
    assert freqs[0] != freqs[1]
    a = media.mp3(tmp_path / "a.mp3", seed=seeds[0], sample_rate=44100)
    b = media.mp3(tmp_path / "b.mp3", seed=seeds[1], sample_rate=44100)
    assert a.read_bytes() != b.read_bytes()
    assert media.mp3(tmp_path / "a2.mp3", seed=seeds[0], sample_rate=44100).read_bytes() == (
        a.read_bytes()
    )
    assert media.probe(a)["audio"]["sample_rate"] == 44100


# --------------------------------------------------------------------------- compose


@pytest.fixture
def clips(tmp_path: Path, av: Any) -> dict[str, Path]:
    # The video's own soundtrack is a steady tone; the narration is a chime at other pitches.
    video_seed, voice_seed = "ocean", "narrator"
    assert abs(media._seed_frequency(video_seed) - media._seed_frequency(voice_seed)) > 20
    return {
        "with_audio": media.mp4(tmp_path / "va.mp4", seconds=2.0, seed=video_seed, with_audio=True),
        "silent": media.mp4(tmp_path / "v.mp4", seconds=2.0, seed=video_seed),
        "voice": media.mp3(tmp_path / "voice.mp3", seconds=2.0, seed=voice_seed),
        "long": media.mp3(tmp_path / "long.mp3", seconds=5.0, seed=voice_seed),
        "short": media.mp3(tmp_path / "short.mp3", seconds=0.5, seed=voice_seed),
    }


def test_compose_replace_swaps_the_soundtrack(
    av: Any, tmp_path: Path, clips: dict[str, Path]
) -> None:
    out = media.compose(clips["with_audio"], clips["voice"], tmp_path / "r.mp4", replace_audio=True)
    info = media.probe(out)
    assert info["video"] == {"codec": "h264", "width": 320, "height": 180}
    assert info["audio"] == {"codec": "aac", "sample_rate": 44100}
    assert info["duration"] == pytest.approx(2.0, abs=0.1)
    # The picture is remuxed, not re-encoded.
    assert video_packets(av, out) == video_packets(av, clips["with_audio"])
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 1
        assert len(list(container.decode(video=0))) == 24
    replaced = decode_audio(av, out)
    original_tone = media._seed_frequency("ocean")
    voice = decode_audio(av, clips["voice"])
    # The new audio is there at its own level; the video's tone is gone.
    assert rms(replaced) == pytest.approx(rms(voice), rel=0.15)
    assert tone_power(replaced, original_tone) < 300


def test_compose_mix_keeps_both_sources(av: Any, tmp_path: Path, clips: dict[str, Path]) -> None:
    replaced = media.compose(
        clips["with_audio"], clips["voice"], tmp_path / "r.mp4", replace_audio=True
    )
    mixed = media.compose(
        clips["with_audio"], clips["voice"], tmp_path / "m.mp4", replace_audio=False
    )
    info = media.probe(mixed)
    assert info["audio"] == {"codec": "aac", "sample_rate": 44100}
    assert info["duration"] == pytest.approx(2.0, abs=0.1)
    assert video_packets(av, mixed) == video_packets(av, clips["with_audio"])
    r, m = decode_audio(av, replaced), decode_audio(av, mixed)
    original = decode_audio(av, clips["with_audio"])
    n = min(len(r), len(m), len(original))
    assert n / 44100 == pytest.approx(2.0, abs=0.1)
    # The mixed track differs from the replaced one by about the (halved) original track...
    difference = [m[i] - r[i] for i in range(n)]
    assert rms(difference) == pytest.approx(0.5 * rms(original), rel=0.25)
    # ...and the video's own tone is still audible in it, next to the narration.
    tone = media._seed_frequency("ocean")
    assert tone_power(m, tone) > 5 * max(tone_power(r, tone), 50.0)
    assert rms(m) > rms(original) * 0.5


def test_compose_mix_without_original_audio_is_just_the_new_audio(
    av: Any, tmp_path: Path, clips: dict[str, Path]
) -> None:
    mixed = media.compose(clips["silent"], clips["voice"], tmp_path / "m.mp4", replace_audio=False)
    replaced = media.compose(
        clips["silent"], clips["voice"], tmp_path / "r.mp4", replace_audio=True
    )
    assert media.probe(mixed)["audio"] == {"codec": "aac", "sample_rate": 44100}
    assert decode_audio(av, mixed) == decode_audio(av, replaced)


@pytest.mark.parametrize("which", ["long", "short"])
def test_compose_fits_the_audio_to_the_video(
    av: Any, tmp_path: Path, clips: dict[str, Path], which: str
) -> None:
    out = media.compose(clips["silent"], clips[which], tmp_path / "o.mp4", replace_audio=True)
    with av.open(str(out)) as container:
        durations = {
            s.type: float(s.duration * s.time_base) for s in container.streams if s.duration
        }
    assert durations["video"] == pytest.approx(2.0, abs=0.05)
    assert durations["audio"] == pytest.approx(2.0, abs=0.1)
    samples = decode_audio(av, out)
    assert len(samples) / 44100 == pytest.approx(2.0, abs=0.1)
    if which == "short":  # padded with silence after the 0.5 s of sound
        assert rms(samples[: 44100 // 2]) > 1000
        assert rms(samples[int(44100 * 0.8) :]) < 50


def test_compose_reencodes_a_video_mp4_cannot_hold(
    av: Any, tmp_path: Path, clips: dict[str, Path]
) -> None:
    from fractions import Fraction

    source = tmp_path / "src.mkv"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("mpeg2video", rate=10)
        stream.width, stream.height, stream.pix_fmt = 200, 120, "yuv420p"
        with av.open(str(clips["silent"])) as original:
            for index, frame in enumerate(original.decode(video=0)):
                small = frame.reformat(width=200, height=120)
                small.pts, small.time_base = index, Fraction(1, 10)
                container.mux(stream.encode(small))
        container.mux(stream.encode(None))
    assert media.probe(source)["video"]["codec"] == "mpeg2video"
    out = media.compose(source, clips["voice"], tmp_path / "o.mp4", replace_audio=False)
    info = media.probe(out)
    assert info["video"] == {"codec": "h264", "width": 200, "height": 120}
    assert info["audio"] == {"codec": "aac", "sample_rate": 44100}
    assert info["duration"] == pytest.approx(2.4, abs=0.15)
    with av.open(str(out)) as container:
        assert len(list(container.decode(video=0))) == 24


def test_compose_rejects_inputs_without_the_needed_streams(
    av: Any, tmp_path: Path, clips: dict[str, Path]
) -> None:
    with pytest.raises(ValueError, match="no audio"):
        media.compose(clips["silent"], clips["silent"], tmp_path / "o.mp4", replace_audio=True)
    with pytest.raises(ValueError, match="no video"):
        media.compose(clips["voice"], clips["voice"], tmp_path / "o.mp4", replace_audio=True)


# --------------------------------------------------------------------------- MediaLibrary


def test_library_image_is_cached(tmp_path: Path) -> None:
    library = MediaLibrary(tmp_path / "cache")
    first = library.image("red chair", width=64, height=48)
    stamp = first.stat().st_mtime_ns
    again = library.image("red chair", width=64, height=48)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert first.read_bytes() == media.png(64, 48, seed="red chair")  # the key seeds it
    other = library.image("red chair", width=64, height=48, transparent=True)
    assert other != first and decode_png(other.read_bytes())[2] == 4
    assert library.image("blue chair", width=64, height=48) not in (first, other)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        p.name for p in {first, other, library.image("blue chair", width=64, height=48)}
    )


def test_library_video_audio_composed_reuse_files(av: Any, tmp_path: Path) -> None:
    library = MediaLibrary(tmp_path)
    video = library.video("job-1", seconds=1.0, width=160, height=90)
    assert video.suffix == ".mp4" and media.probe(video)["video"]["codec"] == "h264"
    stamp = video.stat().st_mtime_ns
    assert library.video("job-1", seconds=1.0, width=160, height=90) == video
    assert video.stat().st_mtime_ns == stamp
    assert library.video("job-1", seconds=1.5, width=160, height=90) != video
    assert library.video("job-2", seconds=1.0, width=160, height=90) != video

    audio = library.audio("job-1", seconds=1.0)
    assert audio.suffix == ".mp3" and media.probe(audio)["audio"]["codec"] == "mp3"
    assert library.audio("job-1", seconds=1.0) == audio

    composed = library.composed("job-3", video, audio, replace_audio=True)
    info = media.probe(composed)
    assert info["audio"]["codec"] == "aac" and info["duration"] == pytest.approx(1.0, abs=0.1)
    stamp = composed.stat().st_mtime_ns
    assert library.composed("job-3", video, audio, replace_audio=True) == composed
    assert composed.stat().st_mtime_ns == stamp
    assert library.composed("job-3", video, audio, replace_audio=False) != composed
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind


def test_library_renders_once_under_concurrency(av: Any, tmp_path: Path) -> None:
    library = MediaLibrary(tmp_path)
    calls = 0
    real_mp4 = media.mp4

    def counting_mp4(*args: Any, **kwargs: Any) -> Path:
        nonlocal calls
        calls += 1
        return real_mp4(*args, **kwargs)

    results: list[Path] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(library.video("shared", seconds=0.5, width=64, height=36))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(media, "mp4", counting_mp4)
        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert calls == 1
    assert len(set(results)) == 1 and len(results) == 6
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]


# --------------------------------------------------------------------------- without PyAV


def test_clear_error_without_pyav(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    message = "pip install 'creativeai-connector[sandbox]'"
    with pytest.raises(MediaUnavailable, match="PyAV") as caught:
        media.mp4(tmp_path / "x.mp4")
    assert message in str(caught.value)
    with pytest.raises(MediaUnavailable):
        media.mp3(tmp_path / "x.mp3")
    with pytest.raises(MediaUnavailable):
        media.probe(tmp_path / "x.mp4")
    library = MediaLibrary(tmp_path)
    with pytest.raises(MediaUnavailable, match="PyAV"):
        library.video("k")
    with pytest.raises(MediaUnavailable):
        library.audio("k")
    assert not media.av_available()
    assert decode_png(library.image("k", width=8, height=8).read_bytes())[:2] == (8, 8)
