from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from shopops.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/auth/token/", obtain_auth_token, name="api-token"),
    # The apps' API prefixes come before the store's catch-all "api/" router: Django tries
    # patterns in order, and every request that reached the router first paid for trying all
    # of its routes (a fifth of a warm recommendations request; bench/serve_recommendations.py).
    path("api/recommendations/", include("recommendations.api_urls")),
    path("api/chat/", include("chatbot.api_urls")),
    path("api/vision/", include("vision.api_urls")),
    path("api/mining/", include("mining.api_urls")),
    path("api/registry/", include("shopops.registry.api_urls")),
    path("api/", include("shopops.store.urls")),
    path("dashboard/", include("shopops.dashboard.urls")),
    path("dashboard/models/", include("shopops.registry.urls")),
    path("dashboard/mining/", include("mining.urls")),
    path("dashboard/recommendations/", include("recommendations.urls")),
    path("dashboard/chat/", include("chatbot.urls")),
    path("dashboard/vision/", include("vision.urls")),
    path("photo-search/", include("vision.storefront_urls")),
    path("", include("shopops.store.storefront_urls")),
]

if settings.DEBUG:
    # Uploaded product images in development; production serves MEDIA_ROOT from the web server.
    urlpatterns += [path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})]
