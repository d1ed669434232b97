"""Ticket forms: what a customer may write and attach."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from support.attachments import (
    ACCEPTED_TYPES,
    MAX_FILE_MB,
    MAX_FILES,
    CheckedFile,
    file_check,
)
from support.models import SUBJECT_MAX_LENGTH, Category

MAX_BODY_CHARS = 20_000


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Django's documented pattern for <input type="file" multiple>."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(ACCEPTED_TYPES)}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 8}), max_length=MAX_BODY_CHARS
    )
    attachments = MultipleFileField(label=_("Attachments"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = _(
            "Up to %(count)s files of %(size)s MB each: PDF, PNG, JPEG, TXT or CSV."
        ) % {"count": MAX_FILES, "size": MAX_FILE_MB}

    def clean_attachments(self) -> list[CheckedFile]:
        files = self.cleaned_data.get("attachments") or []
        if len(files) > MAX_FILES:
            raise forms.ValidationError(
                ngettext(
                    "You can attach at most %(max)d file to a message.",
                    "You can attach at most %(max)d files to a message.",
                    MAX_FILES,
                ),
                code="file_count",
                params={"max": MAX_FILES},
            )
        checked, errors = [], []
        for upload in files:
            try:
                checked.append(file_check(upload))
            except forms.ValidationError as exc:
                errors.append(exc)
        if errors:
            raise forms.ValidationError(errors)
        return checked


class TicketForm(MessageForm):
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX_LENGTH)

    field_order = ["category", "subject", "body", "attachments"]
