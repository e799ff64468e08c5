"""Staff-only preview of the participant pages (nothing is saved). Mounted at research/preview/."""

from django.urls import path

from studyapp.views import preview, preview_trials

urlpatterns = [
    path("<slug:slug>/", preview.preview_index, name="preview_index"),
    path("<slug:slug>/trials/", preview_trials.preview_trials, name="preview_trials"),
    path(
        "<slug:slug>/<slug:condition>/sound/<int:number>.wav",
        preview.preview_sound,
        name="preview_sound",
    ),
    path("<slug:slug>/<slug:condition>/<slug:page>/", preview.preview_page, name="preview_page"),
    path(
        "<slug:slug>/<slug:condition>/<slug:page>/<int:number>/",
        preview.preview_page,
        name="preview_numbered",
    ),
]
