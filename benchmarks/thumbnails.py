"""Benchmark the thumbnail pipeline on 12-megapixel JPEGs served from loopback.

Run from the repository root:

    QT_QPA_PLATFORM=offscreen /work/venv/bin/python benchmarks/thumbnails.py

Measures cold load with 1 and 2 workers, the decode stage alone next to plain
Pillow, QImageReader and libvips (from a separate venv, when present), warm load
from the disk cache, GUI-thread stalls during a cold load, the worker round
trip, cache file encodings and peak memory with 2,000 images. Prints Markdown.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path



_SOURCE_VARIABLE = "THUMBNAIL_BENCHMARK_SOURCE"


def _source_root() -> Path:
    """Return the tree to import gallery_editor from: ``--source DIR`` or this repository.

    It is read before the imports below, so an older checkout can be measured in
    the same session as the current one. The choice is passed on in the
    environment because the fork server runs this file again without the arguments.
    The working directory changes to the tree too: the fork server of Python 3.11.7
    does not apply the parent's sys.path and imports from its working directory.
    """
    if "--source" in sys.argv[:-1]:
        root = Path(sys.argv[sys.argv.index("--source") + 1]).resolve()
        os.environ[_SOURCE_VARIABLE] = str(root)
        os.chdir(root)
    if _SOURCE_VARIABLE in os.environ:
        return Path(os.environ[_SOURCE_VARIABLE])
    return Path(__file__).resolve().parents[1]


sys.path.insert(0, str(_source_root()))

import PIL  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6 import __version__ as pyside_version  # noqa: E402
from PySide6.QtCore import QBuffer, QByteArray, QSize, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QImageReader  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gallery_editor.thumbnails.decode import decode_thumbnail  # noqa: E402
from gallery_editor.thumbnails.loader import ThumbnailLoader  # noqa: E402
from gallery_editor.thumbnails import worker as worker_module  # noqa: E402
from gallery_editor.thumbnails.worker import DecodePool, echo_after  # noqa: E402

logger = logging.getLogger(__name__)

PHOTO_SIZE = (4000, 3000)
EDGE = 512
DEFAULT_PHOTO_DIR = Path(tempfile.gettempdir()) / "gallery-editor-bench-photos"
VIPS_PYTHON = Path("/work/bench-venv/bin/python")

_VIPS_SCRIPT = """
import json, sys, time
import pyvips
paths, edge = sys.argv[2:], int(sys.argv[1])
data = [open(p, "rb").read() for p in paths]
pyvips.cache_set_max(0)
times = []
for blob in data:
    start = time.perf_counter()
    image = pyvips.Image.thumbnail_buffer(blob, edge)
    image.write_to_memory()
    times.append(time.perf_counter() - start)
print(json.dumps({"version": pyvips.__version__, "libvips": pyvips.version(0), "times": times}))
"""


def make_photos(folder: Path, count: int) -> list[Path]:
    """Write ``count`` distinct 12-megapixel JPEGs with photo-like noise; reuse earlier runs."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo-{index:03d}.jpg" for index in range(count)]
    for index, path in enumerate(paths):
        if path.exists():
            continue
        small = Image.effect_noise((400, 300), 40 + index).convert("RGB")
        gradient = Image.linear_gradient("L").resize((400, 300)).convert("RGB")
        base = Image.blend(small, gradient, 0.5).resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
        grain = Image.effect_noise(PHOTO_SIZE, 25).convert("RGB")
        photo = Image.blend(base, grain, 0.15)
        photo.save(path, "JPEG", quality=90)
    return paths


class PhotoServer:
    """Serve photo bytes by URL path from memory on 127.0.0.1, with ETags and 304s."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        handler = self._make_handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                body = bodies.get(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = f'"{zlib.crc32(self.path.encode())}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


class StallProbe:
    """Measure GUI-thread stalls as the lateness of a 5 ms QTimer, and note what ran during long ones.

    Every collector pass (``gc.callbacks``) and every delivered thumbnail is timed
    on the same clock, so a stall over ``LONG_STALL_MS`` can be matched to them.
    """

    LONG_STALL_MS = 30.0

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.long_stalls: list[tuple[float, float, tuple[int, int], tuple[int, int]]] = []
        self.collections: list[tuple[float, float, int]] = []
        self.deliveries: list[float] = []
        self._timer = QTimer()
        self._timer.setInterval(5)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self._last_schedule = (0, 0)
        self._gc_started = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()
        self._last_schedule = _thread_schedule()
        gc.callbacks.append(self._on_gc)
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.callbacks.remove(self._on_gc)

    def note_delivery(self) -> None:
        self.deliveries.append(time.perf_counter())

    def _tick(self) -> None:
        now = time.perf_counter()
        schedule = _thread_schedule()
        gap = (now - self._last) * 1000 - 5.0
        self.gaps.append(gap)
        if gap > self.LONG_STALL_MS:
            self.long_stalls.append((self._last, now, self._last_schedule, schedule))
        self._last = now
        self._last_schedule = schedule

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.collections.append((self._gc_started, time.perf_counter(), info["generation"]))

    def summary(self) -> dict[str, object]:
        """Return percentiles, collector pause figures and one line per long stall."""
        pauses = [(end - start) * 1000 for start, end, _ in self.collections]
        return {
            "ticks": len(self.gaps),
            "p99": percentile(self.gaps, 0.99),
            "max": max(self.gaps),
            "over_50": sum(gap > 50 for gap in self.gaps),
            "gc_passes": len(pauses),
            "gc_max_ms": max(pauses, default=0.0),
            "gc_gen2_passes": sum(generation == 2 for _, _, generation in self.collections),
            "long_stalls": [self._describe(*stall) for stall in self.long_stalls],
        }

    def _describe(self, start: float, end: float, schedule_before: tuple[int, int], schedule_after: tuple[int, int]) -> str:
        in_gc = sum(
            (min(end, gc_end) - max(start, gc_start)) * 1000
            for gc_start, gc_end, _ in self.collections
            if gc_end > start and gc_start < end
        )
        delivered = sum(start <= moment <= end for moment in self.deliveries)
        running = (schedule_after[0] - schedule_before[0]) / 1e6
        queued = (schedule_after[1] - schedule_before[1]) / 1e6
        blocked = (end - start) * 1000 - running - queued
        return (
            f"{(end - start) * 1000 - 5:.0f} ms: GUI thread ran {running:.0f} ms, waited {queued:.0f} ms for a CPU "
            f"and was not runnable for {blocked:.0f} ms (asleep, or blocked on the GIL or a lock); "
            f"{in_gc:.1f} ms in gc, {delivered} thumbnails delivered"
        )


def _thread_schedule() -> tuple[int, int]:
    """Return this thread's nanoseconds on a CPU and waiting in the run queue (Linux schedstat)."""
    try:
        fields = Path("/proc/thread-self/schedstat").read_text().split()
    except OSError:
        return 0, 0
    return int(fields[0]), int(fields[1])


def load_all(app: QApplication, loader: ThumbnailLoader, urls: list[str], probe: StallProbe | None = None) -> float:
    """Request every URL and run the event loop until each one is ready or failed; return seconds."""
    if not urls:
        return 0.0
    remaining = set(urls)
    failures: list[tuple[str, str]] = []

    def finished(url: str, *_: object) -> None:
        if probe is not None:
            probe.note_delivery()
        remaining.discard(url)
        if not remaining:
            app.quit()

    def failed(url: str, reason: str) -> None:
        failures.append((url, reason))
        finished(url)

    loader.thumbnail_ready.connect(finished)
    loader.thumbnail_failed.connect(failed)
    started = time.perf_counter()
    if probe is not None:
        probe.start()
    for url in urls:
        loader.request(url)
    QTimer.singleShot(600_000, app.quit)
    app.exec()
    elapsed = time.perf_counter() - started
    if probe is not None:
        probe.stop()
    loader.thumbnail_ready.disconnect(finished)
    loader.thumbnail_failed.disconnect(failed)
    if failures or remaining:
        raise RuntimeError(f"{len(failures)} failed (first: {failures[:1]}), {len(remaining)} never finished")
    return elapsed


def cold_load(app: QApplication, urls: list[str], workers: int, probe: StallProbe | None = None) -> float:
    seconds, _ = timed_cold_load(app, urls, workers, probe)
    return seconds


def timed_cold_load(
    app: QApplication, urls: list[str], workers: int, probe: StallProbe | None = None
) -> tuple[float, float]:
    """Cold-load ``urls``; return wall seconds and CPU seconds of this process (all its threads)."""
    with tempfile.TemporaryDirectory() as cache_dir:
        loader = ThumbnailLoader(Path(cache_dir), workers=workers, edge=EDGE)
        warm_up_workers(app, loader)
        try:
            cpu_before = time.process_time()
            seconds = load_all(app, loader, urls, probe)
            return seconds, time.process_time() - cpu_before
        finally:
            loader.shutdown()


def cold_only(app: QApplication, urls: list[str], label: str) -> None:
    """Print one JSON line with cold-load figures for 1 and 2 workers, for side-by-side runs."""
    figures: dict[str, object] = {"label": label, "source": str(_source_root()), "images": len(urls)}
    figures["load_before"] = os.getloadavg()[0]
    for workers in (1, 2):
        probe = StallProbe()
        seconds, cpu = timed_cold_load(app, urls, workers, probe)
        figures[f"w{workers}"] = {
            "seconds": seconds,
            "ms_per_image_per_worker": seconds * workers / len(urls) * 1000,
            "main_cpu_ms_per_image": cpu / len(urls) * 1000,
            "stalls": probe.summary(),
        }
    figures["load_after"] = os.getloadavg()[0]
    print(json.dumps(figures))


def warm_up_workers(app: QApplication, loader: ThumbnailLoader) -> None:
    """Start the worker processes before timing, as the app does long before a gallery opens."""
    futures = [loader._pool.submit_call(echo_after, 0.0, b"") for _ in range(loader._pool.worker_count)]
    for future in futures:
        future.result(timeout=60)


def decode_stage(photos: list[bytes]) -> dict[str, list[float]]:
    """Time each decoder on the same in-memory bytes, single-threaded, in this process."""
    results: dict[str, list[float]] = {"ours": [], "pillow": [], "qimagereader": []}
    for data in photos:
        start = time.perf_counter()
        decode_thumbnail(data, EDGE)
        results["ours"].append(time.perf_counter() - start)

        start = time.perf_counter()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image.resize((EDGE, EDGE * image.height // image.width), Image.Resampling.LANCZOS).convert("RGBA")
        results["pillow"].append(time.perf_counter() - start)

        start = time.perf_counter()
        buffer = QBuffer()
        buffer.setData(QByteArray(data))
        reader = QImageReader(buffer)
        size = reader.size()
        reader.setScaledSize(QSize(EDGE, EDGE * size.height() // size.width()))
        reader.read()
        results["qimagereader"].append(time.perf_counter() - start)
    return results


def vips_stage(paths: list[Path]) -> tuple[dict[str, object] | None, str]:
    if not VIPS_PYTHON.exists():
        return None, f"{VIPS_PYTHON} not found; create it with python3 -m venv and pip install pyvips pyvips-binary"
    completed = subprocess.run(
        [str(VIPS_PYTHON), "-c", _VIPS_SCRIPT, str(EDGE), *map(str, paths)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    if completed.returncode != 0:
        return None, completed.stderr.strip().splitlines()[-1] if completed.stderr else "failed"
    return json.loads(completed.stdout), ""


def pool_round_trip(payload_size: int, count: int = 200) -> float:
    pool = DecodePool(workers=1)
    try:
        payload = b"\x00" * payload_size
        pool.submit_call(echo_after, 0.0, payload).result(timeout=60)
        start = time.perf_counter()
        for _ in range(count):
            pool.submit_call(echo_after, 0.0, payload).result(timeout=60)
        return (time.perf_counter() - start) / count
    finally:
        pool.shutdown()


def cache_encodings(data: bytes) -> dict[str, float]:
    thumbnail = decode_thumbnail(data, EDGE)
    image = Image.frombytes("RGBA", (thumbnail.width, thumbnail.height), thumbnail.rgba)
    start = time.perf_counter()
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    png_encode = time.perf_counter() - start
    start = time.perf_counter()
    Image.open(io.BytesIO(buffer.getvalue())).load()
    png_decode = time.perf_counter() - start
    start = time.perf_counter()
    zlib.crc32(thumbnail.rgba)
    raw_check = time.perf_counter() - start
    return {
        "raw_bytes": len(thumbnail.rgba),
        "png_bytes": len(buffer.getvalue()),
        "png_encode": png_encode,
        "png_decode": png_decode,
        "raw_crc": raw_check,
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def process_memory_mb(field: str) -> float:
    """Return VmRSS (current) or VmHWM (peak) of this process from /proc, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} is missing from /proc/self/status; this measurement needs Linux")


def memory_run(app: QApplication, server: PhotoServer, count: int) -> str:
    """Cold-load ``count`` URLs and report the peak resident memory of this process."""
    urls = [server.url(f"/p/{index}.jpg") for index in range(count)]
    baseline = process_memory_mb("VmRSS")
    with tempfile.TemporaryDirectory() as cache_dir:
        loader = ThumbnailLoader(Path(cache_dir), workers=2, edge=EDGE)
        warm_up_workers(app, loader)
        seconds = load_all(app, loader, urls)
        loader.shutdown()
    peak = process_memory_mb("VmHWM")
    return (
        f"\n## Peak memory with {count} images\n\n"
        f"Cold load of {count} in {seconds:.1f} s. Peak RSS of the process: {peak:.0f} MB, of which "
        f"{baseline:.0f} MB was there before the loader started (Qt, Pillow and the benchmark's own "
        f"server with the photo bytes in memory). Worker processes are not included."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500, help="URLs in the cold and warm loads")
    parser.add_argument("--distinct", type=int, default=40, help="distinct 12-megapixel JPEG files behind the URLs")
    parser.add_argument("--memory-images", type=int, default=2000, help="URLs in the peak-memory run")
    parser.add_argument("--memory-only", action="store_true", help="run only the peak-memory measurement, in a fresh process")
    parser.add_argument("--cold-only", action="store_true", help="run only the cold loads and print one JSON line")
    parser.add_argument("--source", type=Path, help="repository tree to import gallery_editor from (default: this one)")
    parser.add_argument("--worker-niceness", type=int, help="nice value added to decode workers (default: the pool's own)")
    parser.add_argument("--label", default="", help="name of this run in the --cold-only output")
    parser.add_argument("--photo-dir", type=Path, default=DEFAULT_PHOTO_DIR, help="where generated photos are kept between runs")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    app = QApplication.instance() or QApplication([])
    paths = make_photos(options.photo_dir, options.distinct)
    photos = [path.read_bytes() for path in paths]
    bodies = {f"/p/{index}.jpg": photos[index % len(photos)] for index in range(max(options.images, options.memory_images))}
    server = PhotoServer(bodies)
    urls = [server.url(f"/p/{index}.jpg") for index in range(options.images)]

    report: list[str] = []
    if options.memory_only:
        print(memory_run(app, server, options.memory_images))
        server.stop()
        return
    if options.worker_niceness is not None:
        # Only trees whose pool has this setting take it; older ones ignore it.
        worker_module.DEFAULT_NICENESS = options.worker_niceness
    if options.cold_only:
        cold_only(app, urls, options.label)
        server.stop()
        return
    report.append(f"Photos: {options.images} URLs over {len(photos)} distinct {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEGs, "
                  f"mean {statistics.mean(map(len, photos)) / 2**20:.1f} MB; thumbnail edge {EDGE} px.")

    decode = decode_stage(photos)
    vips, vips_error = vips_stage(paths)
    report.append("\n## Decode stage alone (same bytes in memory, one thread, ms per image)\n")
    report.append("| decoder | median | mean |\n| --- | --- | --- |")
    for name, times in decode.items():
        report.append(f"| {name} | {statistics.median(times) * 1000:.1f} | {statistics.mean(times) * 1000:.1f} |")
    if vips is not None:
        times = vips["times"]  # type: ignore[index]
        report.append(f"| libvips {vips['libvips']}.x thumbnail_buffer (pyvips {vips['version']}) | "
                      f"{statistics.median(times) * 1000:.1f} | {statistics.mean(times) * 1000:.1f} |")
    else:
        report.append(f"\nlibvips not measured: {vips_error}")

    one = cold_load(app, urls, 1)
    probe = StallProbe()
    two = cold_load(app, urls, 2, probe)
    report.append("\n## Cold load (download, decode in worker processes, disk cache write)\n")
    report.append("| workers | seconds | images/s | ms per image per worker |\n| --- | --- | --- | --- |")
    for workers, seconds in ((1, one), (2, two)):
        report.append(f"| {workers} | {seconds:.2f} | {len(urls) / seconds:.1f} | {seconds * workers / len(urls) * 1000:.1f} |")
    report.append(f"\nSpeed-up from 1 to 2 workers: {one / two:.2f}x.")
    stalls = probe.summary()
    report.append(f"\nGUI-thread stalls during the 2-worker cold load (5 ms QTimer lateness, {stalls['ticks']} ticks): "
                  f"p99 {stalls['p99']:.1f} ms, max {stalls['max']:.1f} ms, {stalls['over_50']} over 50 ms; "
                  f"{stalls['gc_passes']} collector passes, longest {stalls['gc_max_ms']:.1f} ms.")
    for line in stalls["long_stalls"]:  # type: ignore[attr-defined]
        report.append(f"- stall of {line}")

    with tempfile.TemporaryDirectory() as cache_dir:
        loader = ThumbnailLoader(Path(cache_dir), workers=2, edge=EDGE)
        warm_up_workers(app, loader)
        load_all(app, loader, urls)
        loader.shutdown()
        warm_loader = ThumbnailLoader(Path(cache_dir), workers=2, edge=EDGE)
        warm_probe = StallProbe()
        warm_first = load_all(app, warm_loader, urls[:60], warm_probe)
        warm_all = load_all(app, warm_loader, urls[60:])
        warm_loader.shutdown()
    report.append("\n## Warm load (disk cache, new loader)\n")
    report.append(f"First 60 thumbnails (a screenful) in {warm_first:.3f} s; the other {len(urls) - 60} in {warm_all:.3f} s. "
                  f"Stalls during the first 60: p99 {percentile(warm_probe.gaps, 0.99):.1f} ms, max {max(warm_probe.gaps):.1f} ms.")

    report.append("\n## Worker round trip (echo through one worker process)\n")
    for size in (0, 2**20, 5 * 2**20):
        report.append(f"- {size / 2**20:g} MB each way: {pool_round_trip(size) * 1000:.2f} ms")

    encodings = cache_encodings(photos[0])
    report.append("\n## Cache file encoding of one 512x384 thumbnail\n")
    report.append(f"raw {encodings['raw_bytes']} bytes (CRC-32 check {encodings['raw_crc'] * 1000:.2f} ms); "
                  f"PNG level 1 {encodings['png_bytes']} bytes, encode {encodings['png_encode'] * 1000:.1f} ms, "
                  f"decode {encodings['png_decode'] * 1000:.1f} ms.")

    report.append(
        "\nPeak memory is measured in a fresh process: run again with --memory-only."
    )
    server.stop()

    report.insert(0, f"Python {platform.python_version()}, Pillow {PIL.__version__}, PySide6 {pyside_version}, "
                     f"{os.cpu_count()} CPUs.\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
