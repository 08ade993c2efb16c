"""The interface's language: a browser that asks for English gets English pages; the switch in
the header turns the site French, and the choice stays for the next pages (a cookie)."""
from support import site


def test_english_browser_then_the_switch_to_french(make_browser, cfg, account, created):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    b = make_browser("language", language="en-US")
    b.go("/login/")
    b.wait(lambda: b.driver.find_elements(By.ID, "login-submit"), 20, "the login form")
    lang = lambda: b.js("return document.documentElement.lang")  # noqa: E731
    assert lang() == "en" and b.text("main h1") == "Log in" and b.text("#login-submit") == "Log in", \
        f"an English browser got: lang={lang()!r}, {b.text('main h1')!r}"
    assert "Connexion" not in b.text("body") and "No account yet?" in b.text("main")
    site.ensure_logged_in(b, account, cfg)  # through the English forms
    assert b.text("#recorder h1") == "Record a meeting" and "Log out" in b.text("header")
    b.shot("home-english")

    Select(b.driver.find_element(By.ID, "language-select")).select_by_value("fr")
    b.driver.find_element(By.ID, "language-submit").click()
    b.wait(lambda: lang() == "fr", 20, "the French page after the switch")
    assert b.path.split("?")[0] == "/", f"the switch did not come back to the page it was on: {b.path}"
    assert b.text("#recorder h1") == "Enregistrer une réunion" and "Déconnexion" in b.text("header")
    b.go("/profil/")  # remembered: the browser still asks for English
    b.wait(lambda: b.text("main h1"), 20, "the profile page")
    assert lang() == "fr" and b.text("main h1") == "Mes transcriptions et résumés"
    b.shot("profil-french")
    b.check("switching the language")  # no console error, CSP refusal or failed request (/jsi18n/ included)
