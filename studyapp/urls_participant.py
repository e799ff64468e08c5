"""URLs a participant (or a bot) visits. No login; the session token is the credential."""

from django.urls import include, path

from studyapp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("s/<slug:slug>/", views.entry, name="entry"),
    path("s/<slug:slug>/withdrawn/", views.withdrawn, name="withdrawn"),
    path("p/<str:token>/", views.resume, name="resume"),
    path("p/<str:token>/consent/", views.consent, name="consent"),
    path("p/<str:token>/about-you/", views.demographics, name="demographics"),
    path("p/<str:token>/questions/", views.questions_before, name="questions_before"),
    path("p/<str:token>/last-questions/", views.questions_after, name="questions_after"),
    path("p/<str:token>/volume/", views.calibration, name="calibration"),
    path("p/<str:token>/volume/sound.wav", views.calibration_sound, name="calibration_sound"),
    path("p/<str:token>/sound-check/<int:number>/", views.screening, name="screening"),
    path(
        "p/<str:token>/sound-check/<int:number>/sound.wav",
        views.screening_sound,
        name="screening_sound",
    ),
    path("p/<str:token>/instructions/", views.instructions, name="instructions"),
    path("p/<str:token>/trial/<int:position>/", views.trial, name="trial"),
    path("p/<str:token>/trial/<int:position>/feedback/", views.feedback, name="feedback"),
    path("p/<str:token>/done/", views.done, name="done"),
    path("p/<str:token>/declined/", views.declined, name="declined"),
    path("p/<str:token>/screened-out/", views.screened_out, name="screened_out"),
    path("p/<str:token>/expired/", views.expired, name="expired"),
    path("p/<str:token>/withdraw/", views.withdraw, name="withdraw"),
    path("m/<str:sha256>.<str:ext>", views.media, name="media"),
    # Staff preview of the participant pages. It lives here (matched before the
    # researcher URLs) so it needs no edit to urls.py; see studyapp/urls_preview.py.
    path("research/preview/", include("studyapp.urls_preview")),
]
