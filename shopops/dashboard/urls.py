from django.urls import path

from shopops.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("imports/", views.imports, name="imports"),
]
