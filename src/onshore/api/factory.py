"""What ``uvicorn`` imports in each worker process: settings from the environment → the app."""

from __future__ import annotations

from onshore.api.app import OnshoreApp
from onshore.bootstrap import build_services
from onshore.config.loading import load_settings
from onshore.observability.logging import configure_logging


def create_app() -> OnshoreApp:
    settings = load_settings()
    configure_logging(settings.logging.level, settings.logging.format)
    return OnshoreApp(build_services(settings))
