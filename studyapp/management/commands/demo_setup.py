from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from studyapp.models import Study
from studyapp.selectors.studies import study_measures

ADMIN_USER = "admin"


class Command(BaseCommand):
    help = "Create the demo admin account (once) and print how to reach the admin and the participant link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **opts: Any) -> None:
        study = Study.objects.filter(slug=opts["study"]).first()
        if study is None:
            raise CommandError(
                f"no study with slug {opts['study']!r}; run import_bundle --study first"
            )
        password = self._admin_password()
        base = f"http://{opts['host']}:{opts['port']}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Demo is ready.",
                    f"  Admin:            {base}/admin/   user: {ADMIN_USER}   password: {password}",
                    *(f"  {line}" for line in study_measures(study=study)),
                    f"  Participant link: {base}/s/{study.slug}/  (each new participant joins "
                    "the condition with the fewest sessions; ties are broken at random)",
                    f"  Study:            {study.title} ({study.status}, conditions: "
                    f"{', '.join(c.name for c in study.conditions.all())})",
                    "Press Ctrl+C to stop the server.",
                    "",
                ]
            )
        )

    def _admin_password(self) -> str:
        """The demo admin's password, generated once and kept beside the database."""
        secret_file = Path(settings.DATA_DIR) / "demo-admin-password.txt"
        users = get_user_model().objects
        if secret_file.is_file() and users.filter(username=ADMIN_USER).exists():
            return secret_file.read_text(encoding="utf-8").strip()
        password = secrets.token_urlsafe(12)
        user = users.filter(username=ADMIN_USER).first() or users.create_superuser(
            ADMIN_USER, "", password
        )
        user.set_password(password)
        user.save()
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(password + "\n", encoding="utf-8")
        secret_file.chmod(0o600)
        return password
