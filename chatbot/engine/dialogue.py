"""The dialogue manager: one customer message in, one structured reply and a new state out.

Pure and synchronous; no Django. Everything the shop knows arrives through the ports of
``chatbot.engine.ports``. :meth:`DialogueEngine.handle` never mutates the state it is given:
the new state comes back in :attr:`Turn.state`, so a caller that fails to save the reply
keeps the old state.

Context the state carries between messages:

- ``last_products``: the products last shown or named, so "how much is it?" / "它多少钱"
  refers to them;
- ``slots``: facts established earlier (a verified order number and email, the last search's
  keywords and category) that later messages reuse;
- ``form``: an open multi-turn task (order status, cancellation) with the slot it is asking
  for. The customer may change topic mid-form: the other question is answered and the bot
  offers to come back; "never mind" / "算了" abandons it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sklearn

from chatbot.engine import replies
from chatbot.engine.entities import Entities, Vocabulary
from chatbot.engine.intents import CLARIFY, IntentScores
from chatbot.engine.matching import CatalogueEntityExtractor
from chatbot.engine.ports import (
    ALREADY_CANCELLED,
    CANCELLED,
    REASON_CHEAPER,
    Catalog,
    FaqAnswer,
    FaqSource,
    IntentModel,
    OrderInfo,
    OrderLookup,
    ProductInfo,
    Recommender,
    SearchQuery,
)
from chatbot.engine.replies import button, intent_button, money, say, word_button
from chatbot.engine.tokenize import CHINESE, ENGLISH, detect_language, normalize, tokenize

ORDER_FORMS = ("order_status", "cancel_order")
FAQ_TOPICS = ("return_refund", "shipping_delivery", "payment_issue", "faq")
CANCELLABLE = ("pending", "paid")
MAX_REFERENCED = 3
SEARCH_LIMIT = 5
CHEAPER_LIMIT = 3
# Fuzzy-match points within which several products count as equally meant.
BEST_MATCH_MARGIN = 5.0

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# A bare reference typed when the bot asked for an order number ("API1A2B3C", "DEMO100123").
_BARE_ORDER_RE = re.compile(r"^#?\s*([A-Za-z]{0,8}[- ]?\d[\dA-Za-z-]{2,39})$")
_LETTERS_RE = re.compile(r"[A-Za-z\u3400-\u9fff]")
_PUNCT_RE = re.compile(r"[\s.,!?;:。，！？；：~、'\"“”]+")

_YES = {"yes", "y", "yeah", "yep", "sure", "ok", "okay", "confirm", "yes please", "do it"}
_YES |= {"please do", "是", "是的", "对", "确定", "确认", "好", "好的", "嗯", "要", "取消吧"}
_NO = {"no", "n", "nope", "no thanks", "keep it", "don't", "dont", "不", "否", "不要", "不是"}
_NO |= {"不用", "不取消", "别取消"}
_ABANDON = {"never mind", "nevermind", "forget it", "stop", "quit", "cancel that", "skip"}
_ABANDON |= {"算了", "不用了", "不查了", "不要了", "没事了", "算了吧", "退出"}
_CONTINUE = {"continue", "go on", "resume", "back", "go back", "继续", "接着", "继续吧"}


def _word_set(text: str) -> set[str]:
    return set(text.split())


# Words that say what the customer wants rather than which product: never used as keywords.
_STOP_WORDS = _word_set(
    """
    a an the i me my we our you your it its it's they them
    this that these those is are was be been do does did
    have has had can could would will shall should may
    might there here what what's which who how much many
    price prices cost costs costing in on at of for to from
    with and or but not no any some anything something else
    more less than show find looking look want wanted need
    needs buy buying purchase get got sell selling sells
    stock stocked available availability left still cheap
    cheaper cheapest expensive under below over above
    between up please like love see tell know about one
    ones similar alternative alternatives recommend
    recommendation recommendations suggest suggestion
    product products item items thing things pound pounds
    quid dollar dollars buck bucks euro euros size sizes
    colour colours color colors hi hello hey thanks thank
    just also too really very good nice best new sale shop
    store got is isn't do don't i'm im let lets let's offer
    offers range kind kinds type types sort cost much
    """
)
_STOP_WORDS |= _word_set(
    """
    我 我们 想 想要 要 买 看 看看 有 没有 有没有 吗 的 了 你们 你 这 个 这个 那个 它 它们
    多少 钱 多少钱 价格 价钱 有货 货 库存 便宜 便宜点 便宜些 一点 推荐 一下 什么 呢 吧 请 给 找
    商品 东西 还有 还 和 元 块 块钱 以下 以内 以上 之间 怎么样 贵 不 是 些 一些 款 卖 吗 哪些
    能 可以 帮 帮我 下 再 更 类似 相似 差不多 其他 别的 个 件 双 条 几
    """
)


# --- state and turn --------------------------------------------------------------------------


@dataclass
class DialogueState:
    language: str = ENGLISH
    last_products: list[int] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    # {"name": "order_status"|"cancel_order", "asking": slot, "slots": {...}} or None
    form: dict[str, Any] | None = None
    fallbacks: int = 0
    turns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DialogueState:
        """Rebuild a state from JSON; unknown or malformed parts fall back to defaults."""
        data = data if isinstance(data, dict) else {}
        form = data.get("form")
        if not (isinstance(form, dict) and form.get("name") in ORDER_FORMS):
            form = None
        else:
            form = {
                "name": form["name"],
                "asking": str(form.get("asking", "")),
                "slots": dict(form.get("slots") or {}),
            }
        last = data.get("last_products")
        return cls(
            language=CHINESE if data.get("language") == CHINESE else ENGLISH,
            last_products=[int(i) for i in last if isinstance(i, int)]
            if isinstance(last, list)
            else [],
            slots=dict(data.get("slots") or {}) if isinstance(data.get("slots"), dict) else {},
            form=form,
            fallbacks=int(data.get("fallbacks") or 0),
            turns=int(data.get("turns") or 0),
        )

    def without_form(self) -> DialogueState:
        state = copy.deepcopy(self)
        state.form = None
        return state


@dataclass
class Turn:
    """The bot's answer to one message, plus what the NLU made of the message."""

    text: str
    intent: str
    confidence: float
    language: str
    state: DialogueState
    cards: list[dict[str, Any]] = field(default_factory=list)
    quick_replies: list[dict[str, str]] = field(default_factory=list)
    order: dict[str, Any] | None = None
    entities: dict[str, Any] = field(default_factory=dict)
    is_fallback: bool = False
    handoff: bool = False
    handoff_reason: str = ""


@dataclass
class _Message:
    """One message as the actions see it."""

    text: str
    entities: Entities
    email: str
    language: str
    intent: str
    confidence: float
    customer_id: int | None
    state: DialogueState
    scores: IntentScores
    # A catalogue search already run for this message, and what it found: a search that
    # decides the intent is not run again to answer.
    searched: tuple[SearchQuery, list[ProductInfo]] | None = None

    @property
    def phrase(self) -> str:
        return _PUNCT_RE.sub(" ", self.text.lower()).strip()


@dataclass
class _Reply:
    text: str
    cards: list[dict[str, Any]] = field(default_factory=list)
    quick_replies: list[dict[str, str]] = field(default_factory=list)
    order: dict[str, Any] | None = None
    is_fallback: bool = False
    handoff: bool = False
    handoff_reason: str = ""


# --- the engine ------------------------------------------------------------------------------


class DialogueEngine:
    """Understand a message (intent, entities, context) and act on it through the ports.

    Parameters
    ----------
    classifier : IntentModel
        The fitted intent classifier.
    catalog, orders, faq, recommender : ports
        The shop's data (see ``chatbot.engine.ports``).
    threshold : float
        Below this intent confidence the bot asks the customer to clarify instead of guessing.
    vocabulary : Vocabulary | None
        Catalogue names for entity extraction; :meth:`vocabulary_set` replaces it later.
    """

    def __init__(
        self,
        *,
        classifier: IntentModel,
        catalog: Catalog,
        orders: OrderLookup,
        faq: FaqSource,
        recommender: Recommender,
        threshold: float = 0.45,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        self.classifier = classifier
        self.catalog = catalog
        self.orders = orders
        self.faq = faq
        self.recommender = recommender
        self.threshold = threshold
        self.extractor = CatalogueEntityExtractor(vocabulary or Vocabulary())

    def vocabulary_set(self, vocabulary: Vocabulary) -> None:
        # One attribute assignment: a message being handled keeps the extractor it started with.
        self.extractor = CatalogueEntityExtractor(vocabulary)

    # -- understanding ----------------------------------------------------------------------------

    def classify(self, text: str) -> tuple[str, float]:
        """The intent to act on (``"clarify"`` below the threshold) and its confidence."""
        return self._understood(self._scores(text))

    def _understood(self, scores: IntentScores) -> tuple[str, float]:
        intent = CLARIFY if scores.confidence < self.threshold else scores.intent
        return intent, round(float(scores.confidence), 4)

    def _scores(self, text: str) -> IntentScores:
        """The classifier's verdict on ``text``, asked once per message.

        :class:`~chatbot.engine.intents.IntentClassifier` answers intent, confidence and every
        class's probability in one pass (``scores``); any other :class:`IntentModel` is asked
        ``predict`` now and ``predict_proba`` only if the clarification buttons need it.
        """
        scores = getattr(self.classifier, "scores", None)
        if scores is not None:
            return scores(text)
        # scikit-learn's input checks cost more than the prediction itself on one short
        # text; TF-IDF features are finite by construction.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            [(intent, confidence)] = self.classifier.predict([text])
        return IntentScores(intent, confidence, self.classifier.classes_, None)

    def _candidates(self, message: _Message, limit: int = 3) -> list[str]:
        """The likeliest actionable intents, for the clarification buttons."""
        scores = message.scores
        probabilities = scores.probabilities
        if probabilities is None:
            with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
                [probabilities] = self.classifier.predict_proba([message.text])
        ranked = sorted(zip(scores.classes, probabilities, strict=True), key=lambda p: -p[1])
        skip = {"out_of_scope", "greet", "goodbye", "thanks", CLARIFY}
        return [str(intent) for intent, _ in ranked if intent not in skip][:limit]

    def handle(self, state: DialogueState, text: str, *, customer_id: int | None) -> Turn:
        """Answer ``text`` given the conversation's ``state``; the new state is in the turn."""
        state = copy.deepcopy(state)
        state.turns += 1
        text = normalize(text)
        entities = self.extractor.extract(text)
        email_match = _EMAIL_RE.search(text)
        email = email_match.group(0).lower() if email_match else ""
        # A message that is only an order number or an email keeps the conversation's language.
        rest = _EMAIL_RE.sub(" ", text)
        for number in entities.order_numbers:
            rest = re.sub(re.escape(number), " ", rest, flags=re.IGNORECASE)
        language = detect_language(text) if _LETTERS_RE.search(rest) else state.language
        state.language = language
        scores = self._scores(text)
        intent, confidence = self._understood(scores)
        message = _Message(
            text, entities, email, language, intent, confidence, customer_id, state, scores
        )

        if state.form is not None:
            reply, intent = self._in_form(message)
        else:
            intent = self._resolve(message)
            reply = self._act(intent, message)
        if reply.is_fallback:
            state.fallbacks += 1
            if state.fallbacks >= 2:
                reply.text = f"{reply.text} {say('offer_human', language)}"
                contact = intent_button("contact_human", language)
                if contact not in reply.quick_replies:
                    reply.quick_replies.append(contact)
        else:
            state.fallbacks = 0
        return Turn(
            text=reply.text,
            intent=intent,
            confidence=confidence,
            language=language,
            state=state,
            cards=reply.cards,
            quick_replies=reply.quick_replies,
            order=reply.order,
            entities=_entities_dict(entities),
            is_fallback=reply.is_fallback,
            handoff=reply.handoff,
            handoff_reason=reply.handoff_reason,
        )

    def _resolve(self, message: _Message) -> str:
        """The intent to act on: the classifier's, or what the entities make obvious."""
        if message.intent != CLARIFY:
            return message.intent
        entities = message.entities
        if entities.order_numbers:
            return "order_status"
        if (
            entities.products
            or entities.categories
            or entities.price_max is not None
            or entities.price_min is not None
        ):
            return "product_search"
        # Unsure what is asked, but the words name products the shop sells ("do you have
        # mugs?"): showing them is a better answer than a question back.
        keywords = self._keywords(message)
        if not keywords:
            return CLARIFY
        query = _search_query(entities, keywords)
        if query.colours or query.sizes:
            # The answer would filter by them too; whether the words name products does not.
            found = self.catalog.search(SearchQuery(keywords=keywords, limit=1))
        else:
            # Exactly the search that answering would run: keep its products for _search.
            found = self.catalog.search(query)
            message.searched = (query, found)
        return "product_search" if found else CLARIFY

    def _act(self, intent: str, message: _Message) -> _Reply:
        if intent in ORDER_FORMS:
            return self._form_start(intent, message)
        if intent in FAQ_TOPICS:
            return self._faq(intent, message)
        action = {
            "greet": self._greet,
            "goodbye": self._goodbye,
            "thanks": self._thanks,
            "product_search": self._search,
            "price_query": self._price,
            "stock_query": self._stock,
            "cheaper_alternative": self._cheaper,
            "recommend": self._recommend,
            "contact_human": self._handoff,
            "out_of_scope": self._out_of_scope,
        }.get(intent, self._clarify)
        return action(message)

    # -- small talk, fallback, handoff ----------------------------------------------------------

    def _greet(self, message: _Message) -> _Reply:
        lang = message.language
        return _Reply(
            say("greet", lang),
            quick_replies=[
                intent_button(i, lang)
                for i in ("product_search", "recommend", "order_status", "shipping_delivery")
            ],
        )

    def _goodbye(self, message: _Message) -> _Reply:
        return _Reply(say("goodbye", message.language))

    def _thanks(self, message: _Message) -> _Reply:
        return _Reply(say("thanks", message.language))

    def _handoff(self, message: _Message) -> _Reply:
        return _Reply(
            say("handoff", message.language),
            handoff=True,
            handoff_reason="customer asked for a person",
        )

    def _out_of_scope(self, message: _Message) -> _Reply:
        lang = message.language
        return _Reply(
            say("out_of_scope", lang),
            quick_replies=[
                intent_button(i, lang)
                for i in ("product_search", "order_status", "shipping_delivery", "contact_human")
            ],
            is_fallback=True,
        )

    def _clarify(self, message: _Message) -> _Reply:
        lang = message.language
        candidates = self._candidates(message) if message.confidence > 0 else []
        if not candidates:
            candidates = ["product_search", "order_status", "shipping_delivery"]
        return _Reply(
            say("clarify", lang),
            quick_replies=[intent_button(i, lang) for i in candidates],
            is_fallback=True,
        )

    # -- products --------------------------------------------------------------------------------

    def _keywords(self, message: _Message) -> list[str]:
        """Content words of the message: what to look for in product names."""
        skip = set(_STOP_WORDS)
        entities = message.entities
        vocabulary = self.extractor.vocabulary
        for table, found in (
            (vocabulary.colours, entities.colours),
            (vocabulary.sizes, entities.sizes),
            (vocabulary.categories, entities.categories),
        ):
            for name in found:
                skip.update(a.lower() for a in (name, *table.get(name, ())))
                skip.update(w for a in table.get(name, ()) for w in a.lower().split())
        words = []
        for token in tokenize(message.text, message.language):
            if token in skip or token.replace(".", "").isdigit() or len(token) < 2:
                continue
            if message.language == ENGLISH and not token.isalpha():
                continue
            word = _singular(token) if message.language == ENGLISH else token
            if word not in skip and word not in words:
                words.append(word)
        return words

    def _referenced(self, message: _Message) -> list[ProductInfo]:
        """The products a price/stock/cheaper question is about: named, else last mentioned."""
        entities = message.entities
        if entities.products:
            found = self.catalog.products(_best_matches(entities)[:MAX_REFERENCED])
            if found:
                return found
        keywords = self._keywords(message)
        if keywords:
            found = self.catalog.search(SearchQuery(keywords=keywords, limit=MAX_REFERENCED))
            if found:
                return found
        if message.state.last_products:
            return self.catalog.products(message.state.last_products[:MAX_REFERENCED])
        return []

    def _remember(self, message: _Message, products: Sequence[ProductInfo]) -> None:
        if products:
            message.state.last_products = [p.id for p in products][:SEARCH_LIMIT]

    def _search(self, message: _Message) -> _Reply:
        lang, entities, slots = message.language, message.entities, message.state.slots
        # A named product is the whole query; its name's words would only repeat it.
        keywords = [] if entities.products else self._keywords(message)
        query = _search_query(entities, keywords)
        if not (query.product_ids or query.categories or query.keywords):
            # A refinement ("any under £20?", "红色的呢") narrows the previous search.
            previous = slots.get("search") or {}
            query = SearchQuery(
                categories=previous.get("categories", []),
                keywords=previous.get("keywords", []),
                price_min=entities.price_min,
                price_max=entities.price_max,
                colours=entities.colours,
                sizes=entities.sizes,
                limit=SEARCH_LIMIT,
            )
        if not (query.categories or query.keywords or query.product_ids) and not (
            query.colours or query.price_max is not None or query.price_min is not None
        ):
            return self._recommend(message)
        if message.searched is not None and message.searched[0] == query:
            products = message.searched[1]
        else:
            products = self.catalog.search(query)
        if not products:
            return _Reply(
                say("search_none", lang),
                quick_replies=[
                    intent_button("recommend", lang),
                    intent_button("contact_human", lang),
                ],
            )
        slots["search"] = {"categories": list(query.categories), "keywords": list(query.keywords)}
        self._remember(message, products)
        return _Reply(
            say("search_found", lang),
            cards=[_card(p, lang) for p in products],
            quick_replies=_product_buttons(lang),
        )

    def _price(self, message: _Message) -> _Reply:
        lang = message.language
        products = self._referenced(message)
        if not products:
            return _Reply(say("which_product", lang), is_fallback=False)
        self._remember(message, products)
        lines = [
            say("price", lang, name=p.name, price=money(p.price, p.currency)) for p in products
        ]
        cheaper = self.catalog.cheaper_similar(products[0].id, limit=CHEAPER_LIMIT)
        cards = [_card(p, lang, compared_to=products[0]) for p in cheaper]
        if cheaper:
            lines.append(say("price_cheaper", lang))
        buttons = [word_button("in_stock", lang), intent_button("recommend", lang)]
        return _Reply(_join(lines, lang), cards=cards, quick_replies=buttons)

    def _stock(self, message: _Message) -> _Reply:
        lang = message.language
        products = self._referenced(message)
        if not products:
            return _Reply(say("which_product", lang))
        self._remember(message, products)
        lines, cards = [], []
        for product in products:
            if not product.in_stock:
                lines.append(say("stock_out", lang, name=product.name))
            elif product.stock is None:
                lines.append(say("stock_in_untracked", lang, name=product.name))
            else:
                lines.append(say("stock_in", lang, name=product.name, stock=product.stock))
        missing = next((p for p in products if not p.in_stock), None)
        if missing is not None:
            alternatives = self.catalog.similar(missing.id, limit=CHEAPER_LIMIT)
            if alternatives:
                lines.append(say("stock_alternatives", lang))
                cards = [_card(p, lang) for p in alternatives]
        return _Reply(
            _join(lines, lang),
            cards=cards,
            quick_replies=[word_button("price", lang), word_button("cheaper", lang)],
        )

    def _cheaper(self, message: _Message) -> _Reply:
        lang, entities = message.language, message.entities
        products = self._referenced(message)
        if not products:
            if entities.price_max is not None or entities.categories:
                return self._search(message)
            return _Reply(say("which_product", lang))
        product = products[0]
        cheaper = self.catalog.cheaper_similar(product.id, limit=CHEAPER_LIMIT)
        if not cheaper:
            return _Reply(
                say("cheaper_none", lang, name=product.name),
                quick_replies=[intent_button("recommend", lang)],
            )
        self._remember(message, cheaper)
        return _Reply(
            say("cheaper_found", lang, name=product.name),
            cards=[_card(p, lang, compared_to=product) for p in cheaper],
            quick_replies=_product_buttons(lang),
        )

    def _recommend(self, message: _Message) -> _Reply:
        lang = message.language
        products = self.recommender.recommend(customer_id=message.customer_id, limit=4)
        if not products:
            return _Reply(say("recommend_none", lang))
        self._remember(message, products)
        return _Reply(
            say("recommend", lang),
            cards=[_card(p, lang) for p in products],
            quick_replies=_product_buttons(lang),
        )

    # -- FAQ -------------------------------------------------------------------------------------

    def _faq(self, intent: str, message: _Message) -> _Reply:
        lang = message.language
        answers = self.faq.answers()
        same_topic = [a for a in answers if a.topic == intent]
        pool = answers if intent == "faq" else same_topic
        phrase = message.text.lower()
        scored = sorted(
            ((_faq_score(a, phrase), index, a) for index, a in enumerate(pool)),
            key=lambda item: (-item[0], item[1]),
        )
        best = None
        if scored and scored[0][0] > 0:
            best = scored[0][2]
        elif same_topic:
            best = same_topic[0]
        if best is None:
            return _Reply(
                f"{say('faq_none', lang)} {say('offer_human', lang)}",
                quick_replies=[intent_button("contact_human", lang)],
                is_fallback=True,
            )
        answer = best.answer_zh if lang == CHINESE and best.answer_zh else best.answer_en
        others = [a for a in (same_topic or pool) if a is not best][:3]
        buttons = [button(a.question, a.question) for a in others]
        buttons.append(intent_button("contact_human", lang))
        return _Reply(answer, quick_replies=buttons)

    # -- order forms ----------------------------------------------------------------------------

    def _form_start(self, name: str, message: _Message) -> _Reply:
        known = message.state.slots
        slots: dict[str, Any] = {}
        if message.entities.order_numbers:
            slots["order_number"] = message.entities.order_numbers[0]
        elif known.get("order_number"):
            # "cancel it" right after checking an order refers to that order.
            slots["order_number"] = known["order_number"]
        if message.email:
            slots["email"] = message.email
        elif known.get("email"):
            slots["email"] = known["email"]
        message.state.form = {"name": name, "asking": "", "slots": slots}
        return self._form_advance(message)

    def _in_form(self, message: _Message) -> tuple[_Reply, str]:
        """Continue, pause (topic change) or abandon the open form; returns (reply, intent)."""
        state = message.state
        form = _open_form(state)
        lang, phrase = message.language, message.phrase
        if phrase in _ABANDON:
            state.form = None
            return _Reply(say("form_abandoned", lang)), form["name"]
        if self._form_fill(form, message):
            return self._form_advance(message), form["name"]
        intent = message.intent
        if intent in ORDER_FORMS and intent != form["name"]:
            # Switching between order tasks keeps what is known about the order.
            for key in ("order_number", "email"):
                if form["slots"].get(key):
                    state.slots[key] = form["slots"][key]
            return self._form_start(intent, message), intent
        if phrase in _CONTINUE or intent == form["name"]:
            return self._form_advance(message), form["name"]
        resolved = self._resolve(message)
        if resolved != CLARIFY:
            reply = self._act(resolved, message)
            if state.form is not None and not reply.handoff:
                prompt = self._form_prompt(message).text
                reply.text = f"{reply.text}\n{say('form_resume', lang, prompt=prompt)}"
                reply.quick_replies = [
                    *reply.quick_replies[:3],
                    word_button("continue", lang),
                    word_button("never_mind", lang),
                ]
            if reply.handoff:
                state.form = None
            return reply, resolved
        if form["asking"] == "email":
            reply = _Reply(say("bad_email", lang), quick_replies=[word_button("never_mind", lang)])
            return reply, form["name"]
        if form["asking"] == "confirm":
            reply = _Reply(
                say("confirm_yes_no", lang),
                quick_replies=[word_button("yes", lang), word_button("no", lang)],
            )
            return reply, form["name"]
        return self._form_advance(message), form["name"]

    def _form_fill(self, form: dict[str, Any], message: _Message) -> bool:
        slots, asking, filled = form["slots"], form["asking"], False
        numbers = message.entities.order_numbers
        if numbers:
            filled = slots.get("order_number") != numbers[0] or asking == "order_number"
            slots["order_number"] = numbers[0]
        elif asking == "order_number":
            bare = _BARE_ORDER_RE.match(message.text.strip())
            if bare:
                slots["order_number"] = bare.group(1).replace(" ", "").upper()
                filled = True
        if message.email:
            slots["email"] = message.email
            filled = True
        if asking == "confirm" and not filled:
            if message.phrase in _YES:
                slots["confirmed"] = True
                filled = True
            elif message.phrase in _NO:
                slots["confirmed"] = False
                filled = True
        return filled

    def _form_prompt(self, message: _Message) -> _Reply:
        """Ask for the form's next missing slot (without looking the order up)."""
        form, lang = _open_form(message.state), message.language
        slots = form["slots"]
        if not slots.get("order_number"):
            form["asking"] = "order_number"
            if message.customer_id is not None:
                recent = self.orders.recent(customer_id=message.customer_id, limit=3)
                if recent:
                    return _Reply(
                        say("ask_order_number_recent", lang),
                        quick_replies=[button(o.number, o.number) for o in recent]
                        + [word_button("never_mind", lang)],
                    )
            return _Reply(
                say("ask_order_number", lang), quick_replies=[word_button("never_mind", lang)]
            )
        if message.customer_id is None and not slots.get("email"):
            form["asking"] = "email"
            return _Reply(say("ask_email", lang), quick_replies=[word_button("never_mind", lang)])
        form["asking"] = "confirm"
        return _Reply(
            say("confirm_yes_no", lang),
            quick_replies=[word_button("yes", lang), word_button("no", lang)],
        )

    def _form_advance(self, message: _Message) -> _Reply:
        state, lang, customer_id = message.state, message.language, message.customer_id
        form = _open_form(state)
        slots = form["slots"]
        if not slots.get("order_number") or (customer_id is None and not slots.get("email")):
            return self._form_prompt(message)
        number, email = slots["order_number"], slots.get("email", "")
        lookup_email = "" if customer_id is not None else email
        order = self.orders.find(number=number, customer_id=customer_id, email=lookup_email)
        if order is None:
            state.form = None
            for key in ("order_number", "email"):
                state.slots.pop(key, None)
            key = "order_not_found_customer" if customer_id is not None else "order_not_found_guest"
            return _Reply(
                say(key, lang, number=number),
                quick_replies=[
                    button(*replies.WORDS["try_again"][lang]),
                    intent_button("contact_human", lang),
                ],
            )
        state.slots["order_number"] = order.number
        if customer_id is None:
            state.slots["email"] = email
        status = replies.order_status_label(order.status, lang)
        summary = _order_dict(order, lang)
        total = money(order.total, order.currency)
        if form["name"] == "order_status":
            state.form = None
            buttons = []
            if order.status in CANCELLABLE:
                buttons.append(intent_button("cancel_order", lang))
            buttons += [intent_button("return_refund", lang), intent_button("contact_human", lang)]
            text = say(
                "order_status",
                lang,
                number=order.number,
                placed_at=order.placed_at,
                total=total,
                status=status,
            )
            return _Reply(text, order=summary, quick_replies=buttons)
        # cancel_order
        if order.status == "cancelled":
            state.form = None
            return _Reply(say("cancel_already", lang, number=order.number), order=summary)
        if order.status not in CANCELLABLE:
            state.form = None
            return _Reply(
                say("cancel_refused", lang, number=order.number, status=status),
                order=summary,
                quick_replies=[
                    intent_button("return_refund", lang),
                    intent_button("contact_human", lang),
                ],
            )
        confirmed = slots.get("confirmed")
        if confirmed is None:
            form["asking"] = "confirm"
            return _Reply(
                say("confirm_cancel", lang, number=order.number, total=total, status=status),
                order=summary,
                quick_replies=[word_button("yes", lang), word_button("no", lang)],
            )
        state.form = None
        if not confirmed:
            return _Reply(say("cancel_kept", lang, number=order.number), order=summary)
        outcome = self.orders.cancel(number=number, customer_id=customer_id, email=lookup_email)
        if outcome is None:  # vanished between the two messages
            return _Reply(say("order_not_found_guest", lang))
        summary = _order_dict(outcome.order, lang)
        if outcome.outcome in (CANCELLED, ALREADY_CANCELLED):
            key = "cancel_done" if outcome.outcome == CANCELLED else "cancel_already"
            return _Reply(say(key, lang, number=order.number), order=summary)
        status = replies.order_status_label(outcome.order.status, lang)
        return _Reply(
            say("cancel_refused", lang, number=order.number, status=status),
            order=summary,
            quick_replies=[intent_button("return_refund", lang)],
        )


# --- helpers ---------------------------------------------------------------------------------


def _open_form(state: DialogueState) -> dict[str, Any]:
    if state.form is None:
        raise RuntimeError("no open form")
    return state.form


def _search_query(entities: Entities, keywords: list[str]) -> SearchQuery:
    """The catalogue search for a message's entities and keywords."""
    return SearchQuery(
        product_ids=_best_matches(entities),
        categories=entities.categories,
        keywords=keywords,
        price_min=entities.price_min,
        price_max=entities.price_max,
        colours=entities.colours,
        sizes=entities.sizes,
        limit=SEARCH_LIMIT,
    )


def _best_matches(entities: Entities) -> list[int]:
    """Products matched about as well as the best one: "clasic blu mug" is the Classic Blue
    Mug (93), not also the Classic Black Mug (84) that a catalogue of variants puts close."""
    if not entities.products:
        return []
    top = entities.products[0].score
    return [m.product_id for m in entities.products if m.score >= top - BEST_MATCH_MARGIN]


def _singular(word: str) -> str:
    if len(word) <= 3:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _join(lines: list[str], language: str) -> str:
    return ("" if language == CHINESE else " ").join(lines)


def _product_buttons(language: str) -> list[dict[str, str]]:
    return [word_button(w, language) for w in ("price", "in_stock", "cheaper")]


def _card(
    product: ProductInfo, language: str, *, compared_to: ProductInfo | None = None
) -> dict[str, Any]:
    reason = ""
    if compared_to is not None:
        saving = float(compared_to.price) - float(product.price)
        reason = replies.reason_text(
            REASON_CHEAPER,
            language,
            saving=money(saving, product.currency),
            product=compared_to.name,
        )
    elif product.reason_code:
        reason = replies.reason_text(product.reason_code, language, product=product.reason_product)
    return {
        "product_id": product.id,
        "name": product.name,
        "price": f"{float(product.price):.2f}",
        "currency": product.currency,
        "image_url": product.image_url,
        "url": product.url,
        "reason": reason,
        "in_stock": product.in_stock,
    }


def _order_dict(order: OrderInfo, language: str) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": order.status,
        "status_label": replies.order_status_label(order.status, language),
        "placed_at": order.placed_at,
        "total": order.total,
        "currency": order.currency,
        "item_count": order.item_count,
        "items": list(order.items),
    }


def _faq_score(answer: FaqAnswer, phrase: str) -> int:
    if answer.question.lower().strip() == phrase.strip():
        return 100
    score = 0
    for keyword in answer.keywords:
        keyword = keyword.strip().lower()
        if not keyword:
            continue
        if any("\u3400" <= ch <= "\u9fff" for ch in keyword):
            score += keyword in phrase
        else:
            score += re.search(rf"(?<![a-z]){re.escape(keyword)}", phrase) is not None
    return score


def _entities_dict(entities: Entities) -> dict[str, Any]:
    return {
        "products": [
            {"id": m.product_id, "name": m.name, "score": m.score} for m in entities.products
        ],
        "categories": entities.categories,
        "quantity": entities.quantity,
        "price_min": entities.price_min,
        "price_max": entities.price_max,
        "colours": entities.colours,
        "sizes": entities.sizes,
        "order_numbers": entities.order_numbers,
    }
