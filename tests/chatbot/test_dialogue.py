"""The dialogue manager with in-memory ports: no database, no event loop.

Multi-turn scripts in English and Chinese: context ("how much is it?" after a search), the
order forms (number, then email for a guest), topic changes mid-form, cheaper alternatives on
a price question, clarification below the confidence threshold and never leaking whether
someone else's order exists.
"""

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from chatbot.engine.dialogue import DialogueEngine, DialogueState, Turn
from chatbot.engine.entities import Product, Vocabulary
from chatbot.engine.intents import IntentClassifier
from chatbot.engine.ports import (
    ALREADY_CANCELLED,
    CANCELLED,
    NOT_CANCELLABLE,
    REASON_BOUGHT,
    REASON_POPULAR,
    CancelOutcome,
    FaqAnswer,
    OrderInfo,
    ProductInfo,
    SearchQuery,
)

ROOT = Path(__file__).resolve().parents[2]
INTENTS_CSV = ROOT / "chatbot" / "data" / "intents.csv"

PRODUCTS = [
    ProductInfo(1, "Classic Blue Mug", "12.00", category="Tea & Coffee", stock=40, url="/p/1/"),
    ProductInfo(2, "Rustic Red Mug", "9.50", category="Tea & Coffee", stock=5, url="/p/2/"),
    ProductInfo(3, "Nordic White Mug", "7.00", category="Tea & Coffee", stock=8, url="/p/3/"),
    ProductInfo(4, "Espresso Cup", "5.00", category="Tea & Coffee", stock=None, url="/p/4/"),
    ProductInfo(
        5, "Wool Scarf", "25.00", category="Scarves & Hats", in_stock=False, stock=0, url="/p/5/"
    ),
    ProductInfo(6, "Silk Scarf", "30.00", category="Scarves & Hats", stock=3, url="/p/6/"),
    ProductInfo(7, "Cotton Scarf", "15.00", category="Scarves & Hats", stock=9, url="/p/7/"),
]
SIMILAR = {1: [2, 3, 4], 2: [1, 3], 3: [4, 1], 5: [6, 7], 6: [5, 7]}
SYNONYMS = {1: ("蓝色马克杯",), 5: ("羊毛围巾",), 6: ("丝巾",)}


class FakeCatalog:
    def __init__(self):
        self.by_id = {p.id: p for p in PRODUCTS}
        self.searches = []

    def vocabulary(self):
        return Vocabulary(
            products=tuple(
                Product(p.id, p.name, SYNONYMS.get(p.id, ()), p.category) for p in PRODUCTS
            ),
            categories={"Scarves & Hats": ("scarves", "hats", "围巾")},
        )

    def products(self, ids):
        return [self.by_id[i] for i in ids if i in self.by_id]

    def search(self, query: SearchQuery):
        self.searches.append(query)
        found = []
        for p in PRODUCTS:
            name = p.name.lower()
            if query.product_ids and p.id not in query.product_ids:
                continue
            if query.categories and p.category not in query.categories:
                continue
            if query.keywords and not all(k in name for k in query.keywords):
                continue
            if query.price_max is not None and float(p.price) > query.price_max:
                continue
            if query.price_min is not None and float(p.price) < query.price_min:
                continue
            if query.colours and not any(c in name for c in query.colours):
                continue
            found.append(p)
        return found[: query.limit]

    def similar(self, product_id, *, limit=3):
        return [self.by_id[i] for i in SIMILAR.get(product_id, []) if self.by_id[i].in_stock][
            :limit
        ]

    def cheaper_similar(self, product_id, *, limit=3):
        price = float(self.by_id[product_id].price)
        return [p for p in self.similar(product_id, limit=10) if float(p.price) < price][:limit]


class FakeOrders:
    """Same ownership rules as the database adapter: a customer's own, or number + email."""

    def __init__(self):
        self.orders = {
            "DEMO100123": (OrderInfo("DEMO100123", "shipped", "2026-11-20", "21.50"), 7, "a@x.io"),
            "DEMO100124": (OrderInfo("DEMO100124", "paid", "2026-11-25", "9.50"), 7, "a@x.io"),
            "DEMO100200": (OrderInfo("DEMO100200", "pending", "2026-11-26", "30.00"), 8, "b@y.io"),
        }

    def find(self, *, number, customer_id, email=""):
        row = self.orders.get(number.upper())
        if row is None:
            return None
        order, owner, order_email = row
        if customer_id is not None:
            return order if owner == customer_id else None
        return order if email and email.lower() == order_email else None

    def recent(self, *, customer_id, limit=3):
        return [o for o, owner, _ in self.orders.values() if owner == customer_id][:limit]

    def cancel(self, *, number, customer_id, email=""):
        order = self.find(number=number, customer_id=customer_id, email=email)
        if order is None:
            return None
        if order.status == "cancelled":
            return CancelOutcome(ALREADY_CANCELLED, order)
        if order.status not in ("pending", "paid"):
            return CancelOutcome(NOT_CANCELLABLE, order)
        cancelled = replace(order, status="cancelled")
        _, owner, order_email = self.orders[order.number]
        self.orders[order.number] = (cancelled, owner, order_email)
        return CancelOutcome(CANCELLED, cancelled)


class FakeFaq:
    def __init__(self, answers=None):
        self._answers = answers if answers is not None else FAQ

    def answers(self):
        return list(self._answers)


FAQ = [
    FaqAnswer(
        "return_refund",
        "How do I return an item?",
        ("return", "send back", "退货"),
        "You can return any item within 30 days.",
        "收货后30天内可以退货。",
    ),
    FaqAnswer(
        "return_refund",
        "When will I get my refund?",
        ("refund", "money back", "退款"),
        "Refunds arrive within 5 working days.",
        "退款将在5个工作日内到账。",
    ),
    FaqAnswer(
        "shipping_delivery",
        "How long does delivery take?",
        ("delivery", "shipping", "配送"),
        "Delivery takes 2-4 working days.",
        "",
    ),
]


class FakeRecommender:
    def __init__(self, catalog):
        self.catalog = catalog
        self.calls = []

    def recommend(self, *, customer_id, limit=4):
        self.calls.append(customer_id)
        if customer_id is None:
            return [replace(p, reason_code=REASON_POPULAR) for p in self.catalog.products([6, 1])]
        return [
            replace(p, reason_code=REASON_BOUGHT, reason_product="Wool Scarf")
            for p in self.catalog.products([6, 7])
        ]


class FixedIntent:
    """An intent model that always answers one intent with one probability."""

    def __init__(self, intent, confidence, classes=("order_status", "price_query", "recommend")):
        self.intent, self.confidence, self.classes_ = intent, confidence, list(classes)

    def predict(self, texts):
        return [(self.intent, self.confidence) for _ in texts]

    def predict_proba(self, texts):
        return [[0.4, 0.35, 0.25] for _ in texts]


@pytest.fixture(scope="module")
def classifier():
    with INTENTS_CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return IntentClassifier(random_state=0).fit(
        [r["text"] for r in rows], [r["intent"] for r in rows]
    )


def _engine(classifier, *, threshold=0.45, faq=None):
    catalog = FakeCatalog()
    engine = DialogueEngine(
        classifier=classifier,
        catalog=catalog,
        orders=FakeOrders(),
        faq=FakeFaq(faq),
        recommender=FakeRecommender(catalog),
        threshold=threshold,
    )
    engine.vocabulary_set(catalog.vocabulary())
    return engine


@pytest.fixture
def engine(classifier):
    return _engine(classifier)


class Chat:
    """Drive one conversation: each ``say`` feeds the previous turn's state back in."""

    def __init__(self, engine, customer_id=None):
        self.engine, self.customer_id = engine, customer_id
        self.state = DialogueState()

    def say(self, text) -> Turn:
        turn = self.engine.handle(self.state, text, customer_id=self.customer_id)
        # What the service stores is JSON; the next turn must work from that.
        self.state = DialogueState.from_dict(json.loads(json.dumps(turn.state.to_dict())))
        return turn


def _labels(turn):
    return [button["label"] for button in turn.quick_replies]


def _card_ids(turn):
    return [card["product_id"] for card in turn.cards]


# --- context: products last mentioned ------------------------------------------------------------


def test_how_much_is_it_refers_to_the_products_just_shown_and_offers_cheaper_ones(engine):
    chat = Chat(engine)

    search = chat.say("show me mugs")
    price = chat.say("how much is it?")

    assert search.intent == "product_search"
    assert _card_ids(search) == [1, 2, 3]
    assert search.cards[0] == {
        "product_id": 1,
        "name": "Classic Blue Mug",
        "price": "12.00",
        "currency": "GBP",
        "image_url": "",
        "url": "/p/1/",
        "reason": "",
        "in_stock": True,
    }
    assert price.intent == "price_query"
    assert price.text == (
        "Classic Blue Mug costs £12.00. Rustic Red Mug costs £9.50. Nordic White Mug costs "
        "£7.00. Looking for something cheaper? These are similar and cost less:"
    )
    # up to three cheaper similar products of the first one, with the saving as the reason
    assert _card_ids(price) == [2, 3, 4]
    assert [card["reason"] for card in price.cards] == [
        "£2.50 cheaper than Classic Blue Mug",
        "£5.00 cheaper than Classic Blue Mug",
        "£7.00 cheaper than Classic Blue Mug",
    ]
    assert price.language == "en"


def test_chinese_price_question_refers_to_the_product_named_before(engine):
    chat = Chat(engine)

    first = chat.say("我想看看蓝色马克杯")
    price = chat.say("它多少钱")

    assert first.language == "zh"
    assert _card_ids(first) == [1]
    assert price.intent == "price_query"
    assert price.language == "zh"
    assert price.text == ("Classic Blue Mug的价格是£12.00。想要更便宜的？这些商品相似且价格更低：")
    assert [card["reason"] for card in price.cards] == [
        "比Classic Blue Mug便宜£2.50",
        "比Classic Blue Mug便宜£5.00",
        "比Classic Blue Mug便宜£7.00",
    ]


def test_named_product_beats_the_context_and_becomes_the_new_context(engine):
    chat = Chat(engine)
    chat.say("show me mugs")

    price = chat.say("how much is the silk scarf?")
    stock = chat.say("is it in stock?")

    assert price.text.startswith("Silk Scarf costs £30.00.")
    assert _card_ids(price) == [7]  # the in-stock, cheaper similar scarf only
    assert stock.intent == "stock_query"
    assert stock.text == "Silk Scarf is in stock (3 left)."


def test_out_of_stock_answer_offers_available_similar_products(engine):
    chat = Chat(engine)

    turn = chat.say("is the wool scarf in stock?")

    assert turn.text == "Sorry, Wool Scarf is out of stock. These similar products are available:"
    assert _card_ids(turn) == [6, 7]


def test_cheaper_alternative_uses_the_last_product(engine):
    chat = Chat(engine)
    chat.say("how much is the silk scarf")

    turn = chat.say("anything cheaper?")

    assert turn.intent == "cheaper_alternative"
    assert turn.text == "Cheaper alternatives to Silk Scarf:"
    assert _card_ids(turn) == [7]
    assert turn.cards[0]["reason"] == "£15.00 cheaper than Silk Scarf"


def test_price_question_without_any_product_asks_which_one(engine):
    turn = Chat(engine).say("how much is it?")

    assert turn.text.startswith("Which product do you mean?")
    assert turn.cards == []


def test_price_limit_refines_the_previous_search(engine):
    chat = Chat(engine)
    chat.say("show me mugs")

    turn = chat.say("any under 10 pounds?")

    assert turn.intent == "product_search"
    assert _card_ids(turn) == [2, 3]
    assert engine.catalog.searches[-1].keywords == ["mug"]
    assert engine.catalog.searches[-1].price_max == 10


def test_recommendations_carry_reasons_in_the_customers_language(engine):
    english = Chat(engine, customer_id=7).say("can you recommend something?")
    chinese = Chat(engine).say("给我推荐一下")

    assert english.intent == "recommend"
    assert [(c["product_id"], c["reason"]) for c in english.cards] == [
        (6, "because you bought Wool Scarf"),
        (7, "because you bought Wool Scarf"),
    ]
    assert [(c["product_id"], c["reason"]) for c in chinese.cards] == [
        (6, "本店热销"),
        (1, "本店热销"),
    ]
    assert engine.recommender.calls == [7, None]


# --- order forms -----------------------------------------------------------------------------


def test_guest_order_status_asks_for_the_number_then_the_email(engine):
    chat = Chat(engine)

    ask_number = chat.say("where is my order?")
    ask_email = chat.say("DEMO100123")
    status = chat.say("a@x.io")

    assert ask_number.text == "Sure. What is your order number?"
    assert ask_email.text == (
        "Thanks. To keep your order private, what email address was used for it?"
    )
    assert status.text == "Order DEMO100123 (placed 2026-11-20, £21.50) is shipped."
    assert status.order == {
        "number": "DEMO100123",
        "status": "shipped",
        "status_label": "shipped",
        "placed_at": "2026-11-20",
        "total": "21.50",
        "currency": "GBP",
        "item_count": 0,
        "items": [],
    }
    assert chat.state.form is None


def test_guest_with_the_wrong_email_learns_nothing_about_the_order(engine):
    wrong_email = Chat(engine)
    wrong_email.say("where is my order")
    wrong_email.say("DEMO100123")
    refused = wrong_email.say("someone@else.io")

    unknown = Chat(engine)
    unknown.say("where is my order")
    unknown.say("DEMO999999")
    missing = unknown.say("someone@else.io")

    assert refused.text == (
        "I couldn't find an order with that number and email. Please check both and try again."
    )
    # an existing order with the wrong email reads exactly like an order that does not exist
    assert (refused.text, refused.order, refused.quick_replies) == (
        missing.text,
        missing.order,
        missing.quick_replies,
    )
    assert "shipped" not in refused.text
    assert wrong_email.state.slots == {}
    assert wrong_email.state.form is None


def test_logged_in_customer_sees_only_their_own_orders(engine):
    chat = Chat(engine, customer_id=7)

    own = chat.say("where is order DEMO100123?")
    other = chat.say("where is order DEMO100200?")
    nonexistent = chat.say("where is order DEMO100999?")

    assert own.order["number"] == "DEMO100123"
    assert other.order is None
    assert other.text == (
        "I couldn't find order DEMO100200 on your account. Please check the number."
    )
    assert other.text.replace("DEMO100200", "N") == nonexistent.text.replace("DEMO100999", "N")


def test_logged_in_customer_is_offered_their_recent_orders(engine):
    turn = Chat(engine, customer_id=7).say("where is my order")

    assert turn.text == "Sure. Which order? Pick one of your recent orders or type its number."
    assert _labels(turn) == ["DEMO100123", "DEMO100124", "Never mind"]


def test_topic_change_mid_form_answers_and_the_form_resumes(engine):
    chat = Chat(engine)
    chat.say("where is my order?")

    detour = chat.say("do you have mugs?")
    ask_email = chat.say("DEMO100123")
    status = chat.say("a@x.io")

    assert detour.intent == "product_search"
    assert _card_ids(detour) == [1, 2, 3]
    assert detour.text == (
        "Here is what I found:\nShall we get back to your order? Sure. What is your order number?"
    )
    assert _labels(detour)[-2:] == ["Continue", "Never mind"]
    assert ask_email.text.startswith("Thanks. To keep your order private")
    assert status.order["number"] == "DEMO100123"


def test_never_mind_abandons_the_form(engine):
    chat = Chat(engine)
    chat.say("where is my order?")

    turn = chat.say("never mind")
    # a bare number outside any form still reads as an order to look up
    after = chat.say("100234")

    assert turn.text == "No problem, I've stopped that. What else can I do for you?"
    assert after.intent == "order_status"
    assert after.text == ("Thanks. To keep your order private, what email address was used for it?")


def test_chinese_order_form_keeps_chinese_when_the_customer_types_only_a_number(engine):
    chat = Chat(engine)

    ask = chat.say("我的订单到哪了")
    ask_email = chat.say("DEMO100123")
    status = chat.say("a@x.io")

    assert ask.text == "好的，请告诉我您的订单号。"
    assert ask_email.language == "zh"
    assert ask_email.text == "谢谢。为了保护您的隐私，请提供下单时使用的电子邮箱。"
    assert status.text == "订单DEMO100123（下单于2026-11-20，£21.50）的状态：已发货。"


def test_cancelling_a_paid_order_asks_for_confirmation_then_cancels(engine):
    chat = Chat(engine, customer_id=7)

    confirm = chat.say("I want to cancel order DEMO100124")
    done = chat.say("yes")

    assert confirm.intent == "cancel_order"
    assert (
        confirm.text
        == "Order DEMO100124 (£9.50) is paid and being prepared. Do you want to cancel it?"
    )
    assert _labels(confirm) == ["Yes", "No"]
    assert done.text == "Done: order DEMO100124 is cancelled. Any payment will be refunded."
    assert done.order["status"] == "cancelled"
    assert engine.orders.orders["DEMO100124"][0].status == "cancelled"


def test_cancel_it_after_a_status_check_reuses_the_verified_order(engine):
    chat = Chat(engine)
    chat.say("where is my order DEMO100200")
    chat.say("b@y.io")

    confirm = chat.say("cancel it please")
    kept = chat.say("no")

    assert confirm.text.startswith("Order DEMO100200 (£30.00) is pending.")
    assert kept.text == "OK, I've left order DEMO100200 as it is."
    assert engine.orders.orders["DEMO100200"][0].status == "pending"


def test_switching_from_status_to_cancel_mid_form_keeps_the_order_number(engine):
    chat = Chat(engine)
    chat.say("where is my order?")
    chat.say("DEMO100200")

    switched = chat.say("actually I want to cancel my order")
    confirm = chat.say("b@y.io")

    assert switched.intent == "cancel_order"
    assert switched.text.startswith("Thanks. To keep your order private")
    assert confirm.text == "Order DEMO100200 (£30.00) is pending. Do you want to cancel it?"
    assert chat.state.form["name"] == "cancel_order"
    assert chat.state.form["asking"] == "confirm"


def test_a_shipped_order_cannot_be_cancelled_and_the_bot_explains(engine):
    chat = Chat(engine, customer_id=7)

    turn = chat.say("cancel order DEMO100123")

    assert turn.text == (
        "Order DEMO100123 is shipped, so it can no longer be cancelled. Once it arrives you can "
        "return it instead."
    )
    assert chat.state.form is None
    assert engine.orders.orders["DEMO100123"][0].status == "shipped"


def test_guest_cannot_cancel_someone_elses_order(engine):
    chat = Chat(engine)
    chat.say("cancel my order DEMO100200")

    turn = chat.say("a@x.io")  # the email of a different customer

    assert turn.text.startswith("I couldn't find an order with that number and email.")
    assert engine.orders.orders["DEMO100200"][0].status == "pending"


# --- understanding: threshold, language, FAQ, handoff --------------------------------------------


def test_below_the_threshold_the_bot_asks_to_clarify_with_buttons():
    unsure = _engine(FixedIntent("order_status", 0.40), threshold=0.45)
    sure = _engine(FixedIntent("order_status", 0.40), threshold=0.30)

    clarify = Chat(unsure).say("the thing with the stuff")
    acted = Chat(sure).say("the thing with the stuff")

    assert clarify.intent == "clarify"
    assert clarify.is_fallback is True
    assert clarify.text == "Sorry, I'm not sure I understood. Did you mean one of these?"
    assert clarify.quick_replies == [
        {"label": "Track my order", "text": "where is my order"},
        {"label": "Check a price", "text": "how much is it"},
        {"label": "Recommend something", "text": "recommend something for me"},
    ]
    assert acted.intent == "order_status"
    assert acted.is_fallback is False


def test_an_unsure_message_naming_products_shows_them_from_one_search():
    engine = _engine(FixedIntent("order_status", 0.10))

    turn = Chat(engine).say("do you have mugs")

    assert turn.intent == "product_search"
    assert _card_ids(turn) == [1, 2, 3]
    # the search that settled the intent is the one shown, not run again
    assert [(q.keywords, q.limit) for q in engine.catalog.searches] == [(["mug"], 5)]


def test_an_unsure_message_with_a_colour_checks_the_words_before_filtering():
    engine = _engine(FixedIntent("order_status", 0.10))

    turn = Chat(engine).say("do you have red mugs")

    assert turn.intent == "product_search"
    assert _card_ids(turn) == [2]
    assert [(q.keywords, list(q.colours), q.limit) for q in engine.catalog.searches] == [
        (["mug"], [], 1),
        (["mug"], ["red"], 5),
    ]


def test_gibberish_is_clarified_and_a_second_miss_offers_a_person(engine):
    chat = Chat(engine)

    first = chat.say("asdkjh qwpoeiru zxcmvn")
    second = chat.say("blorp flim zog")

    assert first.intent == "clarify"
    assert "Talk to a person" not in _labels(first)
    assert second.is_fallback is True
    assert second.text.endswith("I can connect you with a member of our team if you like.")
    assert _labels(second)[-1] == "Talk to a person"


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("hello", "en", "Hi! I'm the shop assistant."),
        ("你好", "zh", "您好！我是店铺助手"),
        ("thanks a lot", "en", "You're welcome!"),
        ("谢谢", "zh", "不客气！"),
        ("bye", "en", "Goodbye"),
    ],
)
def test_small_talk_is_answered_in_the_customers_language(engine, text, language, expected):
    turn = Chat(engine).say(text)

    assert turn.language == language
    assert turn.text.startswith(expected)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("how do I return an item?", "You can return any item within 30 days."),
        ("when will I get my refund", "Refunds arrive within 5 working days."),
        ("我要退货", "收货后30天内可以退货。"),
        ("退款多久到账", "退款将在5个工作日内到账。"),
        # no Chinese text for this entry: the English answer rather than nothing
        ("多久能送到", "Delivery takes 2-4 working days."),
    ],
)
def test_policy_answers_come_from_the_faq_entries(engine, text, answer):
    turn = Chat(engine).say(text)

    assert turn.text == answer
    assert _labels(turn)[-1] in ("Talk to a person", "转人工")


def test_without_a_published_answer_the_bot_offers_a_person(classifier):
    engine = _engine(classifier, faq=[])

    turn = Chat(engine).say("what payment methods do you accept?")

    assert turn.intent == "payment_issue"
    assert turn.text == (
        "I don't have an answer for that yet. I can connect you with a member of our team if "
        "you like."
    )
    assert turn.quick_replies == [{"label": "Talk to a person", "text": "talk to a human"}]


@pytest.mark.parametrize(
    ("text", "language"), [("I want to talk to a human", "en"), ("转人工", "zh")]
)
def test_asking_for_a_person_hands_the_conversation_over(engine, text, language):
    chat = Chat(engine)
    chat.say("where is my order")

    turn = chat.say(text)

    assert turn.handoff is True
    assert turn.handoff_reason == "customer asked for a person"
    assert turn.language == language
    assert chat.state.form is None


def test_out_of_scope_gets_a_polite_fallback_with_suggestions(engine):
    turn = Chat(engine).say("what's the weather like in Paris tomorrow?")

    assert turn.intent == "out_of_scope"
    assert turn.is_fallback is True
    assert turn.text.startswith("I'm only able to help with this shop")
    assert _labels(turn) == ["Find a product", "Track my order", "Delivery", "Talk to a person"]


def test_handle_does_not_change_the_state_it_was_given(engine):
    state = DialogueState()

    turn = engine.handle(state, "show me mugs", customer_id=None)

    assert state == DialogueState()
    assert turn.state.last_products == [1, 2, 3]
    assert turn.entities["order_numbers"] == []


@pytest.mark.parametrize(
    "junk",
    [None, "x", {"form": {"name": "drop_tables"}}, {"last_products": "1,2"}, {"slots": [1]}],
)
def test_state_from_malformed_json_falls_back_to_defaults(junk):
    state = DialogueState.from_dict(junk)

    assert state.form is None
    assert state.last_products == []
    assert state.slots == {}


def test_engine_modules_import_no_django():
    code = (
        "import sys\n"
        "import chatbot.engine.dialogue, chatbot.engine.ports, chatbot.engine.replies\n"
        "import chatbot.engine.matching\n"
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)  # noqa: S603
