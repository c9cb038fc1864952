"""REST API of the chatbot app."""

urlpatterns: list = []
