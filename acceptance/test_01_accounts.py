"""Sign up, log out, log in: the forms, in a real browser (which sends Origin, so CSRF is really checked)."""
import pytest

from support import site


@pytest.fixture(scope="module")
def browser(make_browser):
    return make_browser()


@pytest.mark.writes
def test_sign_up_through_the_form(browser, account, created):
    if account.existing:
        pytest.skip("an existing account was given (--user): no sign-up")
    site.signup(browser, account)
    assert browser.text("#recorder h1"), "after signing up, the home page has no recorder"
    assert site.logged_in(browser)


def test_log_out_through_the_header_button(browser, account, cfg, created):
    if not site.logged_in(browser):
        if not (account.created or account.existing):
            site.signup(browser, account)
        else:
            site.login(browser, account)
    site.logout(browser)
    browser.shot("login-page")
    # Logged out means logged out: the home page sends back to the login form.
    browser.go("/")
    browser.wait(lambda: browser.path.startswith("/login/"), 20, "the redirect to the login page")


def test_log_in_through_the_form(browser, account, cfg, created):
    if not (account.created or account.existing):
        pytest.fail("no account to log in with: the sign-up test failed")
    if site.logged_in(browser):
        site.logout(browser)
    site.login(browser, account)
    browser.shot("home")
    assert browser.text("#recorder h1"), "the home page has no recorder"
    assert browser.text("form[action$='/upload/'] button"), "the home page has no upload form"
