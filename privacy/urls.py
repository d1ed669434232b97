from django.urls import path

import portal.converters  # noqa: F401 - registers the tight path converters
from privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.export, name="export"),
    path("exports/<export_token:token>/", views.export_download, name="export_download"),
    path("delete/", views.account_delete, name="account_delete"),
    path("deleted/", views.account_deleted, name="account_deleted"),
]
