"""Both catalogs are complete, and no string in the code is missing from them."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import i18n

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    "accounts",
    "subscriptions",
    "support",
    "legal",
    "privacy",
    "portal",
    "backoffice",
    "templates",
    "locale",
    "devtools",
    "manage.py",
]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_catalog_has_no_untranslated_or_fuzzy_entry(language):
    assert i18n.gaps(language) == []


@pytest.mark.skipif(
    shutil.which("xgettext") is None and not os.environ.get("CI"),
    reason="makemessages needs GNU gettext (apt-get install gettext); .ci/run installs it",
)
def test_makemessages_finds_no_string_that_is_not_translated(tmp_path):
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "fr", "-l", "en", "--no-location"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    copy_locale = tmp_path / "locale"
    original = i18n.LOCALE
    try:
        i18n.LOCALE = copy_locale
        untranslated = {language: i18n.gaps(language) for language in ("fr", "en")}
    finally:
        i18n.LOCALE = original
    assert untranslated == {"fr": [], "en": []}
