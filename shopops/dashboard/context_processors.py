"""Navigation for the merchant dashboard, collected from every app's ``dashboard_links``."""

from django.apps import apps
from django.urls import NoReverseMatch, reverse


def dashboard_navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_staff:
        return {}
    links = []
    for config in apps.get_app_configs():
        for title, url_name, order in getattr(config, "dashboard_links", []):
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                continue
            links.append({"title": title, "url": url, "order": order})
    links.sort(key=lambda link: (link["order"], link["title"]))
    current = request.path
    for link in links:
        link["is_current"] = current == link["url"] or (
            link["url"] != reverse("dashboard:home") and current.startswith(link["url"])
        )
    return {"dashboard_links": links}
