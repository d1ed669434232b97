"""allauth's strings in the portal's voice: `python -m devtools.allauth_voice` writes
`locale_allauth/{fr,en}/LC_MESSAGES/django.po` from the installed allauth's catalogs.

Django reads `LOCALE_PATHS` before any app's catalog, so these override allauth's own
translations without touching the package. Run it again after upgrading allauth.

- French: typographic apostrophes and quotes, and "e-mail", as the portal writes them.
- English: sentence case for labels ("Sign in", not "Sign In") and "e-mail", as the
  portal's own strings spell it.
"""

import re
from pathlib import Path

import allauth
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "locale_allauth"
SOURCE = Path(allauth.__file__).resolve().parent / "locale"

APOSTROPHE = "\u2019"
# Words that keep their capital letter in the middle of an English label.
PROPER = {"I", "ID", "TOTP", "WebAuthn", "Google", "GitHub", "Facebook", "Apple", "OpenID"}
PROPER |= {"Microsoft", "SAML", "OAuth", "Passkey", "Passkeys", "Django", "MFA", "URL"}

# Inside %(name)s, {{ ... }}, {% ... %} and HTML tags nothing is rewritten.
PROTECTED = re.compile(r"(%\([^)]*\)[sd]|\{\{.*?\}\}|\{%.*?%\}|\{[a-z_]+\}|<[^>]*>)")


def _outside_placeholders(text: str, rewrite) -> str:  # type: ignore[no-untyped-def]
    parts = PROTECTED.split(text)
    return "".join(part if PROTECTED.fullmatch(part) else rewrite(part) for part in parts)


def french(text: str) -> str:
    def fix(part: str) -> str:
        part = re.sub(r"(?<![\w])'([^']+)'(?![\w])", "« \\1 »", part)  # quotes, then apostrophes
        part = part.replace("'", APOSTROPHE)
        return re.sub(r"\b([Ee])-?mail\b", lambda m: f"{m.group(1)}-mail", part)

    return _outside_placeholders(text, fix)


def _sentence_case(part: str, *, first: bool) -> str:
    words = part.split(" ")
    for i, word in enumerate(words):
        if first and i == 0:
            head, _, tail = word.partition("-")  # "Sign-In code" -> "Sign-in code"
            words[i] = f"{head}-{tail.lower()}" if tail else word
            continue
        if word in PROPER:
            continue
        if re.fullmatch(r"[A-Z][a-z]+('[a-z]+)?(-[A-Z][a-z]+)*", word):
            words[i] = word.lower()
    return " ".join(words)


def english(text: str) -> str:
    def fix(part: str) -> str:
        part = re.sub(r"\bEmail(s?)\b", r"E-mail\1", part)
        return re.sub(r"\bemail(s?)\b", r"e-mail\1", part)

    title_words = re.findall(r"(?<![.!?] )\b[A-Z][a-z]+", text)
    if len(title_words) >= 2 and not re.search(r"[.!?]\s", text):  # a label, not a sentence
        parts = PROTECTED.split(text)
        out, first = [], True
        for part in parts:
            if PROTECTED.fullmatch(part):
                out.append(part)
            else:
                out.append(_sentence_case(part, first=first))
            if part.strip():
                first = False
        text = "".join(out)
    return _outside_placeholders(text, fix)


def _rewrite(language: str, rewrite) -> Catalog:  # type: ignore[no-untyped-def]
    with (SOURCE / language / "LC_MESSAGES" / "django.po").open("rb") as f:
        source = read_po(f, locale=language)
    catalog = Catalog(locale=language, project="portal", version="1", fuzzy=False)
    for message in source:
        if not message.id or "fuzzy" in message.flags:
            continue
        if language == "en":  # allauth's English catalog is empty: the msgid is the text
            string = tuple(message.id) if isinstance(message.id, tuple) else message.id
        else:
            string = message.string
        if isinstance(string, tuple):
            new = tuple(rewrite(s) for s in string)
            if not all(new) or (new == tuple(string) and language != "en"):
                continue
        else:
            if not string:
                continue
            new = rewrite(string)
            if new == string and (language != "en" or new == message.id):
                continue
        catalog.add(message.id, new, context=message.context, flags=message.flags - {"fuzzy"})
    return catalog


def main() -> None:
    for language, rewrite in (("fr", french), ("en", english)):
        path = TARGET / language / "LC_MESSAGES" / "django.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = _rewrite(language, rewrite)
        catalog.plural_forms  # noqa: B018 - set from the locale
        with path.open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False)
        print(f"{path.relative_to(ROOT)}: {len(catalog)} strings")


if __name__ == "__main__":
    main()
