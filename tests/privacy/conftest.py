from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import User
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"

# Distinctive values: the erasure test looks for them in every table afterwards.
PERSONAL = {
    "email": "zephyrine.quillard@example.org",
    "name": "Zéphyrine Quillard-Bontemps",
    "company": "Horlogerie Quillard Frères",
    "address_line1": "17 impasse des Glycines-Mauves",
    "address_line2": "Bâtiment Mirabelle, escalier Q",
    "postal_code": "84190",
    "city": "Gigondas-sur-Ouvèze",
}


def _user_fields():
    return {f.name for f in User._meta.concrete_fields}


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def person(db):
    """A customer with every profile field filled in, verified, speaking French."""
    values = {k: v for k, v in PERSONAL.items() if k in _user_fields()}
    user = UserFactory(**values, language="fr")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def person_client(client, person):
    client.force_login(person)
    return client


def reauthenticate(client, password=PASSWORD):
    response = client.post("/en/auth/reauthenticate/", {"password": password})
    assert response.status_code == 302, response.content.decode()[:500]


@pytest.fixture
def support_ticket():
    """A ticket with a message and an attachment, when the support app has them."""

    def _create(user, *, body, filename="scan.pdf"):
        try:
            ticket_model = apps.get_model("support", "Ticket")
            message_model = apps.get_model("support", "Message")
            attachment_model = apps.get_model("support", "Attachment")
        except LookupError:
            return None
        now = timezone.now()
        ticket = ticket_model.objects.create(
            user=user,
            category="billing",
            subject=f"Facture de {user.name}",
            created_at=now,
            reply_due_at=now + timedelta(hours=48),
            last_customer_message_at=now,
        )
        message = message_model.objects.create(
            ticket=ticket, author=user, body=body, created_at=now
        )
        attachment = attachment_model(
            message=message, filename=filename, size=9, content_type="application/pdf"
        )
        attachment.file.save(filename, ContentFile(b"%PDF-1.4\n"), save=False)
        attachment.save()
        return ticket

    return _create
