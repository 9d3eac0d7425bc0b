"""Child process for the journal's multi-process tests; run as a script, not collected.

Modes:
    write FOLDER WORKER COUNT GO_FILE  wait for GO_FILE, then write COUNT sessions,
                                       sent records and cache entries
    hold-lock FOLDER                   take the write lock, write a row without
                                       committing, print "locked" and sleep
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

from gallery_editor.journal import Journal
from journal_helpers import API_URL, make_product


def wait_for(go_file: Path, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not go_file.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{go_file} did not appear within {limit} s")
        time.sleep(0.002)


def write(folder: Path, worker: str, count: int, go_file: Path) -> None:
    wait_for(go_file)
    journal = Journal(folder)
    for index in range(count):
        product_id = f"{worker}-{index}"
        product = make_product(product_id, image_count=2)
        state = {"worker": worker, "index": index}
        journal.save_session(API_URL, product_id, product, state, [state], 1, product.name)
        journal.record_sent(API_URL, product_id, f"{product_id}-img-0", {"ordering": index})
        journal.cache_product(API_URL, product)
    journal.close()
    print("done", flush=True)


def hold_lock(folder: Path) -> None:
    Journal(folder).close()
    connection = sqlite3.connect(folder / "journal.sqlite3", isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "INSERT INTO sessions VALUES ('uncommitted', 'p', 'n', '{}', '{}', '[]', 0, 0, "
        "'2024-01-01T00:00:00.000000+00:00', '2024-01-01T00:00:00.000000+00:00')"
    )
    print("locked", flush=True)
    time.sleep(300)


def main(arguments: list[str]) -> None:
    mode, folder = arguments[0], Path(arguments[1])
    if mode == "write":
        write(folder, arguments[2], int(arguments[3]), Path(arguments[4]))
    elif mode == "hold-lock":
        hold_lock(folder)
    else:
        raise SystemExit(f"unknown mode {mode!r}; expected 'write' or 'hold-lock'")


if __name__ == "__main__":
    main(sys.argv[1:])
