"""Business logic (writes). Views, admin actions, commands and tasks call these."""
