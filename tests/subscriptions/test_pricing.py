import pytest


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/fr/", ["290,00\xa0€ par an", "49,00\xa0€ par mois", "790,00\xa0€ par an"]),
        ("/fr/?currency=USD", ["320,00\xa0$US par an", "55,00\xa0$US par mois"]),
        ("/fr/?currency=GBP", ["250,00\xa0£GB par an", "42,00\xa0£GB par mois"]),
        ("/en/", ["€290.00 per year", "€49.00 per month", "€790.00 per year"]),
        ("/en/?currency=USD", ["$320.00 per year", "$55.00 per month"]),
        ("/en/?currency=GBP", ["£250.00 per year", "£42.00 per month"]),
    ],
)
def test_pricing_page_shows_prices_in_the_chosen_currency_and_language(
    client, catalog, url, expected
):
    html = client.get(url).content.decode()
    for text in expected:
        assert text in html


def test_pricing_page_states_each_commitment_in_plain_words(client, catalog):
    # 000: "chaque pack mentionne la durée d'engagement de l'offre correspondante".
    fr = client.get("/fr/").content.decode()
    assert fr.count("Engagement de 12 mois, facturé à l’année") == 2
    assert fr.count("Sans engagement : résiliable à tout moment") == 2
    assert fr.count("Sans engagement, facturé à l’année") == 2
    en = client.get("/en/").content.decode()
    assert en.count("12-month commitment, billed yearly") == 2
    assert "Essai gratuit 15 jours" in fr
    assert "15-day free trial" in en


def test_currency_choice_is_remembered_and_bad_input_falls_back_to_euros(client, catalog):
    client.get("/en/?currency=GBP")
    assert "£42.00 per month" in client.get("/en/").content.decode()
    html = client.get("/en/?currency=<script>").content.decode()
    assert "£42.00 per month" in html
    assert "<script>" not in html.split("<main")[1].split("</main>")[0]


def test_pricing_page_query_count_does_not_grow_with_plans(
    client, catalog, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):
        client.get("/en/")
