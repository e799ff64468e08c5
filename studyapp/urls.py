from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("studyapp.urls_participant")),
    path("research/", include("studyapp.urls_researcher")),
]

# 503 (retry shortly) when the database is unreachable, else the 500 page: studyapp/views/errors.py.
handler500 = "studyapp.views.errors.server_error"
