"""Production settings with the benches' reference views (bench/bench_urls.py)."""

from typing import Any

from portal.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
_templates: dict[str, Any] = TEMPLATES[0]  # noqa: F405
_templates["DIRS"] = [*_templates["DIRS"], BASE_DIR / "bench" / "templates"]  # noqa: F405
