"""Command line: the window (default), `sandbox`, `export` and `apply`.

Exit codes for every command: 0 success, 1 the operation failed, 2 usage error, 3 the
API could not be reached or refused the key, 4 unresolved conflicts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gallery_editor import __version__
from gallery_editor.arguments import non_negative_int, positive_int
from gallery_editor.logs import LEVELS, redacting_filter, setup_logging

if TYPE_CHECKING:
    from gallery_editor.api import KelviqClient
    from gallery_editor.paths import AppPaths

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_CONFLICT = 4

API_KEY_VARIABLE = "KELVIQ_API_KEY"

# Upper bounds that keep a typing slip from generating gigabytes of demo photos or from
# flooding a server with requests.
MAX_BIG_PHOTOS = 2000
MAX_MANY_IMAGES = 20000
MAX_CONCURRENCY = 16
SUBCOMMANDS = ("sandbox", "export", "apply")

# The demo sandbox tries these ports first so that its state, kept in the data folder,
# is found again at the same base URL after a restart.
DEMO_API_PORT = 8765
DEMO_MEDIA_PORT = 8766


class UsageError(Exception):
    """A command-line or configuration mistake the user can fix (exit code 2)."""


def existing_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a folder: {text}")
    return path


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every command that talks to the API shares."""
    from gallery_editor.api import DEFAULT_MEDIA_URL, SANDBOX_BASE_URL

    connection = parser.add_argument_group("connection")
    connection.add_argument(
        "--base-url",
        default=None,
        help=f"API base URL (default: Kelviq's sandbox environment, {SANDBOX_BASE_URL}); "
        "production must be chosen explicitly. The key comes from $"
        + API_KEY_VARIABLE,
    )
    connection.add_argument(
        "--media-url",
        default=None,
        help=f"base URL that image storage keys resolve against (default: {DEFAULT_MEDIA_URL})",
    )
    connection.add_argument(
        "--demo",
        action="store_true",
        help="run against a sandbox server started inside this process on loopback",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder for the journal, cache, settings and log "
        "(default: the platform's application-data folder)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=LEVELS,
        help="lowest level shown on the terminal (default: WARNING)",
    )


def build_gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gallery-editor",
        description="Arrange the image galleries of Kelviq catalog products.",
        epilog="Other commands: 'gallery-editor sandbox --help', "
        "'gallery-editor export --help', 'gallery-editor apply FILE --help'.",
    )
    parser.add_argument("--version", action="version", version=f"gallery-editor {__version__}")
    add_common_arguments(parser)
    parser.add_argument("--product", metavar="ID", help="open this product (UUID) at start")
    parser.add_argument(
        "--images-dir",
        type=existing_dir,
        metavar="DIR",
        help="with --demo: add a product made of every file in DIR and open it",
    )
    parser.add_argument(
        "--big-photos",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="with --demo: add a product of N photos of about 12 megapixels",
    )
    parser.add_argument(
        "--many-images",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="with --demo: add a product of N images",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=None,
        metavar="N",
        help="PATCH requests in flight at once while saving (default 4, remembered)",
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PATH",
        help="wait until the product and its visible thumbnails have loaded or failed, "
        "save a PNG of the window to PATH, print the thumbnail counts and exit",
    )
    parser.add_argument("--test-control", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--window-geometry", help=argparse.SUPPRESS)
    return parser


def build_subcommand_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"gallery-editor {command}")
    if command == "sandbox":
        from gallery_editor.sandbox import cli as sandbox_cli

        parser.description = "Run a Kelviq-compatible sandbox server on loopback."
        sandbox_cli.add_arguments(parser)
        return parser

    from gallery_editor import headless

    add_common_arguments(parser)
    if command == "export":
        parser.description = "Print a product's gallery as an arrangement (JSON)."
        headless.add_export_arguments(parser)
    else:
        parser.description = "Save an arrangement (JSON) to the server."
        headless.add_apply_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments and arguments[0] in SUBCOMMANDS:
            return run_subcommand(arguments[0], arguments[1:])
        return run_gui(arguments)
    except UsageError as error:
        print(f"gallery-editor: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def run_subcommand(command: str, arguments: list[str]) -> int:
    args = build_subcommand_parser(command).parse_args(arguments)
    if command == "sandbox":
        from gallery_editor.sandbox import cli as sandbox_cli

        setup_logging(None, getattr(args, "log_level", "WARNING"))
        return sandbox_cli.run(args)

    from gallery_editor import headless

    paths = app_paths(args.data_dir)
    setup_logging(paths.log_dir, args.log_level)
    with connect(args, fresh_sandbox=True) as (client, _sandbox):
        if command == "export":
            return headless.run_export(args, client)
        return headless.run_apply(args, client, paths.journal_dir)


def run_gui(arguments: list[str]) -> int:
    parser = build_gui_parser()
    args = parser.parse_args(arguments)
    demo_only = [
        name
        for name, value in (
            ("--images-dir", args.images_dir),
            ("--big-photos", args.big_photos),
            ("--many-images", args.many_images),
        )
        if value
    ]
    if demo_only and not args.demo:
        parser.error(f"{', '.join(demo_only)} only works with --demo")
    for option, value, limit in (
        ("--big-photos", args.big_photos, MAX_BIG_PHOTOS),
        ("--many-images", args.many_images, MAX_MANY_IMAGES),
        ("--concurrency", args.concurrency or 0, MAX_CONCURRENCY),
    ):
        if value > limit:
            parser.error(f"{option} {value} is more than the maximum of {limit}")
    choose_qt_platform(parser, screenshot=args.screenshot is not None)

    from gallery_editor.paths import set_application_names

    set_application_names()
    paths = app_paths(args.data_dir)
    log_path = setup_logging(paths.log_dir, args.log_level)
    logger.info("Starting gallery-editor %s, log file %s", __version__, log_path)

    from gallery_editor.ui.app import run_app

    with connect(args, fresh_sandbox=False, paths=paths) as (client, sandbox):
        return run_app(args, client, paths, sandbox)


def choose_qt_platform(parser: argparse.ArgumentParser, *, screenshot: bool) -> None:
    """Pick a Qt platform that can start, or stop with a message instead of Qt's abort."""
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform != "linux":
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    if screenshot:
        # A screenshot needs no screen: draw into memory.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return
    parser.error(
        "no display: DISPLAY and WAYLAND_DISPLAY are not set. Run this on a desktop, "
        "or use --screenshot PATH (which needs no display)"
    )


def app_paths(data_dir: Path | None) -> AppPaths:
    from gallery_editor.paths import resolve_paths

    paths = resolve_paths(data_dir)
    try:
        paths.create()
    except OSError as error:
        raise UsageError(f"cannot create the data folder {paths.data_dir}: {error}") from None
    return paths


@contextmanager
def connect(
    args: argparse.Namespace, *, fresh_sandbox: bool, paths: AppPaths | None = None
) -> Iterator[tuple[KelviqClient, object | None]]:
    """Yield an API client, starting the demo sandbox first when `--demo` is given."""
    from gallery_editor.api import (
        DEFAULT_MEDIA_URL,
        SANDBOX_BASE_URL,
        KelviqClient,
        validate_base_url,
    )
    from gallery_editor.api.urls import is_loopback_host, validate_media_url

    if args.demo:
        if args.base_url or args.media_url:
            raise UsageError("--demo starts its own server: leave out --base-url and --media-url")
        with start_demo_sandbox(args, fresh=fresh_sandbox, paths=paths) as sandbox:
            redacting_filter.add_secret(sandbox.api_key)
            client = KelviqClient(sandbox.api_url, sandbox.api_key, media_url=sandbox.media_url)
            with client:
                yield client, sandbox
        return

    base_url = SANDBOX_BASE_URL if args.base_url is None else args.base_url
    media_url = DEFAULT_MEDIA_URL if args.media_url is None else args.media_url
    try:
        validate_base_url(base_url)
        validate_media_url(media_url)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if is_loopback_host(urlsplit(base_url).hostname or "") and args.media_url is None:
        # A local sandbox serves its images from loopback too; falling back to Kelviq's
        # CDN would send requests for made-up storage keys to a real host.
        raise UsageError(
            f"a loopback --base-url needs --media-url as well (the sandbox prints it as "
            f"media_url=...); without it images would be fetched from {DEFAULT_MEDIA_URL}"
        )
    api_key = os.environ.get(API_KEY_VARIABLE, "").strip()
    if not api_key:
        raise UsageError(
            f"no API key: set {API_KEY_VARIABLE} to a Server API key for {base_url} "
            "(Kelviq dashboard, Settings > API keys), or try --demo"
        )
    redacting_filter.add_secret(api_key)
    with KelviqClient(base_url, api_key, media_url=media_url) as client:
        yield client, None


@contextmanager
def start_demo_sandbox(
    args: argparse.Namespace, *, fresh: bool, paths: AppPaths | None
) -> Iterator[object]:
    """Start the sandbox in this process; the window's demo keeps its state and port."""
    from gallery_editor.sandbox import SandboxConfig, SandboxServer

    options = {
        "images_dir": getattr(args, "images_dir", None),
        "big_photos": getattr(args, "big_photos", 0),
        "many_images": getattr(args, "many_images", 0),
    }
    if fresh or paths is None:
        server = SandboxServer(SandboxConfig(**options))
        server.start()
    else:
        server = start_stable_sandbox(paths, options)
    try:
        yield server
    finally:
        server.stop()


def start_stable_sandbox(paths: AppPaths, options: dict[str, object]) -> object:
    """Start the demo sandbox on its usual ports, or on free ones with a notice."""
    from gallery_editor.sandbox import SandboxConfig, SandboxServer

    paths.sandbox_dir.mkdir(parents=True, exist_ok=True)
    config = SandboxConfig(
        port=DEMO_API_PORT, media_port=DEMO_MEDIA_PORT, data_dir=paths.sandbox_dir, **options
    )
    server = SandboxServer(config)
    try:
        server.start()
    except OSError as error:
        notice = (
            f"The demo server's usual ports {DEMO_API_PORT} and {DEMO_MEDIA_PORT} are busy "
            f"({error.strerror or error}); using free ports instead."
        )
        logger.warning("%s", notice)
        config = SandboxConfig(port=0, media_port=0, data_dir=paths.sandbox_dir, **options)
        server = SandboxServer(config)
        server.start()
        server.start_notice = notice  # type: ignore[attr-defined]
    return server
