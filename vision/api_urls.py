"""REST API of the vision app."""

urlpatterns: list = []
