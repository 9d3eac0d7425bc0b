"""The headless commands: `export` prints a product's arrangement, `apply` saves one.

Standard output carries only the document (`export`) or the plan (`apply`); messages,
progress and the summary go to standard error. Exit codes: 0 success, 1 failure or a
server that still differs, 3 the API cannot be reached or refuses the key, 4 unresolved
conflicts (unless ``--force``). Argument errors exit with 2 through argparse.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gallery_editor.api import ApiError, AuthenticationError, KelviqClient, NetworkError, NotFoundError
from gallery_editor.arguments import positive_int
from gallery_editor.domain.arrangement import (
    Arrangement,
    ArrangementError,
    arrangement_from_product,
    arrangement_to_json,
    parse_arrangement,
)
from gallery_editor.domain.conflicts import Conflict, FieldConflict, MergeResult, merge
from gallery_editor.domain.models import Product, ProductImage, TargetImage
from gallery_editor.domain.planner import Patch, plan_patches
from gallery_editor.journal import DATABASE_NAME, Journal, JournalError
from gallery_editor.save import SaveEngine, SaveProgress, SaveReport, SaveRequest
from gallery_editor.save.engine import count_of

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNREACHABLE = 3
EXIT_CONFLICT = 4


class ApplyError(Exception):
    """A problem with the arrangement or its product that ends `apply` with exit code 1."""


# -- export -------------------------------------------------------------------------------


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `gallery-editor export`."""
    parser.add_argument(
        "--product", required=True, metavar="ID", help="id (UUID) of the product to export"
    )


def run_export(args: argparse.Namespace, client: KelviqClient) -> int:
    """Print the product's arrangement, with its ``base``, as JSON on standard output."""
    try:
        product = client.get_product(args.product)
    except ApiError as error:
        return _api_failure(error, f"Reading product {args.product} failed")
    document = arrangement_to_json(arrangement_from_product(product))
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()
    _say(f"Exported {count_of(len(product.images), 'image')} of product {product.id} ({product.name}).")
    return EXIT_OK


# -- apply --------------------------------------------------------------------------------


def add_apply_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `gallery-editor apply`."""
    parser.add_argument("file", metavar="FILE", help="arrangement JSON file, or - for standard input")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan and change nothing anywhere"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print the plan as one JSON object per line: {"image": ID, "body": {...}}',
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="keep the arrangement's values where they conflict with changes made on the server",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        metavar="N",
        help="maximum PATCH requests in flight at once (default: 4)",
    )


def run_apply(args: argparse.Namespace, client: KelviqClient, data_dir: Path) -> int:
    """Plan and, unless ``--dry-run``, save an arrangement; return the exit code."""
    try:
        arrangement = _read_arrangement(args.file)
        product = client.get_product(arrangement.product_id)
    except ApplyError as error:
        _say(str(error))
        return EXIT_FAILED
    except ApiError as error:
        return _api_failure(error, "Reading the product of the arrangement failed")

    try:
        return _apply(args, client, data_dir, arrangement, product)
    except ApplyError as error:
        _say(str(error))
        return EXIT_FAILED
    except JournalError as error:
        _say(f"The journal in {data_dir} could not be used: {error}")
        return EXIT_FAILED


def _apply(
    args: argparse.Namespace,
    client: KelviqClient,
    data_dir: Path,
    arrangement: Arrangement,
    server: Product,
) -> int:
    base = _base_product(arrangement, server)
    mine = _checked_images(arrangement, base, server)
    journal = _open_journal(data_dir, dry_run=args.dry_run)
    try:
        own_writes = journal.sent_values(client.base_url, server.id) if journal else {}
        merged = merge(base, mine, server, own_writes=own_writes, keep_mine_all=args.force)
        _print_notices(merged)
        if merged.unresolved:
            _print_conflicts(merged, server)
            _say("Nothing was saved. Edit the arrangement, or run again with --force to keep its values.")
            return EXIT_CONFLICT

        try:
            patches = plan_patches(server, merged.target)
        except ValueError as error:
            raise ApplyError(f"The arrangement cannot be saved: {error}") from None
        _print_plan(patches, as_json=args.json)
        if args.dry_run:
            _say(f"Dry run: {count_of(len(patches), 'request')} planned, nothing was sent.")
            return EXIT_OK
        assert journal is not None
        report = _save(client, journal, args, base, mine)
    finally:
        if journal is not None:
            journal.close()
    return _finish(report)


def _read_arrangement(file_name: str) -> Arrangement:
    source = "standard input" if file_name == "-" else file_name
    try:
        text = sys.stdin.read() if file_name == "-" else Path(file_name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ApplyError(f"Could not read the arrangement {source}: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ApplyError(
            f"The arrangement {source} is not valid JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}. Fix the file, or export it again with 'gallery-editor export'."
        ) from None
    try:
        return parse_arrangement(data)
    except ArrangementError as error:
        raise ApplyError(f"The arrangement {source} is invalid: {error}") from None


def _base_product(arrangement: Arrangement, server: Product) -> Product:
    """Return the state the arrangement was taken from, or the server's when it has no base."""
    if arrangement.base is None:
        _say(
            "The arrangement has no 'base', so changes made on the server since it was written "
            "cannot be told apart: every value in the file counts as intended."
        )
        return server
    images = []
    for image_id, values in arrangement.base.items():
        current = server.image_by_id(image_id)
        images.append(
            ProductImage(
                id=image_id,
                name=values.name,
                image=current.image if current is not None else "",
                ordering=values.ordering,
                thumbnail=values.thumbnail,
                enabled=values.enabled,
            )
        )
    return server.with_images(tuple(images))


def _checked_images(arrangement: Arrangement, base: Product, server: Product) -> list[TargetImage]:
    """Return the arranged images, rejecting ids known neither to the base nor to the server."""
    known = {image.id for image in base.images} | {image.id for image in server.images}
    unknown = [wanted.id for wanted in arrangement.images if wanted.id not in known]
    if unknown:
        raise ApplyError(
            f"The arrangement names images that product {server.id} does not have: "
            f"{', '.join(unknown)}. Remove them, or export the product again."
        )
    arranged = {wanted.id for wanted in arrangement.images}
    for image in base.images_in_order():
        if image.id not in arranged and server.image_by_id(image.id) is not None:
            _say(
                f"Image {_label(image.name, image.id)} is missing from the arrangement; "
                "it goes after the arranged images."
            )
    images = list(arrangement.images)
    # Images the file leaves out keep their values and go after the arranged ones.
    images += [
        TargetImage(image.id, image.name, image.thumbnail, image.enabled)
        for image in base.images_in_order()
        if image.id not in arranged and server.image_by_id(image.id) is not None
    ]
    return images


def _open_journal(data_dir: Path, *, dry_run: bool) -> Journal | None:
    if not dry_run:
        data_dir.mkdir(parents=True, exist_ok=True)
        return Journal(data_dir)
    # A dry run reads an existing journal for own writes but never creates one.
    if (data_dir / DATABASE_NAME).is_file():
        return Journal(data_dir)
    return None


def _save(
    client: KelviqClient,
    journal: Journal,
    args: argparse.Namespace,
    base: Product,
    mine: Sequence[TargetImage],
) -> SaveReport:
    engine = SaveEngine(client, concurrency=args.concurrency, journal=journal)
    request = SaveRequest(
        base_url=client.base_url,
        product_id=base.id,
        base=base,
        target=mine,
        keep_mine_all=args.force,
    )
    return engine.save(request, progress=_print_progress)


def _finish(report: SaveReport) -> int:
    for message in report.messages:
        _say(message)
    for image_id, reason in report.failed.items():
        _say(f"Pending: image {image_id}: {reason}")
    _say(report.summary)
    if report.status in ("unreachable", "auth_failed"):
        return EXIT_UNREACHABLE
    if report.status == "conflicts":
        if report.merge is not None:
            _print_conflicts(report.merge, report.snapshot)
        return EXIT_CONFLICT
    if report.status == "saved" and report.verified:
        return EXIT_OK
    return EXIT_FAILED


# -- output -------------------------------------------------------------------------------


def format_patch(patch: Patch) -> str:
    """Return one plan line, e.g. ``PATCH 1a2b ordering=3 name='Front'``."""
    fields = " ".join(f"{name}={_format_value(value)}" for name, value in patch.body.items())
    return f"PATCH {patch.image_id} {fields}"


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _print_plan(patches: Sequence[Patch], *, as_json: bool) -> None:
    for patch in patches:
        if as_json:
            line = json.dumps({"image": patch.image_id, "body": patch.body}, ensure_ascii=False)
        else:
            line = format_patch(patch)
        sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _print_notices(merged: MergeResult) -> None:
    for image_id, name in merged.deleted:
        _say(f"Image {_label(name, image_id)} was deleted on the server; its changes are dropped.")
    for image_id in merged.added:
        image = merged.snapshot.image_by_id(image_id)
        name = image.name if image is not None else None
        _say(f"Image {_label(name, image_id)} was added on the server; it goes after the arranged images.")
    for update in merged.server_updates:
        _say(
            f"Updated on the server: image {update.image_id} {update.field} "
            f"{_format_value(update.old)} -> {_format_value(update.new)}; the server's value is kept."
        )
    for conflict, choice in merged.resolved:
        _say(f"Conflict resolved ({'kept the arrangement' if choice == 'mine' else 'kept the server'}): "
             + describe_conflict(conflict, merged.snapshot))


def _print_conflicts(merged: MergeResult, server: Product | None) -> None:
    _say(f"{count_of(len(merged.conflicts), 'conflict')} with changes made on the server:")
    for conflict in merged.conflicts:
        _say("  " + describe_conflict(conflict, server))


def describe_conflict(conflict: Conflict, server: Product | None) -> str:
    """Return one line describing a conflict in plain words."""
    if isinstance(conflict, FieldConflict):
        if conflict.field == "thumbnail":
            return (
                f"thumbnail: was {_star(conflict.base, server)}, the arrangement stars "
                f"{_star(conflict.mine, server)}, the server stars {_star(conflict.theirs, server)}"
            )
        return (
            f"image {conflict.image_id} {conflict.field}: was {_format_value(conflict.base)}, "
            f"the arrangement has {_format_value(conflict.mine)}, "
            f"the server has {_format_value(conflict.theirs)}"
        )
    return (
        f"order: was [{', '.join(conflict.base_order)}], the arrangement has "
        f"[{', '.join(conflict.mine_order)}], the server has [{', '.join(conflict.theirs_order)}]"
    )


def _star(value: object, server: Product | None) -> str:
    if value is None:
        return "no image"
    ids = value if isinstance(value, tuple) else (value,)
    labels = []
    for image_id in ids:
        image = server.image_by_id(str(image_id)) if server is not None else None
        labels.append(_label(image.name if image is not None else None, str(image_id)))
    return " and ".join(labels)


def _print_progress(progress: SaveProgress) -> None:
    _say(progress.message)


def _api_failure(error: ApiError, what: str) -> int:
    _say(f"{what}: {error.message}")
    if isinstance(error, (NetworkError, AuthenticationError)):
        return EXIT_UNREACHABLE
    if isinstance(error, NotFoundError):
        _say("Check the product id; 'gallery-editor export' prints the arrangement of an existing product.")
    return EXIT_FAILED


def _label(name: str | None, image_id: str) -> str:
    return f"'{name}' ({image_id})" if name is not None else image_id


def _say(message: str, stream: TextIO | None = None) -> None:
    print(message, file=stream or sys.stderr, flush=True)
