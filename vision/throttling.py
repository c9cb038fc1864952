"""The per-client rate limit on search by photo, shared by the API and the storefront page."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class PhotoSearchThrottle(SimpleRateThrottle):
    """``VISION_SEARCH_RATE`` searches per logged-in user, or per client address if anonymous.

    Decoding and embedding a photo costs far more than a catalogue read, hence its own budget
    instead of the API's general anon/user rates.
    """

    scope = "vision_search"

    def get_rate(self) -> str:
        # Read at request time so a deployment (or a test) can change it without a restart.
        return settings.VISION_SEARCH_RATE

    def get_cache_key(self, request, view) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ident = f"user-{user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def photo_search_allowed(request) -> tuple[bool, float | None]:
    """For plain Django views: (allowed, seconds to wait). Counts this request when allowed."""
    throttle = PhotoSearchThrottle()
    if throttle.allow_request(request, None):
        return True, None
    return False, throttle.wait()
