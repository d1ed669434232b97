"""Catalog chores: `fill-en` copies English msgids into the English catalog; `apply FILE`
merges French translations from a JSON {msgid: msgstr} file; `check` lists gaps."""

import json
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

LOCALE = Path(__file__).resolve().parent.parent / "locale"


def _load(language: str) -> tuple[Path, Catalog]:
    path = LOCALE / language / "LC_MESSAGES" / "django.po"
    with path.open("rb") as f:
        return path, read_po(f, locale=language)


def _save(path: Path, catalog: Catalog) -> None:
    catalog.fuzzy = False
    catalog.project = "portal"
    catalog.version = "1"
    catalog.msgid_bugs_address = ""
    catalog.last_translator = "Portal team"
    catalog.language_team = f"{catalog.locale} <{catalog.locale}@portal.localhost>"
    with path.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False)


def fill_en() -> None:
    path, catalog = _load("en")
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            message.string = tuple(message.id)
        else:
            message.string = message.id
        message.flags.discard("fuzzy")
    _save(path, catalog)


def apply(json_path: str) -> None:
    translations = json.loads(Path(json_path).read_text(encoding="utf-8"))
    path, catalog = _load("fr")
    for message in catalog:
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if key in translations:
            value = translations[key]
            message.string = tuple(value) if isinstance(value, list) else value
            message.flags.discard("fuzzy")
    _save(path, catalog)


def gaps(language: str = "fr") -> list[str]:
    _, catalog = _load(language)
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            missing.append(message.id[0] if isinstance(message.id, tuple) else message.id)
    return missing


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "fill-en":
        fill_en()
    elif command == "apply":
        apply(sys.argv[2])
    else:
        for msgid in gaps():
            print(json.dumps(msgid, ensure_ascii=False))
