from django.conf import settings

from accounts.models import User


def user_language_set(*, user: User, language: str) -> None:
    """Remember the customer's language: pages and e-mails use it from now on."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Unsupported language: {language}")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
