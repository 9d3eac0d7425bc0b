"""Live, thread-safe state of the sandbox catalog: products, images and the pictures behind them."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from gallery_editor.sandbox.pictures import PICTURE_FORMATS, PictureSpec, random_picture_spec
from gallery_editor.sandbox.records import ImageRecord, ProductRecord
from gallery_editor.sandbox.seeding import new_image_id, slugify

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = ("name", "ordering", "thumbnail", "enabled")
STATE_FORMAT = 1


class CatalogLookupError(KeyError):
    """Error raised for a product or image that is not in the catalog (the API responds 404)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Catalog:
    """Products and images of one sandbox; every public method takes the same lock.

    With ``ordering_semantics="value"`` an image keeps the ``ordering`` number it was given
    and images are listed by (``ordering``, creation order). With ``"position"`` the values
    are 0-based places that are always dense, and writing one moves the image there.
    """

    def __init__(
        self,
        products: Iterable[ProductRecord],
        well_known: dict[str, str],
        *,
        seed: int,
        media_url: str,
        ordering_semantics: str = "value",
        on_change: Callable[[dict[str, object]], None] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._products: dict[str, ProductRecord] = {}
        self._pictures: dict[str, tuple[str, str, PictureSpec]] = {}
        self._touched: set[str] = set()
        self._seed = seed
        self._media_url = media_url
        self._ordering_semantics = ordering_semantics
        self._on_change = on_change
        self._last_modified = datetime.now(UTC)
        self.well_known: dict[str, str] = dict(well_known)
        for product in products:
            self._products[product.id] = product
            self._register_pictures(product)
            self._normalise_orderings(product)

    @property
    def media_url(self) -> str:
        return self._media_url

    @property
    def ordering_semantics(self) -> str:
        return self._ordering_semantics

    def product_ids(self) -> list[str]:
        with self._lock:
            return list(self._products)

    def get_product(self, product_id: str) -> dict[str, object]:
        """Return the product as ``GET /catalog/products/{pk}/`` serves it (with ``plans``)."""
        with self._lock:
            return self._product(product_id).to_api_json(self._media_url, with_plans=True)

    def list_products(self, search: str = "") -> list[dict[str, object]]:
        """Return the products matching ``search`` in list order, as the list endpoint does."""
        with self._lock:
            return [
                product.to_api_json(self._media_url, with_plans=False)
                for product in self._products.values()
                if not search or product.matches(search)
            ]

    def list_page(self, search: str, start: int, size: int) -> tuple[int, list[dict[str, object]]]:
        """Return the count of products matching ``search`` and the JSON of one page of them."""
        with self._lock:
            matching = [
                product
                for product in self._products.values()
                if not search or product.matches(search)
            ]
            page = matching[start : start + size]
            return len(matching), [
                product.to_api_json(self._media_url, with_plans=False) for product in page
            ]

    def require_image(self, product_id: str, image_id: str) -> None:
        """Raise CatalogLookupError unless the product exists and has the image."""
        with self._lock:
            self._image(self._product(product_id), image_id)

    def update_image(
        self, product_id: str, image_id: str, fields: dict[str, object]
    ) -> dict[str, object]:
        """Apply a validated PATCH body and return the updated image as the API serves it."""
        with self._lock:
            product = self._product(product_id)
            image = self._image(product, image_id)
            self._apply_fields(product, image, fields)
            self._mark_modified(product)
            return image.to_api_json(product.id, self._media_url)

    def set_image_fields(
        self, product_id: str, image_id: str, **fields: object
    ) -> dict[str, object]:
        """Change an image as another user of the API would, without validating the values.

        Tests use this to change the server state behind the app's back. The same rules as for
        a PATCH apply: thumbnail exclusivity, ordering semantics and a new ``modifiedOn``.
        """
        unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown image field(s) {', '.join(unknown)}: use {', '.join(EDITABLE_FIELDS)}"
            )
        return self.update_image(product_id, image_id, fields)

    def add_image(
        self,
        product_id: str,
        name: str | None = None,
        *,
        ordering: int | None = None,
        thumbnail: bool = False,
        enabled: bool = True,
        image_format: str = "JPEG",
        absolute_url: bool = False,
    ) -> str:
        """Append a new image with a generated picture and return its id.

        ``ordering=None`` places it last. ``image_format`` is JPEG, PNG or WEBP.
        """
        picture_format = image_format.upper()
        if picture_format not in PICTURE_FORMATS:
            raise ValueError(f"invalid image_format {image_format!r}: use JPEG, PNG or WEBP")
        with self._lock:
            product = self._product(product_id)
            image_id = new_image_id()
            image = self._new_image_record(product, image_id, name, picture_format, absolute_url)
            image.enabled = enabled
            image.ordering = self._ordering_for_new_image(product) if ordering is None else ordering
            product.images.append(image)
            if self._ordering_semantics == "position":
                self._move_to_position(product, image, image.ordering)
            if thumbnail:
                self._set_thumbnail(product, image, True)
            self._register_picture(product.id, image)
            self._mark_modified(product)
            logger.info("Sandbox added image %s to product %s", image_id, product_id)
            return image_id

    def delete_image(self, product_id: str, image_id: str) -> None:
        """Remove the image record; its picture stays on the media server, like a CDN copy."""
        with self._lock:
            product = self._product(product_id)
            image = self._image(product, image_id)
            product.images.remove(image)
            self._normalise_orderings(product)
            self._mark_modified(product)

    def find_picture(self, product_id: str, image_id: str, file_name: str) -> PictureSpec | None:
        """Return the picture served at ``media/products/<pid>/<iid>/<file_name>``, if any."""
        with self._lock:
            entry = self._pictures.get(image_id)
        if entry is None or entry[0] != product_id or entry[1] != file_name:
            return None
        return entry[2]

    def add_product(
        self, product: ProductRecord, well_known_name: str, *, first: bool = True
    ) -> None:
        """Add an extra product (images folder, big photos, many images) to the catalog."""
        with self._lock:
            if first:
                self._products = {product.id: product, **self._products}
            else:
                self._products[product.id] = product
            self.well_known[well_known_name] = product.id
            self._register_pictures(product)
            self._normalise_orderings(product)

    def state_snapshot(self) -> dict[str, object]:
        """Return the persistent state: every product changed since the seeded start."""
        with self._lock:
            return self._state_snapshot_locked()

    def restore_state(self, state: dict[str, object]) -> None:
        """Replace the images of the products named in ``state`` (written by ``state_snapshot``)."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"unsupported sandbox state format {state.get('format')!r}: "
                f"expected {STATE_FORMAT}; "
                "delete the state file to start from the seeded catalog"
            )
        if state.get("seed") != self._seed:
            logger.warning(
                "Sandbox state was saved with seed %s but the server uses seed %s; "
                "products of the other seed are skipped",
                state.get("seed"),
                self._seed,
            )
        saved_products: dict[str, dict[str, object]] = state.get("products", {})  # type: ignore[assignment]
        with self._lock:
            for product_id, saved in saved_products.items():
                self._restore_product(product_id, saved)

    def _restore_product(self, product_id: str, saved: dict[str, object]) -> None:
        product = self._products.get(product_id)
        if product is None:
            logger.warning("Sandbox state names unknown product %s; it is skipped", product_id)
            return
        product.images = [ImageRecord.from_state_json(item) for item in saved["images"]]  # type: ignore[union-attr]
        product.modified_on = str(saved["modifiedOn"])
        self._register_pictures(product)
        self._normalise_orderings(product)
        self._touched.add(product_id)

    def _product(self, product_id: str) -> ProductRecord:
        product = self._products.get(product_id)
        if product is None:
            raise CatalogLookupError(f"Product {product_id} not found.")
        return product

    def _image(self, product: ProductRecord, image_id: str) -> ImageRecord:
        image = product.find_image(image_id)
        if image is None:
            raise CatalogLookupError(f"Image {image_id} not found in product {product.id}.")
        return image

    def _apply_fields(
        self, product: ProductRecord, image: ImageRecord, fields: dict[str, object]
    ) -> None:
        if "name" in fields:
            image.name = fields["name"]  # type: ignore[assignment]
        if "enabled" in fields:
            image.enabled = bool(fields["enabled"])
        if "thumbnail" in fields:
            self._set_thumbnail(product, image, bool(fields["thumbnail"]))
        if "ordering" in fields:
            ordering = int(fields["ordering"])  # type: ignore[call-overload]
            if self._ordering_semantics == "position":
                self._move_to_position(product, image, ordering)
            else:
                image.ordering = ordering

    def _set_thumbnail(self, product: ProductRecord, image: ImageRecord, value: bool) -> None:
        if value:
            for other in product.images:
                other.thumbnail = False
        image.thumbnail = value

    def _move_to_position(self, product: ProductRecord, image: ImageRecord, position: int) -> None:
        ordered = [other for other in product.images_in_order() if other is not image]
        ordered.insert(min(position, len(ordered)), image)
        for place, other in enumerate(ordered):
            other.ordering = place

    def _normalise_orderings(self, product: ProductRecord) -> None:
        if self._ordering_semantics != "position":
            return
        for place, image in enumerate(product.images_in_order()):
            image.ordering = place

    def _ordering_for_new_image(self, product: ProductRecord) -> int:
        if not product.images:
            return 0
        if self._ordering_semantics == "position":
            return len(product.images)
        return max(image.ordering for image in product.images) + 1

    def _new_image_record(
        self,
        product: ProductRecord,
        image_id: str,
        name: str | None,
        picture_format: str,
        absolute_url: bool,
    ) -> ImageRecord:
        position = len(product.images) + 1
        picture = random_picture_spec(
            random.Random(image_id), image_id, f"New {position} {product.name}", picture_format
        )
        extension = PICTURE_FORMATS[picture_format]
        sequence = max((image.sequence for image in product.images), default=0) + 1
        return ImageRecord(
            id=image_id,
            name=name,
            file_name=f"{slugify(name or 'upload')}.{extension}",
            ordering=0,
            thumbnail=False,
            enabled=True,
            sequence=sequence,
            picture=picture,
            absolute_url=absolute_url,
        )

    def _mark_modified(self, product: ProductRecord) -> None:
        # Strictly increasing, so two edits in the same microsecond still change modifiedOn.
        now = datetime.now(UTC)
        if now <= self._last_modified:
            now = self._last_modified + timedelta(microseconds=1)
        self._last_modified = now
        product.modified_on = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self._touched.add(product.id)
        if self._on_change is not None:
            # Called under the lock so that state files are written in the order of the changes.
            self._on_change(self._state_snapshot_locked())

    def _state_snapshot_locked(self) -> dict[str, object]:
        products = {
            product_id: {
                "modifiedOn": self._products[product_id].modified_on,
                "images": [image.to_state_json() for image in self._products[product_id].images],
            }
            for product_id in sorted(self._touched)
            if product_id in self._products
        }
        return {"format": STATE_FORMAT, "seed": self._seed, "products": products}

    def _register_pictures(self, product: ProductRecord) -> None:
        for image in product.images:
            self._register_picture(product.id, image)

    def _register_picture(self, product_id: str, image: ImageRecord) -> None:
        self._pictures[image.id] = (product_id, image.file_name, image.picture)
