"""Default FAQ answers in English and Chinese, so a fresh shop's bot can answer policy questions.

Merchants edit them on the dashboard's FAQ page. Reversing deletes only entries still holding
the default question text.
"""

from django.db import migrations

DEFAULT_FAQ_ENTRIES = [
    {
        "topic": "return_refund",
        "question": "What is your returns and refunds policy?",
        "keywords": "return, refund, money back, exchange, 退货, 退款, 换货",
        "answer_en": (
            "You can return unused items in their original packaging within 30 days of delivery. "
            "Start a return from your order page or ask us here; once the item arrives back we "
            "refund the original payment method within 5 working days."
        ),
        "answer_zh": (
            "未使用且包装完好的商品可在签收后30天内退货。请在订单页面申请退货或在这里联系我们；"
            "收到退回的商品后，我们会在5个工作日内原路退款。"
        ),
        "position": 0,
    },
    {
        "topic": "shipping_delivery",
        "question": "How long does delivery take and how much is shipping?",
        "keywords": "shipping, delivery, deliver, postage, courier, 运费, 配送, 发货, 快递",
        "answer_en": (
            "Orders placed before 2 pm ship the same working day. Standard delivery takes 2-4 "
            "working days and is free on orders over 50; express delivery arrives the next "
            "working day. You get a tracking link by email when your parcel leaves us."
        ),
        "answer_zh": (
            "下午2点前下单当天发货。标准配送需要2-4个工作日，订单满50免运费；加急配送次日送达。"
            "包裹发出后，我们会通过邮件发送物流跟踪链接。"
        ),
        "position": 0,
    },
    {
        "topic": "payment_issue",
        "question": "Which payment methods do you accept, and what if my payment failed?",
        "keywords": "payment, pay, card, paypal, alipay, wechat, charged, 支付, 付款, 信用卡",
        "answer_en": (
            "We accept Visa, Mastercard, PayPal, Alipay and WeChat Pay. If a payment failed, "
            "check the card details and try again; a failed payment is never charged. If you were "
            "charged twice, the duplicate is released by your bank within a few days, or ask for "
            "a member of staff here."
        ),
        "answer_zh": (
            "我们支持Visa、万事达卡、PayPal、支付宝和微信支付。如果支付失败，请检查卡信息后重试，"
            "失败的支付不会扣款。如被重复扣款，银行会在几天内退回，也可以在这里联系人工客服。"
        ),
        "position": 0,
    },
    {
        "topic": "faq",
        "question": "What are your opening hours and how can I contact you?",
        "keywords": "opening hours, hours, open, contact, phone, email, 营业时间, 联系, 电话, 邮箱",
        "answer_en": (
            "Our customer service team is available Monday to Friday, 9:00-18:00, and Saturday, "
            "10:00-16:00. Email support@example.com, call +44 20 7946 0000, or type “talk to a "
            "person” here to reach a member of staff."
        ),
        "answer_zh": (
            "客服时间为周一至周五9:00-18:00，周六10:00-16:00。"
            "请发邮件至 support@example.com、致电 +44 20 7946 0000，或在这里输入“转人工”联系客服。"
        ),
        "position": 0,
    },
]


def add_defaults(apps, schema_editor):
    FaqEntry = apps.get_model("chatbot", "FaqEntry")
    for entry in DEFAULT_FAQ_ENTRIES:
        FaqEntry.objects.get_or_create(question=entry["question"], defaults=entry)


def remove_defaults(apps, schema_editor):
    FaqEntry = apps.get_model("chatbot", "FaqEntry")
    FaqEntry.objects.filter(question__in=[e["question"] for e in DEFAULT_FAQ_ENTRIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("chatbot", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, remove_defaults)]
