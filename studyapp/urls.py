from django.contrib import admin
from django.urls import include, path

from studyapp.views.favicon import favicon
from studyapp.views.limits import rate_limited

urlpatterns = [
    # The admin's own login view, behind a per-address limit on attempts (password guessing).
    path("admin/login/", rate_limited("RATE_LIMIT_LOGIN_PER_MIN")(admin.site.login)),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    path("", include("studyapp.urls_participant")),
    path("research/", include("studyapp.urls_researcher")),
]

# 503 (retry shortly) when the database is unreachable, else the 500 page: studyapp/views/errors.py.
handler500 = "studyapp.views.errors.server_error"
