from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("studyapp.urls_participant")),
    path("research/", include("studyapp.urls_researcher")),
]
