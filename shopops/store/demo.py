"""A deterministic synthetic shop for the demo and for tests that need learnable structure.

The same ``seed`` and ``end_date`` always give the same shop. What it plants, so later features
have something real to find:

- a category tree with products whose generated images differ by category (shape) and by
  product (colour), so an image model can learn categories;
- customers in behaviour groups (champions, loyal, bargain hunters, occasional, lapsed, new)
  with different order rates, basket sizes, price levels and category tastes;
- co-purchase bundles (a product's partner joins the basket with high probability), so rules
  and item-item recommenders have signal;
- seasonality (a November/December peak), returns, guest orders and browsing events.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, ImageDraw, ImageFilter

from shopops.store.models import (
    Category,
    Customer,
    Event,
    Order,
    OrderItem,
    Product,
    ProductImage,
)

DEMO_SKU_PREFIX = "DEMO-"
DEMO_ORDER_PREFIX = "DEMO"
DEMO_CUSTOMER_PREFIX = "DEMO-C"

# root -> leaf -> (nouns, base price, image shape)
CATALOGUE: dict[str, dict[str, tuple[list[str], float, str]]] = {
    "Home & Kitchen": {
        "Tea & Coffee": (
            ["Teapot", "Mug", "Cafetiere", "Tea Caddy", "Coffee Grinder"],
            18.0,
            "circle",
        ),
        "Tableware": (["Dinner Plate", "Serving Bowl", "Cake Stand", "Napkin Set"], 14.0, "ring"),
        "Lighting": (["Table Lamp", "Lantern", "Fairy Lights", "Candle Holder"], 24.0, "triangle"),
    },
    "Fashion": {
        "Bags": (["Tote Bag", "Backpack", "Shoulder Bag", "Wash Bag"], 29.0, "square"),
        "Scarves & Hats": (["Wool Scarf", "Beanie", "Sun Hat", "Silk Scarf"], 19.0, "stripes"),
        "Jewellery": (["Necklace", "Bracelet", "Earrings", "Ring"], 35.0, "diamond"),
    },
    "Stationery": {
        "Notebooks": (["Notebook", "Journal", "Sketchbook", "Planner"], 9.0, "rectangle"),
        "Pens & Pencils": (
            ["Fountain Pen", "Pencil Set", "Marker Set", "Ballpoint Pen"],
            7.0,
            "bars",
        ),
        "Cards & Wrap": (["Greeting Card", "Gift Wrap", "Gift Tags", "Ribbon Set"], 4.0, "cross"),
    },
    "Garden": {
        "Planters": (["Planter", "Hanging Basket", "Window Box", "Seed Tray"], 16.0, "trapezoid"),
        "Garden Tools": (["Trowel", "Pruner", "Watering Can", "Kneeler"], 21.0, "hexagon"),
    },
    "Toys & Games": {
        "Puzzles": (["Jigsaw Puzzle", "Wooden Puzzle", "Puzzle Box", "Brain Teaser"], 15.0, "grid"),
        "Soft Toys": (["Teddy Bear", "Plush Rabbit", "Knitted Owl", "Plush Whale"], 17.0, "dots"),
    },
}
ADJECTIVES = ["Vintage", "Classic", "Rustic", "Modern", "Nordic", "Retro", "Handmade", "Deluxe"]
COLOURS = {
    "Red": (200, 40, 40),
    "Blue": (40, 80, 200),
    "Green": (40, 150, 70),
    "Yellow": (230, 190, 40),
    "Pink": (230, 120, 170),
    "Black": (35, 35, 35),
    "White": (235, 235, 235),
    "Teal": (30, 150, 150),
}
MATERIALS = ["ceramic", "cotton", "wood", "glass", "metal", "linen", "recycled paper", "wool"]
SIZES = ["S", "M", "L"]
COUNTRIES = ["United Kingdom"] * 8 + ["Germany", "France", "Netherlands", "Ireland", "Spain"]
TAGLINES = [
    "A customer favourite.",
    "Makes a lovely gift.",
    "Built to last.",
    "New this season.",
]
SEARCH_TERMS = [
    "gift",
    "red",
    "tea",
    "bag",
    "lamp",
    "notebook",
    "garden",
    "puzzle",
    "cheap",
    "wool",
]


@dataclass(frozen=True)
class BehaviourGroup:
    name: str
    share: float
    orders_per_month: float
    basket_size: float
    price_bias: float  # >1 prefers dearer products, <1 cheaper
    return_rate: float
    active_until_fraction: float = 1.0  # lapsed customers stop early
    starts_late: bool = False


GROUPS = [
    BehaviourGroup("champions", 0.08, 2.2, 5.0, 1.4, 0.02),
    BehaviourGroup("loyal", 0.17, 1.0, 3.5, 1.0, 0.03),
    BehaviourGroup("bargain hunters", 0.20, 0.7, 4.0, 0.5, 0.05),
    BehaviourGroup("occasional", 0.30, 0.18, 2.0, 1.0, 0.05),
    BehaviourGroup("lapsed", 0.15, 0.6, 2.5, 1.0, 0.08, active_until_fraction=0.45),
    BehaviourGroup("new", 0.10, 0.9, 2.5, 1.0, 0.03, starts_late=True),
]


@dataclass
class DemoSummary:
    categories: int = 0
    products: int = 0
    images: int = 0
    customers: int = 0
    orders: int = 0
    returns: int = 0
    guest_orders: int = 0
    items: int = 0
    events: int = 0
    groups: dict[str, int] = field(default_factory=dict)


def demo_data_exists() -> bool:
    return Product.objects.filter(sku__startswith=DEMO_SKU_PREFIX).exists()


@transaction.atomic
def demo_data_delete() -> None:
    """Remove everything the generator made (and nothing else)."""
    Order.objects.filter(external_number__startswith=DEMO_ORDER_PREFIX).delete()
    Event.objects.filter(metadata__demo=True).delete()
    customers = Customer.objects.filter(external_id__startswith=DEMO_CUSTOMER_PREFIX)
    Event.objects.filter(customer__in=customers).delete()
    customers.delete()
    products = Product.objects.filter(sku__startswith=DEMO_SKU_PREFIX)
    for image in ProductImage.objects.filter(product__in=products):
        image.image.delete(save=False)
    products.delete()
    Category.objects.filter(
        slug__startswith="demo-", products__isnull=True, parent__isnull=False
    ).delete()
    Category.objects.filter(
        slug__startswith="demo-", products__isnull=True, children__isnull=True
    ).delete()


def _money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _slug(text: str) -> str:
    return "demo-" + "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-").replace(
        "--", "-"
    )


def product_image_png(
    *, shape: str, colour: tuple[int, int, int], rng: random.Random, size: int = 96
) -> bytes:
    """A product photo stand-in: the category's shape in the product's colour, with jitter."""
    background = tuple(int(235 + rng.random() * 20) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    shade = tuple(max(0, min(255, int(c + rng.uniform(-25, 25)))) for c in colour)
    m = int(size * rng.uniform(0.12, 0.22))  # margin: object scale varies
    dx, dy = rng.randint(-6, 6), rng.randint(-6, 6)
    box = (m + dx, m + dy, size - m + dx, size - m + dy)
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = x1 - x0, y1 - y0
    if shape == "circle":
        draw.ellipse(box, fill=shade)
    elif shape == "ring":
        draw.ellipse(box, outline=shade, width=max(4, size // 10))
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=shade)
    elif shape == "square":
        draw.rectangle(box, fill=shade)
    elif shape == "stripes":
        for i in range(5):
            top = y0 + i * h / 5
            if i % 2 == 0:
                draw.rectangle((x0, top, x1, top + h / 5), fill=shade)
    elif shape == "diamond":
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=shade)
    elif shape == "rectangle":
        draw.rectangle((x0 + w * 0.2, y0, x1 - w * 0.2, y1), fill=shade)
    elif shape == "bars":
        for i in range(4):
            left = x0 + i * w / 4
            draw.rectangle((left + 2, y0, left + w / 8 + 2, y1), fill=shade)
    elif shape == "cross":
        draw.rectangle((cx - w / 8, y0, cx + w / 8, y1), fill=shade)
        draw.rectangle((x0, cy - h / 8, x1, cy + h / 8), fill=shade)
    elif shape == "trapezoid":
        draw.polygon([(x0 + w * 0.2, y0), (x1 - w * 0.2, y0), (x1, y1), (x0, y1)], fill=shade)
    elif shape == "hexagon":
        points = [
            (cx + w / 2 * math.cos(a), cy + h / 2 * math.sin(a))
            for a in (k * math.pi / 3 for k in range(6))
        ]
        draw.polygon(points, fill=shade)
    elif shape == "grid":
        for i in range(3):
            for j in range(3):
                if (i + j) % 2 == 0:
                    draw.rectangle(
                        (
                            x0 + i * w / 3,
                            y0 + j * h / 3,
                            x0 + (i + 1) * w / 3,
                            y0 + (j + 1) * h / 3,
                        ),
                        fill=shade,
                    )
    else:  # dots
        for i in range(3):
            for j in range(3):
                px, py = x0 + (i + 0.5) * w / 3, y0 + (j + 0.5) * h / 3
                draw.ellipse((px - w / 9, py - h / 9, px + w / 9, py + h / 9), fill=shade)
    image = image.rotate(rng.uniform(-12, 12), fillcolor=background)
    image = image.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0, 0.8)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _season(day: date) -> float:
    """Order-rate multiplier: a gentle yearly wave and a November/December peak."""
    base = 1.0 + 0.15 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 80) / 365)
    return base * {11: 1.4, 12: 1.8, 1: 0.8}.get(day.month, 1.0)


@transaction.atomic
def demo_shop_generate(
    *,
    seed: int = 7,
    end_date: date,
    months: int = 18,
    customers: int = 1200,
    products_per_category: int = 20,
    with_images: bool = True,
) -> DemoSummary:
    """Generate the demo shop into the database. Call only when no demo data exists."""
    rng = random.Random(seed)
    summary = DemoSummary()
    end = datetime.combine(end_date, time(20, 0), tzinfo=UTC)
    start = end - timedelta(days=int(months * 30.4))

    # Catalogue ---------------------------------------------------------------------------------
    leaves: list[tuple[Category, list[str], float, str]] = []
    for root_name, children in CATALOGUE.items():
        root = Category.objects.create(name=root_name, slug=_slug(root_name))
        summary.categories += 1
        for leaf_name, (nouns, base_price, shape) in children.items():
            leaf = Category.objects.create(
                name=leaf_name, slug=_slug(f"{root_name} {leaf_name}"), parent=root
            )
            summary.categories += 1
            leaves.append((leaf, nouns, base_price, shape))

    products: list[Product] = []
    shapes: list[str] = []
    colours: list[str] = []
    used_names: set[str] = set()
    for leaf, nouns, base_price, shape in leaves:
        for _ in range(products_per_category):
            while True:
                colour = rng.choice(list(COLOURS))
                name = f"{rng.choice(ADJECTIVES)} {colour} {rng.choice(nouns)}"
                if name not in used_names:
                    used_names.add(name)
                    break
            material = rng.choice(MATERIALS)
            price = _money(max(1.5, base_price * rng.lognormvariate(0, 0.35)))
            products.append(
                Product(
                    sku=f"{DEMO_SKU_PREFIX}{len(products) + 1:04d}",
                    name=name,
                    description=(
                        f"A {name.lower()} in {material}, from our {leaf.name.lower()} range. "
                        f"{rng.choice(TAGLINES)}"
                    ),
                    price=price,
                    currency="GBP",
                    stock=0 if rng.random() < 0.05 else rng.randint(3, 250),
                    is_active=rng.random() > 0.02,
                    attributes={
                        "colour": colour.lower(),
                        "material": material,
                        "size": rng.choice(SIZES),
                    },
                    category=leaf,
                )
            )
            shapes.append(shape)
            colours.append(colour)
    Product.objects.bulk_create(products, batch_size=500)
    products = list(Product.objects.filter(sku__startswith=DEMO_SKU_PREFIX).order_by("sku"))
    summary.products = len(products)

    if with_images:
        images = []
        for product, shape, colour in zip(products, shapes, colours, strict=True):
            png = product_image_png(shape=shape, colour=COLOURS[colour], rng=rng)
            stored = default_storage.save(
                f"products/demo/{product.sku.lower()}.png", ContentFile(png)
            )
            images.append(
                ProductImage(product=product, image=stored, alt_text=product.name, position=0)
            )
        ProductImage.objects.bulk_create(images, batch_size=500)
        summary.images = len(images)

    # Co-purchase bundles: each anchor drags its partner into the basket most of the time.
    by_root: dict[int, list[int]] = {}
    for index, product in enumerate(products):
        by_root.setdefault(product.category.parent_id, []).append(index)
    partners: dict[int, int] = {}
    anchors = rng.sample(range(len(products)), k=len(products) // 6)
    for anchor in anchors:
        same_root = by_root[products[anchor].category.parent_id]
        pool = same_root if rng.random() < 0.7 else range(len(products))
        partner = rng.choice([i for i in pool if i != anchor])
        partners[anchor] = partner

    root_ids = sorted(by_root)
    prices = [float(p.price) for p in products]

    # Customers ----------------------------------------------------------------------------------
    customer_rows: list[Customer] = []
    profiles: list[tuple[BehaviourGroup, list[int], datetime, datetime]] = []
    weights = [g.share for g in GROUPS]
    for n in range(customers):
        group = rng.choices(GROUPS, weights=weights)[0]
        summary.groups[group.name] = summary.groups.get(group.name, 0) + 1
        if group.starts_late:
            first = end - timedelta(days=rng.uniform(10, 60))
        else:
            first = start + timedelta(days=rng.uniform(0, (end - start).days * 0.6))
        active_until = end
        if group.active_until_fraction < 1.0:
            active_until = first + (end - first) * rng.uniform(0.2, group.active_until_fraction)
        favourite_roots = rng.sample(root_ids, k=2)
        customer_rows.append(
            Customer(
                external_id=f"{DEMO_CUSTOMER_PREFIX}{n + 1:05d}",
                name=f"Demo customer {n + 1}",
                email=f"customer{n + 1}@demo.shopops.test",
                country=rng.choice(COUNTRIES),
                first_seen_at=first,
            )
        )
        profiles.append((group, favourite_roots, first, active_until))
    Customer.objects.bulk_create(customer_rows, batch_size=1000)
    customer_rows = list(
        Customer.objects.filter(external_id__startswith=DEMO_CUSTOMER_PREFIX).order_by(
            "external_id"
        )
    )
    summary.customers = len(customer_rows)

    def pick_product(favourite_roots: list[int] | None, price_bias: float) -> int:
        root = (
            rng.choice(favourite_roots)
            if favourite_roots and rng.random() < 0.8
            else rng.choice(root_ids)
        )
        pool = by_root[root]
        # Price taste: weight by price^(bias-1), so bargain hunters lean cheap, champions dear.
        candidates = rng.sample(pool, k=min(6, len(pool)))
        weights_ = [prices[i] ** (price_bias - 1.0) for i in candidates]
        return rng.choices(candidates, weights=weights_)[0]

    # Orders, items, events -----------------------------------------------------------------------
    orders: list[Order] = []
    order_lines: list[list[tuple[int, int]]] = []
    events: list[Event] = []
    now_cutoff = end - timedelta(days=10)

    def add_order(
        customer: Customer | None, group: BehaviourGroup | None, roots, when: datetime
    ) -> None:
        size = max(1, int(rng.expovariate(1 / (group.basket_size if group else 2.0))) + 1)
        chosen: dict[int, int] = {}
        bias = group.price_bias if group else 1.0
        # Bounded: a tiny catalogue may hold fewer distinct products than the basket size drawn.
        size = min(size, len(products))
        for _attempt in range(size * 20):
            if len(chosen) >= size:
                break
            index = pick_product(roots, bias)
            chosen[index] = chosen.get(index, 0) + rng.choice([1, 1, 1, 2, 3])
            partner = partners.get(index)
            if partner is not None and rng.random() < 0.65:
                chosen.setdefault(partner, 1)
        status = (
            Order.Status.DELIVERED
            if when < now_cutoff
            else rng.choice([Order.Status.PAID, Order.Status.SHIPPED, Order.Status.PENDING])
        )
        if rng.random() < 0.01:
            status = Order.Status.CANCELLED
        number = f"{DEMO_ORDER_PREFIX}{len(orders) + 100001}"
        lines = list(chosen.items())
        total = sum((products[i].price * q for i, q in lines), Decimal("0"))
        orders.append(
            Order(
                external_number=number,
                customer=customer,
                status=status,
                placed_at=when,
                email=customer.email if customer else f"guest{len(orders)}@demo.shopops.test",
                country=customer.country if customer else rng.choice(COUNTRIES),
                item_count=len(lines),
                total=total.quantize(Decimal("0.01")),
            )
        )
        order_lines.append(lines)
        for index, _quantity in lines:
            for _ in range(rng.randint(1, 3)):
                events.append(
                    Event(
                        customer=customer,
                        session_key="" if customer else f"guest-{len(orders)}",
                        product=products[index],
                        event_type=Event.Type.VIEW,
                        occurred_at=when - timedelta(minutes=rng.uniform(2, 600)),
                        metadata={"demo": True},
                    )
                )
            events.append(
                Event(
                    customer=customer,
                    session_key="" if customer else f"guest-{len(orders)}",
                    product=products[index],
                    event_type=Event.Type.CART,
                    occurred_at=when - timedelta(minutes=rng.uniform(1, 30)),
                    metadata={"demo": True},
                )
            )
        # Returns: a later order of status "returned" holding part of the basket.
        return_rate = group.return_rate if group else 0.05
        returned_at = when + timedelta(days=rng.uniform(3, 20))
        if status == Order.Status.DELIVERED and rng.random() < return_rate and returned_at <= end:
            returned = lines[: max(1, len(lines) // 2)]
            orders.append(
                Order(
                    external_number=f"{DEMO_ORDER_PREFIX}R{number[len(DEMO_ORDER_PREFIX) :]}",
                    customer=customer,
                    status=Order.Status.RETURNED,
                    placed_at=returned_at,
                    email=orders[-1].email,
                    country=orders[-1].country,
                    item_count=len(returned),
                    total=sum((products[i].price * q for i, q in returned), Decimal("0")).quantize(
                        Decimal("0.01")
                    ),
                )
            )
            order_lines.append(returned)

    for customer, (group, roots, first, active_until) in zip(customer_rows, profiles, strict=True):
        day = first
        while True:
            rate = group.orders_per_month / 30.4 * _season(day.date())
            day = day + timedelta(days=rng.expovariate(rate))
            if day >= min(active_until, end):
                break
            when = day.replace(hour=rng.randint(8, 21), minute=rng.randint(0, 59))
            add_order(customer, group, roots, when)
        # Browsing beyond purchases: views of favourite categories and searches.
        for _ in range(rng.randint(2, 12)):
            when = first + (min(active_until, end) - first) * rng.random()
            events.append(
                Event(
                    customer=customer,
                    product=products[pick_product(roots, group.price_bias)],
                    event_type=Event.Type.VIEW,
                    occurred_at=when,
                    metadata={"demo": True},
                )
            )
        if rng.random() < 0.5:
            events.append(
                Event(
                    customer=customer,
                    event_type=Event.Type.SEARCH,
                    query=rng.choice(SEARCH_TERMS),
                    occurred_at=first + (min(active_until, end) - first) * rng.random(),
                    metadata={"demo": True},
                )
            )

    # Guest orders, spread over the whole window with the same seasonality.
    day = start
    while True:
        day = day + timedelta(days=rng.expovariate(1.6 * _season(day.date())))
        if day >= end:
            break
        add_order(None, None, None, day.replace(hour=rng.randint(8, 21), minute=rng.randint(0, 59)))

    Order.objects.bulk_create(orders, batch_size=2000)
    ids = dict(
        Order.objects.filter(external_number__startswith=DEMO_ORDER_PREFIX).values_list(
            "external_number", "id"
        )
    )
    items = [
        OrderItem(
            order_id=ids[order.external_number],
            product=products[index],
            quantity=quantity,
            unit_price=products[index].price,
        )
        for order, lines in zip(orders, order_lines, strict=True)
        for index, quantity in lines
    ]
    OrderItem.objects.bulk_create(items, batch_size=5000)
    Event.objects.bulk_create(events, batch_size=5000)
    summary.orders = len(orders)
    summary.returns = sum(1 for o in orders if o.status == Order.Status.RETURNED)
    summary.guest_orders = sum(
        1 for o in orders if o.customer is None and o.status != Order.Status.RETURNED
    )
    summary.items = len(items)
    summary.events = len(events)
    return summary
