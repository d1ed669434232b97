import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = factory.Faker("name")
    company = factory.Faker("company")
    password = factory.django.Password("correct horse battery staple")
