import functools
import unicodedata

from allauth.account.forms import SignupForm as AllauthSignupForm
from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone_location
from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from accounts.models import PROFILE_FIELDS, TIMEZONE_CHOICES, User
from accounts.validators import single_line


class SignupForm(AllauthSignupForm):
    # The profile's validator: a name refused there is refused here (issue 13).
    name = forms.CharField(label=_("Full name"), max_length=150, validators=[single_line])
    company = forms.CharField(
        label=_("Company"), max_length=150, required=False, validators=[single_line]
    )

    field_order = ["name", "company", "email", "password1", "password2"]


def _language_choices() -> list[tuple[str, str]]:
    # Each language in its own name ("Français", "English"), as in the header switcher.
    codes = [code for code, _name in settings.LANGUAGES]
    return [(code, capfirst(get_language_info(code)["name_local"])) for code in codes]


class ProfileForm(forms.ModelForm):
    """The customer's own profile. Only validates: accounts.services.profile_update saves."""

    class Meta:
        model = User
        fields = PROFILE_FIELDS
        labels = {
            "name": _("Full name"),
            "address_line1": _("Address"),
            "address_line2": _("Address (continued)"),
        }
        help_texts = {
            "company": _("Optional. Printed on your invoices."),
            "address_line1": _("Optional. Your billing address, printed on your invoices."),
            "country": _(
                "Your country sets the tax on your invoices and the public holidays left out "
                "when counting business days (for example in refund deadlines)."
            ),
            "time_zone": _("Dates and deadlines are shown and counted in this time zone."),
            "language": _("The language of your pages and of the e-mails we send you."),
        }
        widgets = {
            "name": forms.TextInput(attrs={"autocomplete": "name"}),
            "company": forms.TextInput(attrs={"autocomplete": "organization"}),
            "address_line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "address_line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "country": forms.Select(attrs={"autocomplete": "country"}),
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Optional in the model (staff accounts, sign-up), required of customers: invoices
        # and the cancellation form carry it.
        self.fields["name"].required = True
        self.fields["language"].choices = _language_choices()  # type: ignore[attr-defined]
        current = str(self.initial.get("time_zone") or getattr(self.instance, "time_zone", ""))
        self.fields["time_zone"].choices = time_zone_choices(  # type: ignore[attr-defined]
            translation.get_language() or settings.LANGUAGE_CODE, current
        )
        for name in ("name", "company", "address_line1", "address_line2", "postal_code", "city"):
            self.fields[name].validators.append(single_line)


def time_zone_choices(language: str, current: str = "") -> list[tuple[str, str]]:
    """The time zones in use today, named in the page's language ("France (Paris)").

    Old aliases (Europe/Kiev, US/Eastern...) are left out, unless the customer has one.
    """
    choices = list(_zones(translation.to_locale(language)))
    if current and current not in {zone for zone, _label in choices}:
        choices.append((current, current.replace("_", " ")))
    return choices


@functools.cache
def _zones(locale_name: str) -> tuple[tuple[str, str], ...]:
    locale = Locale.parse(locale_name)
    aliases, territories = get_global("zone_aliases"), get_global("zone_territories")
    choices = []
    for zone, _label in TIMEZONE_CHOICES:
        if zone in aliases or zone not in territories or zone.startswith("Etc/"):
            continue
        country = locale.territories.get(territories[zone], territories[zone])
        # CLDR names a city only under its own zone ids; else Babel falls back to the path.
        city = get_timezone_location(zone, locale=locale, return_city=True).rsplit("/", 1)[-1]
        choices.append((zone, country if city in ("", country) else f"{country} ({city})"))
    return tuple(sorted(choices, key=lambda choice: _sort_key(choice[1])))


def _sort_key(label: str) -> str:
    return unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().casefold()
