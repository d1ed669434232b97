from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.utils.translation import gettext_lazy as _


class SignupForm(AllauthSignupForm):
    name = forms.CharField(label=_("Full name"), max_length=150)
    company = forms.CharField(label=_("Company"), max_length=150, required=False)

    field_order = ["name", "company", "email", "password1", "password2"]
