"""Property tests of the save planner: random galleries, random targets, brute force."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, combinations

from hypothesis import given, settings
from hypothesis import strategies as st
from simulated_server import SimulatedServer

from gallery_editor.domain.models import Product, ProductImage, TargetImage
from gallery_editor.domain.planner import (
    Patch,
    dense_ordering_patches,
    ordering_changes,
    plan_patches,
)

SERVER_NAMES = ("front.png", "back.png", None, " padded name ", "")


@dataclass(frozen=True)
class Scenario:
    product: Product
    target: tuple[TargetImage, ...]


@st.composite
def orderings(draw: st.DrawFn, count: int) -> list[int]:
    """Draw starting values: dense, from 1, with gaps, all tied, or random with ties."""
    style = draw(st.sampled_from(["dense", "from_one", "gaps", "tied", "random"]))
    if style == "dense":
        values = list(range(count))
    elif style == "from_one":
        values = list(range(1, count + 1))
    elif style == "gaps":
        start = draw(st.integers(0, 3))
        step = draw(st.integers(2, 5))
        values = list(range(start, start + step * count, step))
    elif style == "tied":
        values = [draw(st.integers(0, 1))] * count
    else:
        values = draw(st.lists(st.integers(-2, 2 * count + 2), min_size=count, max_size=count))
    # The server's array order need not follow the values.
    return draw(st.permutations(values)) if draw(st.booleans()) else values


@st.composite
def products(draw: st.DrawFn, max_images: int) -> Product:
    count = draw(st.integers(0, max_images))
    values = draw(orderings(count))
    star_count = draw(st.sampled_from([0, 1, 1, 1, 2, 3])) if count else 0
    starred = set(draw(st.permutations(range(count)))[:star_count])
    images = tuple(
        ProductImage(
            id=f"img-{index}",
            name=draw(st.sampled_from(SERVER_NAMES)),
            image=f"media/{index}.png",
            ordering=value,
            thumbnail=index in starred,
            enabled=draw(st.booleans()),
        )
        for index, value in enumerate(values)
    )
    return Product(id="product-1", name="Random product", images=images)


@st.composite
def target_orders(draw: st.DrawFn, display: list[str]) -> list[str]:
    style = draw(st.sampled_from(["same", "moves", "permutation"]))
    if style == "same" or not display:
        return list(display)
    if style == "permutation":
        return list(draw(st.permutations(display)))
    order = list(display)
    for _ in range(draw(st.integers(1, 3))):
        moved = order.pop(draw(st.integers(0, len(order) - 1)))
        order.insert(draw(st.integers(0, len(order))), moved)
    return order


@st.composite
def target_stars(draw: st.DrawFn, product: Product) -> set[str]:
    """Draw a star request the server can reach: unchanged, none, one image, or some stars kept."""
    starred = {image.id for image in product.images if image.thumbnail}
    choices = ["unchanged", "none"]
    if product.images:
        choices.append("one")
    if len(starred) >= 2:
        choices.append("subset")
    choice = draw(st.sampled_from(choices))
    if choice == "unchanged":
        return starred
    if choice == "none":
        return set()
    if choice == "one":
        return {draw(st.sampled_from([image.id for image in product.images]))}
    kept_stars = st.sets(st.sampled_from(sorted(starred)), min_size=1, max_size=len(starred) - 1)
    return set(draw(kept_stars))


@st.composite
def scenarios(draw: st.DrawFn, max_images: int = 8) -> Scenario:
    product = draw(products(max_images))
    display = [image.id for image in product.images_in_order()]
    order = draw(target_orders(display))
    stars = draw(target_stars(product))
    target = []
    for image_id in order:
        image = product.image_by_id(image_id)
        assert image is not None
        name = f"renamed {image_id}" if draw(st.integers(0, 4)) == 0 else image.name
        enabled = (not image.enabled) if draw(st.integers(0, 4)) == 0 else image.enabled
        target.append(TargetImage(image_id, name, image_id in stars, enabled))
    return Scenario(product, tuple(target))


def final_state(product: Product, patches: Sequence[Patch], semantics: str = "value") -> Product:
    server = SimulatedServer(product, semantics)  # type: ignore[arg-type]
    server.apply_all(patches)
    return server.product()


def assert_reaches_target(final: Product, target: Sequence[TargetImage]) -> None:
    assert [image.id for image in final.images_in_order()] == [t.id for t in target]
    by_id = {image.id: image for image in final.images}
    for target_image in target:
        assert by_id[target_image.id].name == target_image.name, target_image.id
        assert by_id[target_image.id].thumbnail == target_image.thumbnail, target_image.id
        assert by_id[target_image.id].enabled == target_image.enabled, target_image.id


@settings(deadline=None, max_examples=300)
@given(scenario=scenarios(max_images=12), data=st.data())
def test_plan_reaches_target_in_any_order(scenario: Scenario, data: st.DataObject) -> None:
    plan = plan_patches(scenario.product, scenario.target)
    # The save engine sends patches concurrently, so any order must give the same result.
    sent = data.draw(st.permutations(plan))

    assert_reaches_target(final_state(scenario.product, sent), scenario.target)


@settings(deadline=None, max_examples=300)
@given(scenario=scenarios(max_images=12))
def test_plan_sends_only_valid_changes(scenario: Scenario) -> None:
    product, target = scenario.product, scenario.target
    plan = plan_patches(product, target)
    current = {image.id: image for image in product.images}
    position = {target_image.id: index for index, target_image in enumerate(target)}

    assert [position[p.image_id] for p in plan] == sorted(position[p.image_id] for p in plan)
    for patch in plan:
        image = current[patch.image_id]
        assert patch.body
        assert ("name" in patch.body) == (target[position[image.id]].name != image.name)
        assert ("enabled" in patch.body) == (target[position[image.id]].enabled != image.enabled)
        if "ordering" in patch.body:
            assert patch.body["ordering"] != image.ordering
            assert patch.body["ordering"] >= 0  # type: ignore[operator]


@settings(deadline=None, max_examples=300)
@given(scenario=scenarios(max_images=12))
def test_plan_orderings_strict_or_absent(scenario: Scenario) -> None:
    product, target = scenario.product, scenario.target
    plan = plan_patches(product, target)
    same_order = [t.id for t in target] == [image.id for image in product.images_in_order()]

    if same_order:
        assert ordering_changes(plan) == 0
    else:
        by_id = {image.id: image for image in final_state(product, plan).images}
        values = [by_id[t.id].ordering for t in target]
        assert all(low < high for low, high in zip(values, values[1:]))


def subsets(items: Sequence[str]) -> Iterator[tuple[str, ...]]:
    return chain.from_iterable(combinations(items, size) for size in range(len(items) + 1))


def thumbnail_body_sets(product: Product, target: Sequence[TargetImage]) -> list[set[str]]:
    """Return every set of images whose thumbnail bodies reach the requested stars.

    The search covers ``true`` on at most one image plus ``false`` on any subset of the
    currently starred images, which includes every sensible plan.
    """
    starred = [image.id for image in product.images if image.thumbnail]
    requested = {t.id for t in target if t.thumbnail}
    body_sets = []
    for true_id in [None, *(image.id for image in product.images)]:
        for falses in subsets([image_id for image_id in starred if image_id != true_id]):
            outcome = {true_id} if true_id is not None else set(starred) - set(falses)
            if outcome == requested:
                body_sets.append(set(falses) | ({true_id} if true_id is not None else set()))
    return body_sets


def keeps_are_feasible(values: Sequence[int], kept: set[int]) -> bool:
    """Check by greedy assignment that strictly increasing values >= 0 keep `kept`."""
    last = -1
    for index, value in enumerate(values):
        if index in kept:
            if value <= last:
                return False
            last = value
        else:
            last += 1
    return True


def brute_force_cost(product: Product, target: Sequence[TargetImage]) -> tuple[int, int]:
    """Return the fewest (calls, ordering changes) over every reachable plan."""
    current = {image.id: image for image in product.images}
    ids = [t.id for t in target]
    values = [current[image_id].ordering for image_id in ids]
    field_patched = {
        t.id for t in target if t.name != current[t.id].name or t.enabled != current[t.id].enabled
    }
    if ids == [image.id for image in product.images_in_order()]:
        kept_sets = [set(range(len(ids)))]
    else:
        kept_sets = [
            set(kept) for kept in subsets(range(len(ids)))  # type: ignore[arg-type]
            if keeps_are_feasible(values, set(kept))
        ]
    costs = []
    for thumbnail_ids in thumbnail_body_sets(product, target):
        for kept in kept_sets:
            reordered = {ids[index] for index in range(len(ids)) if index not in kept}
            costs.append((len(field_patched | thumbnail_ids | reordered), len(reordered)))
    return min(costs)


@settings(deadline=None, max_examples=300)
@given(scenario=scenarios(max_images=8))
def test_plan_matches_brute_force(scenario: Scenario) -> None:
    plan = plan_patches(scenario.product, scenario.target)

    expected = brute_force_cost(scenario.product, scenario.target)
    assert (len(plan), ordering_changes(plan)) == expected


@settings(deadline=None, max_examples=200)
@given(scenario=scenarios(max_images=12), semantics=st.sampled_from(["value", "position"]))
def test_dense_fallback_reaches_order(scenario: Scenario, semantics: str) -> None:
    plan = dense_ordering_patches(scenario.product, scenario.target)

    assert len(plan) == len(scenario.target)
    final = final_state(scenario.product, plan, semantics)
    assert [image.id for image in final.images_in_order()] == [t.id for t in scenario.target]


@settings(deadline=None, max_examples=100)
@given(scenario=scenarios(max_images=8), semantics=st.sampled_from(["value", "position"]))
def test_dense_fallback_after_partial_plan(scenario: Scenario, semantics: str) -> None:
    # The save engine falls back after a first plan, so the fallback must also work from
    # whatever state that plan left behind, even on a position server that misread it.
    first = plan_patches(scenario.product, scenario.target)
    server = SimulatedServer(scenario.product, semantics)  # type: ignore[arg-type]
    server.apply_all(first)
    reread = server.product()

    fallback = dense_ordering_patches(reread, scenario.target)
    server.apply_all(fallback)

    assert server.display_order() == [t.id for t in scenario.target]
