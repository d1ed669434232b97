# ruff: noqa: RUF001
"""The first version of the terms (seed 004, in the vendor's own words, DESIGN.md section 4),
loaded by a data migration. Plain text: a blank line separates paragraphs, and a one-line
paragraph starting with "1. " is a heading."""

from datetime import UTC, date, datetime
from typing import Any

VERSION = "1.0"
LAST_UPDATED = date(2025, 5, 26)  # 004: "Dernière mise à jour : 26.05.2025"

BODY_EN = """\
These terms apply to every subscription to the e-confiance service taken out from the \
customer portal. Each plan's price and features are shown on the pricing page before you \
subscribe.

1. Subscription plans

We offer four plans. Starter and Standard are billed yearly, with a 12-month commitment. \
Pro and Premium are billed monthly, or yearly without commitment. The price, the tax and the \
total are shown in euros, US dollars or pounds sterling before you confirm.

Every new customer can try the service free for 15 days, once, without giving a card. \
Everything is available during the trial except SMS reminders, and we e-mail you a few days \
before it ends. If you subscribe, your data and settings are kept; if you do not, the \
account stays readable for a few days so that you can export your data, then the data is \
deleted.

2. 14-day money-back guarantee

On the Pro and Premium plans you can ask for a full refund, for any reason, within 14 days \
of the start of your first paid subscription; the subscription then ends at once. A full \
refund means the whole subscription price: taxes and one-off customisation fees are not \
refunded. The guarantee applies once per plan. Plans sold with a 12-month commitment have \
no money-back guarantee.

Refunds go back to the card you paid with; your bank usually shows them within 3 to 5 \
business days.

3. Billing and renewal

Subscriptions are paid in advance for the coming period and renew automatically on the \
same day each month or each year, until you cancel. The next renewal date is shown in your \
account from the first day. Before each renewal we e-mail you a reminder with the amount (7 \
days before a yearly renewal, 3 days before a monthly one), and a receipt after it.

If you forgot to cancel, ask within 5 business days of an automatic renewal payment: we \
refund that payment in full and the subscription ends.

4. Failed payments

If a payment fails, we try again up to 3 times over 7 days and e-mail you each time at the \
address of your account. You can update your card and pay at once from your account. If \
every attempt fails, the subscription is suspended: the product's features stop, while your \
invoices, your data export and support stay available. A successful payment reactivates the \
subscription immediately.

5. Changing plan

On the Pro and Premium plans, a move to a higher plan takes effect at once, and the rest of \
the current period is charged pro rata. A move to a lower plan takes effect at the start of \
your next billing period. You see the amount and the date before you confirm.

On the Starter and Standard plans, held by a 12-month commitment, ask for a change from your \
account: our team answers in writing. An approved move to a higher plan starts at once, and \
the unused part of your annual payment is credited.

Your data and settings are kept whatever the change.

6. Cancellation

You can cancel at any time with the “Cancel your contract” link on every page of your \
account, in three steps, without having to give a reason. We confirm the end date by e-mail.

On a monthly plan, the subscription runs to the end of the month you have paid for, which \
is not refunded. On a yearly plan without commitment, it runs to the end of the current month \
of your subscription year, and the full months left after it are refunded. On a plan with a \
12-month commitment, cancelling turns off automatic renewal: the service runs to the end of \
the 12 months and cannot be ended earlier.

Until the end date you can undo the cancellation in one click. After it your data stays \
readable and exportable. You can delete your account at any time from your profile or by a \
support ticket.

Outside the cases above, a refund request that reports a fault in the service is reviewed \
by our team, who answer within 5 business days. A change of mind, a purchase by mistake or to \
evaluate the service, or no longer using it are not grounds for a refund.

7. Support

Write to us at any time from the Support page of your account. We reply within 48 hours, and \
within 24 hours on the Premium plan. Suggestions and feature requests go through the same \
form.

8. Changes to these terms

We may update these terms. Each version shows its last-updated date and stays readable on \
this page, and we e-mail you when a new version is published. Using the service after a \
change means you accept the updated terms.
"""

BODY_FR = """\
Les présentes conditions s’appliquent à tout abonnement au service e-confiance souscrit \
depuis l’espace client. Le prix et les fonctionnalités de chaque formule sont indiqués sur \
la page des tarifs avant la souscription.

1. Formules d’abonnement

Nous proposons quatre formules. Starter et Standard sont facturées à l’année, avec un \
engagement de 12 mois. Pro et Premium sont facturées au mois, ou à l’année sans engagement. \
Le prix, les taxes et le total sont affichés en euros, en dollars américains ou en livres \
sterling avant votre confirmation.

Tout nouveau client peut essayer le service gratuitement pendant 15 jours, une seule fois, \
sans carte bancaire. Tout est disponible pendant l’essai sauf les rappels par SMS, et nous \
vous prévenons par e-mail quelques jours avant sa fin. Si vous vous abonnez, vos données et \
vos réglages sont conservés ; sinon, le compte reste consultable quelques jours pour que vous \
puissiez exporter vos données, puis celles-ci sont supprimées.

2. Garantie satisfait ou remboursé de 14 jours

Sur les formules Pro et Premium, vous pouvez demander un remboursement intégral, pour \
quelque raison que ce soit, dans les 14 jours qui suivent le début de votre premier \
abonnement payant ; l’abonnement prend alors fin immédiatement. Le remboursement intégral \
porte sur la totalité du prix de l’abonnement : les taxes et les frais de personnalisation \
ponctuels ne sont pas remboursés. La garantie s’applique une fois par formule. Les formules \
vendues avec un engagement de 12 mois ne bénéficient pas de la garantie.

Les remboursements sont effectués sur la carte utilisée pour le paiement ; ils \
apparaissent en général sur votre compte bancaire sous 3 à 5 jours ouvrés.

3. Facturation et renouvellement

Les abonnements sont payés d’avance pour la période à venir et se renouvellent \
automatiquement à la même date chaque mois ou chaque année, jusqu’à leur résiliation. La \
date du prochain renouvellement est indiquée dans votre espace dès le premier jour. Avant \
chaque renouvellement, nous vous envoyons un rappel par e-mail avec le montant (7 jours \
avant un renouvellement annuel, 3 jours avant un renouvellement mensuel), puis un reçu.

Si vous avez oublié de résilier, demandez-le dans les 5 jours ouvrés qui suivent le \
paiement d’un renouvellement automatique : nous vous remboursons ce paiement en totalité et \
l’abonnement prend fin.

4. Échecs de paiement

Si un paiement échoue, nous le présentons de nouveau jusqu’à 3 fois sur 7 jours et vous \
prévenons à chaque fois par e-mail, à l’adresse de votre compte. Vous pouvez mettre à jour \
votre carte et payer immédiatement depuis votre espace. Si toutes les tentatives échouent, \
l’abonnement est suspendu : les fonctionnalités du produit s’arrêtent, mais vos factures, \
l’export de vos données et le support restent accessibles. Un paiement réussi réactive \
l’abonnement immédiatement.

5. Changement de formule

Sur les formules Pro et Premium, le passage à une formule supérieure prend effet \
immédiatement, et le reste de la période en cours est facturé au prorata. Le passage à une \
formule inférieure prend effet au début de votre prochaine période de facturation. Le \
montant et la date vous sont indiqués avant votre confirmation.

Sur les formules Starter et Standard, soumises à un engagement de 12 mois, demandez le \
changement depuis votre espace : notre équipe vous répond par écrit. Un passage accepté à \
une formule supérieure commence immédiatement, et la part non utilisée de votre paiement \
annuel vous est créditée.

Vos données et vos réglages sont conservés quel que soit le changement.

6. Résiliation

Vous pouvez résilier à tout moment avec le lien « Résilier votre contrat » présent sur \
chaque page de votre espace, en trois étapes, sans avoir à donner de motif. Nous vous \
confirmons la date de fin par e-mail.

Sur une formule mensuelle, l’abonnement court jusqu’à la fin du mois payé, qui n’est pas \
remboursé. Sur une formule annuelle sans engagement, il court jusqu’à la fin du mois en cours \
de votre année d’abonnement, et les mois complets restants ensuite sont remboursés. Sur une \
formule avec engagement de 12 mois, la résiliation désactive le renouvellement automatique : \
le service court jusqu’au terme des 12 mois et ne peut pas prendre fin plus tôt.

Jusqu’à la date de fin, vous pouvez annuler la résiliation en un clic. Ensuite, vos données \
restent consultables et exportables. Vous pouvez supprimer votre compte à tout moment depuis \
votre profil ou par un ticket au support.

En dehors des cas ci-dessus, une demande de remboursement qui signale un défaut du service \
est examinée par notre équipe, qui vous répond sous 5 jours ouvrés. Un changement d’avis, un \
achat par erreur ou pour évaluer le service, ou le fait de ne plus l’utiliser ne donnent pas \
droit à un remboursement.

7. Support

Écrivez-nous à tout moment depuis la page Support de votre espace. Nous répondons sous 48 \
heures, et sous 24 heures sur la formule Premium. Les suggestions et demandes d’amélioration \
passent par le même formulaire.

8. Modification des présentes conditions

Nous pouvons mettre à jour ces conditions. Chaque version indique sa date de dernière mise \
à jour et reste consultable sur cette page, et nous vous prévenons par e-mail de la \
publication d’une nouvelle version. L’utilisation du service après une modification vaut \
acceptation des conditions mises à jour.
"""

# In force since its date; nobody to e-mail when the portal is installed.
PUBLISHED_AT = datetime(2025, 5, 26, tzinfo=UTC)


def seed(terms_version_model: Any) -> bool:
    """Create the first version if it is missing; True if created."""
    _, created = terms_version_model.objects.get_or_create(
        version=VERSION,
        defaults={
            "last_updated": LAST_UPDATED,
            "body_en": BODY_EN,
            "body_fr": BODY_FR,
            "published_at": PUBLISHED_AT,
            "notified_at": PUBLISHED_AT,
        },
    )
    return bool(created)
