// Card entry through Stripe.js: the card goes from the browser to Stripe (a SetupIntent),
// never to the portal, which only receives the SetupIntent's id.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    var form = document.getElementById("card-form");
    if (!form || typeof Stripe === "undefined") return;
    var stripe = Stripe(form.dataset.publishableKey);
    var errors = document.getElementById("card-errors");
    var button = form.querySelector("button[type=submit]");
    var mount = document.getElementById("card-element");
    var texts = JSON.parse(document.getElementById("card-messages").textContent);
    var card = null;
    if (mount && form.dataset.clientSecret) {
      card = stripe.elements().create("card");
      card.mount(mount);
      button.hidden = false;
      form.querySelectorAll("[data-without-js]").forEach(function (notice) {
        notice.hidden = true;
      });
    }
    form.addEventListener("submit", function (event) {
      if (!card) return; // the saved card is used: a plain form post
      event.preventDefault();
      button.disabled = true;
      errors.textContent = "";
      stripe
        .confirmCardSetup(form.dataset.clientSecret, {
          payment_method: { card: card, billing_details: { name: form.dataset.name, email: form.dataset.email } },
        })
        .then(function (result) {
          if (result.error) {
            // Stripe.js words its errors in the browser's language: the page's own words instead.
            var reason = texts.reasons[result.error.decline_code || result.error.code];
            errors.textContent = reason
              ? texts.sentence.replace("%(reason)s", reason)
              : form.dataset.genericError;
            button.disabled = false;
            return;
          }
          form.querySelector("input[name=setup_intent]").value = result.setupIntent.id;
          form.submit();
        });
    });
  });
  ready(function () {
    var form = document.getElementById("authenticate-form");
    if (!form || typeof Stripe === "undefined") return;
    var stripe = Stripe(form.dataset.publishableKey);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      stripe.confirmCardPayment(form.dataset.clientSecret).then(function () {
        // Whatever the outcome, the portal re-reads the payment from Stripe.
        form.submit();
      });
    });
  });
})();
