from django import template
from django.urls import reverse

from studyapp.models import MediaFile

register = template.Library()


@register.filter
def media_url(item: MediaFile) -> str:
    """URL of a stored media file (by content hash)."""
    return reverse("media", args=[item.sha256, item.path.rsplit(".", 1)[-1]])
