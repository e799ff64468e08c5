"""Staff-only pages beyond the admin (dashboards, export downloads)."""

urlpatterns: list = []
