"""The portal's voice (docs/wording.md) holds in every catalog, allauth's included."""

import re
from pathlib import Path

import allauth
import pytest
from babel.messages.pofile import read_po
from django.core import mail
from django.utils import translation

translate = translation.gettext  # not a gettext keyword: makemessages leaves these out
ROOT = Path(__file__).resolve().parent.parent
CATALOGS = [ROOT / "locale" / "fr", ROOT / "locale_allauth" / "fr"]
# Placeholders, tags and template code may hold straight quotes: only the words are read.
CODE = re.compile(r"<[^>]*>|%\([^)]*\)[sd]|\{[^}]*\}")
# French words spelled as in English (and names); anything else identical is untranslated.
SAME_IN_FRENCH = {
    "ARR",
    "Actions",
    "Documents",
    "E-mail",
    "MRR",
    "PDF",
    "Pages",
    "RCS %(city)s %(siren)s",
    "SIREN %(siren)s",
    "SIRET %(siret)s",
    "Cache",
    "Canada",
    "Date",
    "France",
    "Luxembourg",
    "Message",
    "Messages",
    "Migrations",
    "Permissions",
    "Stripe",
    "Support",
    "Ticket",
    "Total",
    "Version %(version)s",
    "%(ms)s ms",
    "2000 = 20 %",
    "code",
    "conversation",
    "description",
    "documents",
    "message",
    "messages",
    "ticket",
    "tickets",
    "total",
    "version",
}


def _strings(folder: Path):
    with (folder / "LC_MESSAGES" / "django.po").open("rb") as f:
        catalog = read_po(f, locale="fr")
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            yield msgid, string


@pytest.mark.parametrize("folder", CATALOGS, ids=lambda p: p.parent.name)
def test_french_strings_use_typographic_apostrophes(folder):
    straight = [s for _id, s in _strings(folder) if "'" in CODE.sub("", s)]
    assert straight == []


def test_no_french_string_is_left_in_english():
    same = {msgid for msgid, s in _strings(CATALOGS[0]) if s == msgid} - SAME_IN_FRENCH
    assert same == set()


def test_the_credit_on_the_account_is_never_called_an_avoir():
    # docs/wording.md: the balance owed to the customer is « crédit »; « avoir » is the credit
    # note, the accounting document. One word for each, on every page, e-mail and document.
    wrong = {
        msgid: string
        for msgid, string in _strings(CATALOGS[0])
        if re.search(r"\bcredit\b", msgid, re.IGNORECASE)
        and not re.search(r"credit notes?", msgid, re.IGNORECASE)
        and re.search(r"\bavoirs?\b", string)
    }
    assert wrong == {}


def test_allauth_speaks_in_the_portal_voice_in_both_languages():
    with (Path(allauth.__file__).parent / "locale/fr/LC_MESSAGES/django.po").open("rb") as f:
        allauth_ids = [m.id for m in read_po(f, locale="fr") if m.id and isinstance(m.id, str)]
    with translation.override("fr"):
        french = [translation.gettext(msgid) for msgid in allauth_ids]
    assert [s for s in french if "'" in CODE.sub("", s)] == []
    english = {
        "Sign In": "Sign in",
        "Confirm Access": "Confirm access",
        "Email": "E-mail",
        "Forgot your password?": "Forgot your password?",
    }
    with translation.override("en"):
        assert {msgid: translate(msgid) for msgid in english} == english
    with translation.override("fr"):
        assert translate("Sign In") == "Connexion"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "subject", "says", "never"),
    [
        (
            "en",
            "Confirm your e-mail address",
            "Please confirm that this e-mail address is yours, for your e-confiance SAS account on",
            ["register an account", "Thank you for using", "Email"],
        ),
        (
            "fr",
            "Confirmez votre adresse e-mail",
            "Confirmez que cette adresse e-mail est bien la vôtre, pour votre compte "
            "e-confiance SAS sur",
            ["se connecter à son compte", "Merci d'utiliser", "'"],
        ),
    ],
)
def test_verification_email_speaks_like_the_portal(client, language, subject, says, never):
    client.post(
        f"/{language}/auth/signup/",
        {
            "email": "camille@example.com",
            "name": "Camille Martin",
            "password1": "a-long-passphrase-42",
            "password2": "a-long-passphrase-42",
        },
    )
    (message,) = mail.outbox
    assert message.subject == subject
    assert says in message.body
    html = message.alternatives[0][0]
    assert says.split(",")[0] in html
    for words in never:
        assert words not in message.body, words
