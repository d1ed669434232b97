from django.urls import path

from legal import views

app_name = "legal"

urlpatterns = [
    path("", views.terms, name="terms"),
    path("<int:pk>/", views.terms_version, name="terms_version"),
]
