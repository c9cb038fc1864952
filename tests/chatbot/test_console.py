"""The live console page: staff only, and it carries the widget's embed snippet."""

from django.urls import reverse

CONSOLE = "/dashboard/chat/live/"


def test_the_console_url_is_named():
    assert reverse("chatbot:console") == CONSOLE


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    response = client.get(CONSOLE)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={CONSOLE}"


def test_customers_are_sent_to_the_login_page_like_on_every_dashboard_page(client, customer_user):
    user, _ = customer_user
    client.force_login(user)

    response = client.get(CONSOLE)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={CONSOLE}"


def test_staff_see_the_console_and_the_embed_snippet(client, staff_user):
    client.force_login(staff_user)

    response = client.get(CONSOLE)

    assert response.status_code == 200
    assert response.context["embed_snippet"] == (
        '<script src="http://testserver/static/chatbot/widget.js" defer></script>'
    )
    html = response.content.decode()
    assert 'data-ws-path="/ws/chat/staff/"' in html
    assert "&lt;script src=&quot;http://testserver/static/chatbot/widget.js&quot; defer&gt;" in html


def test_the_widget_session_url_gives_an_anonymous_visitor_a_session(client, db):
    response = client.get(reverse("chat-widget-session"))

    assert response.status_code == 204
    assert response.cookies["sessionid"].value
    assert "no-cache" in response["Cache-Control"]


def test_the_widget_session_url_keeps_an_existing_session(client, db):
    first = client.get(reverse("chat-widget-session")).cookies["sessionid"].value

    again = client.get(reverse("chat-widget-session"))

    assert client.session.session_key == first
    assert "sessionid" not in again.cookies


def test_the_storefront_carries_the_widget(client, db):
    response = client.get("/")

    assert '<script src="/static/chatbot/widget.js" defer></script>' in response.content.decode()
