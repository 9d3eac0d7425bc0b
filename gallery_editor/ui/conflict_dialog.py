"""Conflict dialog: keep mine or use theirs for each conflict with a newer server state."""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gallery_editor.domain.conflicts import (
    Choice,
    Conflict,
    ConflictKey,
    FieldConflict,
    MergeResult,
    OrderConflict,
    ServerUpdate,
)
from gallery_editor.domain.gallery import quote
from gallery_editor.domain.review import describe_value

logger = logging.getLogger(__name__)

FIELD_TITLES = {"name": "Name", "enabled": "Shown or hidden", "thumbnail": "Thumbnail"}

# Order lists taller than this scroll, so one conflict cannot push the others out of view.
MAX_ORDER_LIST_ROWS = 12
MAX_NOTICE_ROWS = 6
MAX_CONFLICT_AREA_HEIGHT = 520


class ConflictDialog(QDialog):
    """Dialog that shows a merge's conflicts and notices and collects a choice per conflict.

    OK stays disabled until every conflict has a choice, so nothing of either side is
    overwritten by a default.
    """

    def __init__(self, merge: MergeResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflict_dialog")
        self.setWindowTitle("Changes on the server")
        self.setMinimumWidth(560)
        self._merge = merge
        self._names = _image_names(merge)
        self._groups: dict[ConflictKey, QButtonGroup] = {}
        self._buttons: dict[ConflictKey, tuple[QRadioButton, QRadioButton]] = {}
        self._build()
        self._update_ok()

    # -- public interface --------------------------------------------------------------

    def resolutions(self) -> dict[ConflictKey, Choice]:
        """Return the choice made for each conflict; undecided conflicts are left out."""
        chosen: dict[ConflictKey, Choice] = {}
        for key, (mine, theirs) in self._buttons.items():
            if mine.isChecked():
                chosen[key] = "mine"
            elif theirs.isChecked():
                chosen[key] = "theirs"
        return chosen

    def is_complete(self) -> bool:
        return len(self.resolutions()) == len(self._buttons)

    def choice_buttons(self, key: ConflictKey) -> tuple[QRadioButton, QRadioButton]:
        """Return the *Keep mine* and *Use theirs* buttons of one conflict."""
        return self._buttons[key]

    def choose_all(self, choice: Choice) -> None:
        """Pick the same side for every conflict."""
        for mine, theirs in self._buttons.values():
            (mine if choice == "mine" else theirs).setChecked(True)
        self._update_ok()

    def ok_button(self) -> QPushButton:
        return self._button_box.button(QDialogButtonBox.StandardButton.Ok)

    def notice_texts(self) -> list[str]:
        return [self._notices.item(row).text() for row in range(self._notices.count())]

    # -- building ------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        conflicts = self._merge.conflicts
        layout.addWidget(self._intro_label(len(conflicts)))
        if conflicts:
            layout.addLayout(self._all_buttons())
            layout.addWidget(self._conflict_area(conflicts), 1)
        notices = self._notice_texts()
        self._notices = QListWidget(self)
        self._notices.setObjectName("conflict_notices")
        self._notices.setAccessibleName("Other changes on the server")
        self._notices.addItems(notices)
        self._notices.setWordWrap(True)
        self._notices.setVisible(bool(notices))
        rows = min(len(notices), MAX_NOTICE_ROWS)
        row_height = self._notices.sizeHintForRow(0) if notices else 0
        self._notices.setFixedHeight(rows * row_height + 2 * self._notices.frameWidth() + 4)
        if notices:
            heading = QLabel("Also changed on the server (taken over as they are):", self)
            heading.setBuddy(self._notices)
            layout.addWidget(heading)
            layout.addWidget(self._notices)

        self._button_box = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button().setText("Continue")
        self._button_box.accepted.connect(self.accept)
        self._button_box.rejected.connect(self.reject)
        layout.addWidget(self._button_box)

    def _intro_label(self, count: int) -> QLabel:
        if count == 0:
            text = (
                "The server changed this product since you opened it. "
                "No change of yours conflicts."
            )
        elif count == 1:
            text = "You and the server changed the same thing. Choose which version to keep."
        else:
            text = (
                f"You and the server changed the same {count} things. "
                "Choose which version to keep for each."
            )
        label = QLabel(text, self)
        label.setWordWrap(True)
        label.setObjectName("conflict_intro")
        return label

    def _all_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        keep_all = QPushButton("Keep &mine for all", self)
        keep_all.setObjectName("keep_mine_all")
        keep_all.clicked.connect(lambda: self.choose_all("mine"))
        use_all = QPushButton("Use &theirs for all", self)
        use_all.setObjectName("use_theirs_all")
        use_all.clicked.connect(lambda: self.choose_all("theirs"))
        row.addWidget(keep_all)
        row.addWidget(use_all)
        row.addStretch(1)
        return row

    def _conflict_area(self, conflicts: Sequence[Conflict]) -> QScrollArea:
        inner = QWidget()
        column = QVBoxLayout(inner)
        for conflict in conflicts:
            column.addWidget(self._conflict_box(conflict, inner))
        column.addStretch(1)
        area = QScrollArea(self)
        area.setObjectName("conflict_area")
        area.setWidgetResizable(True)
        area.setWidget(inner)
        frame = 2 * area.frameWidth()
        scroll_bar = area.verticalScrollBar().sizeHint().width()
        # Wide enough that the choices never need a horizontal scroll bar.
        area.setMinimumWidth(inner.minimumSizeHint().width() + scroll_bar + frame)
        area.setMinimumHeight(min(MAX_CONFLICT_AREA_HEIGHT, inner.sizeHint().height() + frame))
        return area

    def _conflict_box(self, conflict: Conflict, parent: QWidget) -> QGroupBox:
        if isinstance(conflict, OrderConflict):
            box = QGroupBox("Order of the images", parent)
            layout = QVBoxLayout(box)
            layout.addLayout(self._order_lists(conflict, box))
            mine_text, theirs_text = "Keep &my order", "Use the &server's order"
        else:
            box = QGroupBox(self._field_title(conflict), parent)
            layout = QVBoxLayout(box)
            layout.addLayout(self._field_values(conflict, box))
            mine_text = f"Keep mine: {self._value_words(conflict, conflict.mine)}"
            theirs_text = f"Use theirs: {self._value_words(conflict, conflict.theirs)}"
        layout.addLayout(self._choice_row(conflict.key, mine_text, theirs_text, box))
        box.setAccessibleName(box.title())
        return box

    def _choice_row(
        self, key: ConflictKey, mine_text: str, theirs_text: str, parent: QWidget
    ) -> QHBoxLayout:
        mine = QRadioButton(mine_text, parent)
        theirs = QRadioButton(theirs_text, parent)
        mine.setObjectName("keep_mine")
        theirs.setObjectName("use_theirs")
        group = QButtonGroup(self)
        group.setExclusive(True)
        group.addButton(mine)
        group.addButton(theirs)
        group.buttonToggled.connect(self._on_choice_toggled)
        self._groups[key] = group
        self._buttons[key] = (mine, theirs)
        row = QHBoxLayout()
        row.addWidget(mine)
        row.addWidget(theirs)
        row.addStretch(1)
        return row

    def _field_values(self, conflict: FieldConflict, parent: QWidget) -> QGridLayout:
        grid = QGridLayout()
        rows = [
            ("Before:", conflict.base),
            ("You changed it to:", conflict.mine),
            ("The server has:", conflict.theirs),
        ]
        for row, (caption, value) in enumerate(rows):
            grid.addWidget(QLabel(caption, parent), row, 0)
            shown = QLabel(self._value_words(conflict, value), parent)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setWordWrap(True)
            grid.addWidget(shown, row, 1)
        grid.setColumnStretch(1, 1)
        return grid

    def _order_lists(self, conflict: OrderConflict, parent: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        sides = [
            ("Your order", conflict.mine_order, conflict.theirs_order),
            ("The server's order", conflict.theirs_order, conflict.mine_order),
        ]
        for title, order, other in sides:
            column = QVBoxLayout()
            caption = QLabel(title, parent)
            listing = self._numbered_list(order, other, parent)
            listing.setAccessibleName(title)
            caption.setBuddy(listing)
            column.addWidget(caption)
            column.addWidget(listing)
            row.addLayout(column)
        return row

    def _numbered_list(
        self, order: Sequence[str], other: Sequence[str], parent: QWidget
    ) -> QListWidget:
        listing = QListWidget(parent)
        listing.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        moved = moved_between(order, other)
        for index, image_id in enumerate(order):
            item = QListWidgetItem(f"{index + 1}. {self._name(image_id)}")
            if image_id in moved:
                font = QFont(listing.font())
                font.setBold(True)
                item.setFont(font)
                item.setToolTip("In another place in the other order")
            listing.addItem(item)
        rows = min(len(order), MAX_ORDER_LIST_ROWS)
        height = listing.sizeHintForRow(0) * rows if order else 0
        listing.setFixedHeight(height + 2 * listing.frameWidth() + 2)
        return listing

    # -- words ---------------------------------------------------------------------------

    def _name(self, image_id: str) -> str:
        return self._names.get(image_id, f"image {image_id}")

    def _field_title(self, conflict: FieldConflict) -> str:
        field_title = FIELD_TITLES.get(conflict.field, conflict.field)
        if conflict.field == "thumbnail":
            return field_title
        if conflict.field == "name" and isinstance(conflict.base, str):
            # Both sides renamed the image, so only its old name is common ground.
            return f"{field_title} of {quote(conflict.base)}"
        return f"{field_title} of {quote(self._name(conflict.image_id))}"

    def _value_words(self, conflict: FieldConflict, value: object) -> str:
        if conflict.field != "thumbnail":
            return describe_value(conflict.field, value)
        if value is None:
            return "no thumbnail"
        if isinstance(value, tuple):
            return "several thumbnails: " + ", ".join(quote(self._name(str(v))) for v in value)
        return f"{quote(self._name(str(value)))} is the thumbnail"

    def _notice_texts(self) -> list[str]:
        merge = self._merge
        texts = [self._update_words(update) for update in merge.server_updates]
        texts += [
            f"{quote(name) if name is not None else 'Image ' + image_id} was deleted on the "
            "server, so your changes to it are dropped."
            for image_id, name in merge.deleted
        ]
        texts += [
            f"{quote(self._name(image_id))} was added on the server and goes after your images."
            for image_id in merge.added
        ]
        return texts

    def _update_words(self, update: ServerUpdate) -> str:
        name = quote(self._name(update.image_id))
        if update.field == "name":
            old, new = describe_value("name", update.old), describe_value("name", update.new)
            return f"{old} was renamed to {new}."
        if update.field == "thumbnail":
            if update.new:
                return f"{name} is now the thumbnail."
            return f"{name} is no longer the thumbnail."
        if update.field == "enabled":
            return f"{name} is now shown." if update.new else f"{name} is now hidden."
        if update.field == "ordering":
            return f"{name} moved to another place in the order."
        return f"{name}: {update.field} is now {update.new!r}."

    # -- state ---------------------------------------------------------------------------

    def _on_choice_toggled(self, button: QAbstractButton, checked: bool) -> None:
        if checked:
            self._update_ok()

    def _update_ok(self) -> None:
        self.ok_button().setEnabled(self.is_complete())

    def accept(self) -> None:
        if not self.is_complete():
            # Enter can reach accept() through the default button even while it is disabled
            # on some styles, so the check repeats here.
            logger.info("Conflict dialog kept open: %d conflicts have no choice",
                        len(self._buttons) - len(self.resolutions()))
            return
        super().accept()


def moved_between(order: Sequence[str], other: Sequence[str]) -> set[str]:
    """Return the fewest images of `order` whose moves explain the difference from `other`.

    The rest form a longest run that keeps the relative order of `other`, found by patience
    sorting in O(n log n). Images missing from `other` count as moved.
    """
    rank = {image_id: position for position, image_id in enumerate(other)}
    indexes = [index for index, image_id in enumerate(order) if image_id in rank]
    tails: list[int] = []  # tails[k]: index into `order` ending the best run of length k + 1
    tail_keys: list[int] = []  # the rank in `other` of each tail, for the binary search
    previous: dict[int, int | None] = {}
    for index in indexes:
        key = rank[order[index]]
        length = bisect_left(tail_keys, key)
        previous[index] = tails[length - 1] if length else None
        if length == len(tails):
            tails.append(index)
            tail_keys.append(key)
        else:
            tails[length] = index
            tail_keys[length] = key
    kept: set[str] = set()
    cursor = tails[-1] if tails else None
    while cursor is not None:
        kept.add(order[cursor])
        cursor = previous[cursor]
    return {image_id for image_id in order if image_id not in kept}


def _image_names(merge: MergeResult) -> dict[str, str]:
    """Map image ids to the names the user knows them by."""
    names: dict[str, str] = {}
    for image_id, name in merge.deleted:
        if name is not None:
            names[image_id] = name
    for image in merge.snapshot.images:
        names[image.id] = image.display_name
    for wanted in merge.target:
        if wanted.name is not None:
            names[wanted.id] = wanted.name
    return names
