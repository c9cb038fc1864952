"""What other apps add to every storefront page, collected from their ``AppConfig``s.

- ``storefront_links``: (title, url name, order) for the header, e.g. vision's "Search by
  photo";
- ``storefront_includes``: templates rendered at the end of the body, e.g. the chat widget.

So the storefront's templates name no app: an app that is not installed adds nothing.
"""

from functools import cache

from django.apps import apps
from django.urls import NoReverseMatch, reverse


@cache
def _extensions() -> dict[str, list]:
    links, includes = [], []
    for config in apps.get_app_configs():
        for title, url_name, order in getattr(config, "storefront_links", []):
            try:
                links.append({"title": title, "url": reverse(url_name), "order": order})
            except NoReverseMatch:
                continue
        includes.extend(getattr(config, "storefront_includes", []))
    links.sort(key=lambda link: (link["order"], link["title"]))
    return {"storefront_links": links, "storefront_includes": includes}


def storefront_extensions(request) -> dict[str, list]:
    return _extensions()
