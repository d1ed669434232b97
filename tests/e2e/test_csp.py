"""The journeys' CSP watch catches what an attacker's injected markup would try."""

from playwright.sync_api import expect


def test_an_injected_inline_script_and_style_are_refused_and_reported(page, settle, db):
    page.goto("/fr/")
    settle()
    page.evaluate(
        """() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.head.appendChild(script);
        document.querySelector("main").insertAdjacentHTML(
          "beforeend", '<p id="styled" style="color: rgb(255, 0, 0)">x</p>'
        );
    }"""
    )
    expect(page.locator("#styled")).to_have_count(1)
    page.wait_for_function("() => true")  # let the violation events reach the test
    page.wait_for_timeout(200)

    assert page.evaluate("() => window.injected") is None
    assert page.evaluate("() => getComputedStyle(document.querySelector('#styled')).color") != (
        "rgb(255, 0, 0)"
    )
    directives = " ".join(page.csp.violations)
    assert "script-src" in directives
    assert "style-src" in directives
    page.csp.violations.clear()  # seen and asserted: the journey itself is clean
