"""Staff-only pages beyond the admin (dashboards, export downloads)."""

from django.urls import path

from studyapp import views_researcher

urlpatterns = [
    path("studies/<slug:slug>/", views_researcher.study_dashboard, name="study-dashboard"),
    path(
        "studies/<slug:slug>/timeline/",
        views_researcher.session_timeline,
        name="session-timeline",
    ),
    path(
        "studies/<slug:slug>/chart-<str:kind>.json",
        views_researcher.study_chart,
        name="study-chart",
    ),
    path("exports/<str:token>/download/", views_researcher.export_download, name="export-download"),
]
