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

from accounts.models import COUNTRY_CHOICES, PROFILE_FIELDS, TIMEZONE_CHOICES, User
from accounts.validators import single_line
from subscriptions.taxes import VatNumberError, vat_number_clean

COUNTRY_HELP = _(
    "Your country sets the tax on your invoices and the public holidays left out "
    "when counting business days (for example in refund deadlines)."
)
BUSINESS_LABEL = _("I buy as a business")
VAT_NUMBER_HELP = _(
    "Optional. An EU business with a valid VAT number is invoiced without VAT (reverse "
    "charge). We check its format and check digits."
)


def tax_profile_clean(form: forms.BaseForm, cleaned: dict[str, object]) -> None:
    """Country, business, VAT number: the VAT number belongs to a business of that country
    (python-stdnum, offline), stored in its compact form."""
    number = str(cleaned.get("vat_number") or "")
    country = str(cleaned.get("country") or "")
    if not number or not country:
        return
    if not cleaned.get("is_business"):
        form.add_error(
            "vat_number",
            _("Only a business has a VAT number: tick “I buy as a business” or leave it empty."),
        )
        return
    try:
        cleaned["vat_number"] = vat_number_clean(number, country=country)
    except VatNumberError as exc:
        form.add_error("vat_number", exc.message)


class SignupForm(AllauthSignupForm):
    # The profile's validator: a name refused there is refused here (issue 13).
    name = forms.CharField(label=_("Full name"), max_length=150, validators=[single_line])
    company = forms.CharField(
        label=_("Company"), max_length=150, required=False, validators=[single_line]
    )
    # Not required: the list has no empty choice, so a browser always sends one (France
    # first); a client that sends none keeps the model's default.
    country = forms.ChoiceField(
        label=_("Country"), choices=COUNTRY_CHOICES, required=False, help_text=COUNTRY_HELP
    )
    is_business = forms.BooleanField(label=BUSINESS_LABEL, required=False, initial=True)
    vat_number = forms.CharField(
        label=_("VAT number"), max_length=20, required=False, help_text=VAT_NUMBER_HELP
    )

    field_order = [
        "name",
        "company",
        "country",
        "is_business",
        "vat_number",
        "email",
        "password1",
        "password2",
    ]

    def clean(self) -> dict[str, object]:
        cleaned: dict[str, object] = super().clean()
        cleaned["country"] = cleaned.get("country") or User._meta.get_field("country").default
        tax_profile_clean(self, cleaned)
        return cleaned


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
            "is_business": BUSINESS_LABEL,
        }
        help_texts = {
            "company": _("Optional. Printed on your invoices."),
            "address_line1": _("Optional. Your billing address, printed on your invoices."),
            "country": COUNTRY_HELP,
            "vat_number": VAT_NUMBER_HELP,
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

    def clean(self) -> dict[str, object]:
        cleaned: dict[str, object] = super().clean() or {}
        tax_profile_clean(self, cleaned)
        return cleaned

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
