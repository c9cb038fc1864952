"""Every sentence the bot says, in English and Chinese, and the quick-reply buttons it offers.

Kept apart from the dialogue logic so a reply can be reworded (or a language added) without
touching the dialogue manager. Pure Python; no Django.
"""

from __future__ import annotations

from chatbot.engine.tokenize import CHINESE, ENGLISH

TEXTS: dict[str, dict[str, str]] = {
    "greet": {
        ENGLISH: "Hi! I'm the shop assistant. I can find products, check prices and stock, "
        "track your order or answer questions about delivery and returns.",
        CHINESE: "您好！我是店铺助手，可以帮您找商品、查价格和库存、查询订单，"
        "或解答配送和退货问题。",
    },
    "goodbye": {ENGLISH: "Goodbye, and thanks for visiting!", CHINESE: "再见，欢迎再来！"},
    "thanks": {
        ENGLISH: "You're welcome! Anything else I can help with?",
        CHINESE: "不客气！还有什么可以帮您的吗？",
    },
    "clarify": {
        ENGLISH: "Sorry, I'm not sure I understood. Did you mean one of these?",
        CHINESE: "抱歉，我没太明白。您是想问下面哪一项？",
    },
    "out_of_scope": {
        ENGLISH: "I'm only able to help with this shop: products, prices, orders, delivery "
        "and returns. Here are some things you can ask:",
        CHINESE: "我只能解答与本店相关的问题：商品、价格、订单、配送和退货。您可以试试：",
    },
    "offer_human": {
        ENGLISH: "I can connect you with a member of our team if you like.",
        CHINESE: "如果需要，我可以为您转接人工客服。",
    },
    "handoff": {
        ENGLISH: "I'm connecting you with a member of our team. Someone will reply here shortly.",
        CHINESE: "正在为您转接人工客服，请稍候，工作人员会在这里回复您。",
    },
    "search_found": {
        ENGLISH: "Here is what I found:",
        CHINESE: "为您找到以下商品：",
    },
    "search_none": {
        ENGLISH: "Sorry, I couldn't find a matching product. Try another word or a category.",
        CHINESE: "抱歉，没有找到符合的商品。换个词或分类试试？",
    },
    "which_product": {
        ENGLISH: "Which product do you mean? Tell me its name, or search first "
        '(for example "show me mugs").',
        CHINESE: "请问您指的是哪件商品？告诉我商品名称，或先搜索一下（例如“看看杯子”）。",
    },
    "price": {ENGLISH: "{name} costs {price}.", CHINESE: "{name}的价格是{price}。"},
    "price_cheaper": {
        ENGLISH: "Looking for something cheaper? These are similar and cost less:",
        CHINESE: "想要更便宜的？这些商品相似且价格更低：",
    },
    "stock_in": {
        ENGLISH: "{name} is in stock ({stock} left).",
        CHINESE: "{name}有货（剩余{stock}件）。",
    },
    "stock_in_untracked": {ENGLISH: "{name} is available.", CHINESE: "{name}有货。"},
    "stock_out": {
        ENGLISH: "Sorry, {name} is out of stock.",
        CHINESE: "抱歉，{name}暂时缺货。",
    },
    "stock_alternatives": {
        ENGLISH: "These similar products are available:",
        CHINESE: "以下相似商品有货：",
    },
    "cheaper_found": {
        ENGLISH: "Cheaper alternatives to {name}:",
        CHINESE: "比{name}更便宜的选择：",
    },
    "cheaper_none": {
        ENGLISH: "{name} is already the cheapest of its kind I can find.",
        CHINESE: "{name}已经是同类中最便宜的了。",
    },
    "recommend": {
        ENGLISH: "Here are some picks for you:",
        CHINESE: "为您推荐以下商品：",
    },
    "recommend_none": {
        ENGLISH: "I don't have recommendations right now. Try searching for a product.",
        CHINESE: "暂时没有推荐，您可以直接搜索商品。",
    },
    "ask_order_number": {
        ENGLISH: "Sure. What is your order number?",
        CHINESE: "好的，请告诉我您的订单号。",
    },
    "ask_order_number_recent": {
        ENGLISH: "Sure. Which order? Pick one of your recent orders or type its number.",
        CHINESE: "好的，是哪个订单？请选择最近的订单或输入订单号。",
    },
    "ask_email": {
        ENGLISH: "Thanks. To keep your order private, what email address was used for it?",
        CHINESE: "谢谢。为了保护您的隐私，请提供下单时使用的电子邮箱。",
    },
    "bad_email": {
        ENGLISH: "That doesn't look like an email address. Please type the order's email.",
        CHINESE: "这似乎不是有效的邮箱地址，请输入下单时使用的邮箱。",
    },
    "order_not_found_customer": {
        ENGLISH: "I couldn't find order {number} on your account. Please check the number.",
        CHINESE: "您的账户下没有找到订单{number}，请核对订单号。",
    },
    "order_not_found_guest": {
        ENGLISH: "I couldn't find an order with that number and email. Please check both "
        "and try again.",
        CHINESE: "没有找到与该订单号和邮箱匹配的订单，请核对后重试。",
    },
    "order_status": {
        ENGLISH: "Order {number} (placed {placed_at}, {total}) is {status}.",
        CHINESE: "订单{number}（下单于{placed_at}，{total}）的状态：{status}。",
    },
    "confirm_cancel": {
        ENGLISH: "Order {number} ({total}) is {status}. Do you want to cancel it?",
        CHINESE: "订单{number}（{total}）当前状态：{status}。确定要取消吗？",
    },
    "cancel_done": {
        ENGLISH: "Done: order {number} is cancelled. Any payment will be refunded.",
        CHINESE: "订单{number}已取消，已付款项将原路退回。",
    },
    "cancel_already": {
        ENGLISH: "Order {number} is already cancelled.",
        CHINESE: "订单{number}已经取消过了。",
    },
    "cancel_refused": {
        ENGLISH: "Order {number} is {status}, so it can no longer be cancelled. Once it "
        "arrives you can return it instead.",
        CHINESE: "订单{number}的状态是{status}，已无法取消。收到商品后可以申请退货。",
    },
    "cancel_kept": {
        ENGLISH: "OK, I've left order {number} as it is.",
        CHINESE: "好的，订单{number}保持不变。",
    },
    "confirm_yes_no": {
        ENGLISH: "Please answer yes or no.",
        CHINESE: "请回答“是”或“否”。",
    },
    "form_abandoned": {
        ENGLISH: "No problem, I've stopped that. What else can I do for you?",
        CHINESE: "好的，已取消。还有什么可以帮您？",
    },
    "form_resume": {
        ENGLISH: "Shall we get back to your order? {prompt}",
        CHINESE: "我们继续处理您的订单吧？{prompt}",
    },
    "faq_none": {
        ENGLISH: "I don't have an answer for that yet.",
        CHINESE: "这个问题我暂时无法回答。",
    },
}

ORDER_STATUS_LABELS: dict[str, dict[str, str]] = {
    "pending": {ENGLISH: "pending", CHINESE: "待付款"},
    "paid": {ENGLISH: "paid and being prepared", CHINESE: "已付款，备货中"},
    "shipped": {ENGLISH: "shipped", CHINESE: "已发货"},
    "delivered": {ENGLISH: "delivered", CHINESE: "已送达"},
    "cancelled": {ENGLISH: "cancelled", CHINESE: "已取消"},
    "returned": {ENGLISH: "returned", CHINESE: "已退货"},
}

REASONS: dict[str, dict[str, str]] = {
    "similar": {ENGLISH: "similar to {product}", CHINESE: "与{product}相似"},
    "cheaper": {ENGLISH: "{saving} cheaper than {product}", CHINESE: "比{product}便宜{saving}"},
    "bought": {ENGLISH: "because you bought {product}", CHINESE: "因为您买过{product}"},
    "segment_popular": {ENGLISH: "popular with customers like you", CHINESE: "与您相似的顾客喜欢"},
    "popular": {ENGLISH: "popular in the shop", CHINESE: "本店热销"},
}

# (label, text sent when pressed) per intent, for clarification and suggestions.
INTENT_BUTTONS: dict[str, dict[str, tuple[str, str]]] = {
    "product_search": {
        ENGLISH: ("Find a product", "show me products"),
        CHINESE: ("找商品", "我想找商品"),
    },
    "price_query": {ENGLISH: ("Check a price", "how much is it"), CHINESE: ("查价格", "多少钱")},
    "stock_query": {ENGLISH: ("Check stock", "is it in stock"), CHINESE: ("查库存", "有货吗")},
    "recommend": {
        ENGLISH: ("Recommend something", "recommend something for me"),
        CHINESE: ("推荐商品", "给我推荐一下"),
    },
    "cheaper_alternative": {
        ENGLISH: ("Something cheaper", "anything cheaper?"),
        CHINESE: ("更便宜的", "有没有便宜点的"),
    },
    "order_status": {
        ENGLISH: ("Track my order", "where is my order"),
        CHINESE: ("查订单", "我的订单到哪了"),
    },
    "cancel_order": {
        ENGLISH: ("Cancel an order", "cancel my order"),
        CHINESE: ("取消订单", "我想取消订单"),
    },
    "return_refund": {
        ENGLISH: ("Returns", "how do I return an item"),
        CHINESE: ("退货退款", "怎么退货"),
    },
    "shipping_delivery": {
        ENGLISH: ("Delivery", "how long does delivery take"),
        CHINESE: ("配送", "多久能送到"),
    },
    "payment_issue": {
        ENGLISH: ("Payment", "what payment methods do you accept"),
        CHINESE: ("支付", "支持哪些付款方式"),
    },
    "contact_human": {
        ENGLISH: ("Talk to a person", "talk to a human"),
        CHINESE: ("转人工", "转人工"),
    },
    "faq": {ENGLISH: ("Other questions", "I have a question"), CHINESE: ("其他问题", "我有个问题")},
    "greet": {ENGLISH: ("Hello", "hello"), CHINESE: ("你好", "你好")},
    "goodbye": {ENGLISH: ("Bye", "bye"), CHINESE: ("再见", "再见")},
    "thanks": {ENGLISH: ("Thanks", "thanks"), CHINESE: ("谢谢", "谢谢")},
}

WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "yes": {ENGLISH: ("Yes", "yes"), CHINESE: ("是", "是")},
    "no": {ENGLISH: ("No", "no"), CHINESE: ("否", "不")},
    "never_mind": {ENGLISH: ("Never mind", "never mind"), CHINESE: ("算了", "算了")},
    "continue": {ENGLISH: ("Continue", "continue"), CHINESE: ("继续", "继续")},
    "try_again": {ENGLISH: ("Try again", "where is my order"), CHINESE: ("重试", "查订单")},
    "cheaper": {
        ENGLISH: ("Anything cheaper?", "anything cheaper?"),
        CHINESE: ("更便宜的", "有没有便宜点的"),
    },
    "in_stock": {ENGLISH: ("In stock?", "is it in stock"), CHINESE: ("有货吗", "有货吗")},
    "price": {ENGLISH: ("How much?", "how much is it"), CHINESE: ("多少钱", "多少钱")},
}

CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€", "CNY": "¥", "JPY": "¥"}


def say(key: str, language: str, **values: object) -> str:
    texts = TEXTS[key]
    return texts.get(language, texts[ENGLISH]).format(**values)


def button(label: str, text: str) -> dict[str, str]:
    return {"label": label, "text": text}


def intent_button(intent: str, language: str) -> dict[str, str]:
    label, text = INTENT_BUTTONS[intent].get(language, INTENT_BUTTONS[intent][ENGLISH])
    return button(label, text)


def word_button(word: str, language: str) -> dict[str, str]:
    label, text = WORDS[word].get(language, WORDS[word][ENGLISH])
    return button(label, text)


def order_status_label(status: str, language: str) -> str:
    labels = ORDER_STATUS_LABELS.get(status)
    return labels.get(language, labels[ENGLISH]) if labels else status


def reason_text(code: str, language: str, **values: object) -> str:
    texts = REASONS.get(code)
    if not texts:
        return ""
    return texts.get(language, texts[ENGLISH]).format(**values)


def money(amount: str | float, currency: str) -> str:
    """``money("12.5", "GBP")`` -> ``"£12.50"``; unknown currencies put the code after."""
    value = f"{float(amount):.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency}"
