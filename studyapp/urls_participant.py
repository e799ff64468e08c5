"""URLs a participant (or a bot) visits. No login; the session token is the credential."""

from django.urls import path

from studyapp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("s/<slug:slug>/", views.entry, name="entry"),
    path("p/<str:token>/", views.resume, name="resume"),
    path("p/<str:token>/consent/", views.consent, name="consent"),
    path("p/<str:token>/instructions/", views.instructions, name="instructions"),
    path("p/<str:token>/trial/<int:position>/", views.trial, name="trial"),
    path("p/<str:token>/done/", views.done, name="done"),
    path("p/<str:token>/declined/", views.declined, name="declined"),
    path("m/<str:sha256>.<str:ext>", views.media, name="media"),
]
