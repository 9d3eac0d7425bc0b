"""Options and main loop of the ``gallery-editor sandbox`` command."""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from gallery_editor.sandbox.config import ORDERING_SEMANTICS, SandboxConfig
from gallery_editor.sandbox.server import SandboxServer

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8765
DEFAULT_MEDIA_PORT = 8766

EXIT_OK = 0
EXIT_PORT_IN_USE = 1
EXIT_BAD_OPTION = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox options to ``parser``."""
    _add_server_options(parser)
    _add_catalog_options(parser)
    _add_failure_options(parser)


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    """Add where and how the sandbox listens, and where it keeps files."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="API port, 0 for any free port (default: %(default)s)",
    )
    parser.add_argument(
        "--media-port",
        type=_port,
        default=None,
        help=f"media (CDN) port, 0 for any free port (default: {DEFAULT_MEDIA_PORT}, "
        "or a free port when --port is 0)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="bearer key to accept (default: a random key, printed at start)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep changes (and big photo files) in DIR across restarts",
    )
    parser.add_argument(
        "--log-requests",
        type=Path,
        default=None,
        metavar="FILE",
        help="append one JSON line per request (method, path, status, PATCH body) to FILE",
    )


def _add_catalog_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that shape the catalog content."""
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the generated catalog content (default: %(default)s)",
    )
    parser.add_argument(
        "--ordering-semantics",
        choices=ORDERING_SEMANTICS,
        default="value",
        help=(
            "'value': ordering is a stored sort key; "
            "'position': a 0-based place that shifts the others"
        ),
    )
    parser.add_argument(
        "--images-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="add a product with one image per file of DIR, served byte for byte",
    )
    parser.add_argument(
        "--big-photos",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="add a product of N camera-size (about 12 megapixel) JPEG photos",
    )
    parser.add_argument(
        "--many-images",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="add a product of N images that reuse a few pictures",
    )


def _add_failure_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that slow down, limit or break API responses."""
    parser.add_argument(
        "--latency-ms",
        type=_non_negative_float,
        default=0.0,
        help="delay added to every API response, in milliseconds",
    )
    parser.add_argument(
        "--fail-rate",
        type=_fraction,
        default=0.0,
        metavar="P",
        help=(
            "fraction of API requests (0 to 1) that fail with 500/503, a dropped connection "
            "or a slow response"
        ),
    )
    parser.add_argument(
        "--rate-limit",
        type=_positive_float,
        default=None,
        metavar="N",
        help="respond 429 to API requests beyond N in any one-second window",
    )
    parser.add_argument(
        "--no-retry-after",
        dest="retry_after",
        action="store_false",
        help="send 429 and 503 responses without a Retry-After header",
    )


def run(args: argparse.Namespace) -> int:
    """Start the sandbox, print its URLs and key, and serve until SIGINT or SIGTERM.

    Returns 0 after a clean stop, 1 when a port is in use, 2 for an invalid option value.
    """
    try:
        config = config_from_args(args)
        config.validate()
        if args.log_requests is not None and not args.log_requests.parent.is_dir():
            raise ValueError(
                f"cannot write the request log {args.log_requests}: "
                "its folder does not exist"
            )
    except ValueError as error:
        print(f"gallery-editor sandbox: {error}", file=sys.stderr)
        return EXIT_BAD_OPTION
    stop_requested = threading.Event()
    # Handlers go in before the URLs are printed, so a signal sent right after them stops cleanly.
    previous_handlers = _install_stop_handlers(stop_requested)
    try:
        return _serve(SandboxServer(config), stop_requested)
    finally:
        for number, handler in previous_handlers.items():
            signal.signal(number, handler)


def _serve(server: SandboxServer, stop_requested: threading.Event) -> int:
    try:
        server.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            ports = f"API port {server.config.port} or media port {server.config.media_port}"
            print(
                f"gallery-editor sandbox: port already in use ({ports}: {error.strerror}); "
                "stop the other server or pass --port 0 and --media-port 0 for free ports",
                file=sys.stderr,
            )
        else:
            print(f"gallery-editor sandbox: cannot start the server: {error}", file=sys.stderr)
        return EXIT_PORT_IN_USE
    except ValueError as error:
        print(f"gallery-editor sandbox: {error}", file=sys.stderr)
        return EXIT_BAD_OPTION
    try:
        # One write, so a parent process reading the pipe receives all three lines at once.
        sys.stdout.write(
            f"api_url={server.api_url}\nmedia_url={server.media_url}\napi_key={server.api_key}\n"
        )
        sys.stdout.flush()
        # A timeout lets the main thread run the Python signal handler promptly.
        while not stop_requested.wait(timeout=0.5):
            pass
    finally:
        server.stop()
    return EXIT_OK


def media_port_from_args(args: argparse.Namespace) -> int:
    """Return the media port; with ``--port 0`` and no ``--media-port``, a free one too."""
    if args.media_port is not None:
        return int(args.media_port)
    return 0 if args.port == 0 else DEFAULT_MEDIA_PORT


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Build a SandboxConfig from the options that add_arguments() defined."""
    return SandboxConfig(
        host=args.host,
        port=args.port,
        media_port=media_port_from_args(args),
        seed=args.seed,
        api_key=args.api_key,
        latency_ms=args.latency_ms,
        images_dir=args.images_dir,
        log_requests=args.log_requests,
        fail_rate=args.fail_rate,
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        ordering_semantics=args.ordering_semantics,
        data_dir=args.data_dir,
        big_photos=args.big_photos,
        many_images=args.many_images,
    )


def _install_stop_handlers(stop_requested: threading.Event) -> dict[int, object]:
    """Make SIGINT and SIGTERM set ``stop_requested``; return the handlers they replace."""

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        logger.info("Sandbox received signal %s, stopping", signal.Signals(signal_number).name)
        stop_requested.set()

    return {
        number: signal.signal(number, request_stop) for number in (signal.SIGINT, signal.SIGTERM)
    }


def _port(text: str) -> int:
    value = _integer(text, "port")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: use 0 (any free port) to 65535")
    return value


def _non_negative_int(text: str) -> int:
    value = _integer(text, "count")
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: use 0 or more")
    return value


def _integer(text: str, value_name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid {value_name} {text!r}: use a whole number"
        ) from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid number {text!r}: use a decimal number such as 0.5"
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: use a finite decimal number")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: use 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: use a number greater than 0")
    return value


def _fraction(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"invalid fraction {text!r}: use a number from 0 to 1")
    return value
