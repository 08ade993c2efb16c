"""Accounts: signup with e-mail and password twice, login, logout, everything behind login."""
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def signup(client, **overrides):
    data = {"username": "claire", "email": "claire@example.org",
            "password1": "un mot de passe solide", "password2": "un mot de passe solide"}
    data.update(overrides)
    return client.post("/inscription/", data)


def test_signup_creates_the_user_and_logs_in(client):
    response = signup(client)
    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="claire")
    assert user.email == "claire@example.org"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("overrides, message", [
    ({"password2": "autre chose encore"}, "mots de passe"),
    ({"email": "pas-une-adresse"}, "adresse"),
    ({"email": ""}, "obligatoire"),
])
def test_signup_rejects_bad_input_with_400(client, overrides, message):
    response = signup(client, **overrides)
    assert response.status_code == 400
    assert message in response.content.decode().lower()
    assert not get_user_model().objects.filter(username="claire").exists()


def test_signup_refuses_an_email_already_used(client, alice):
    response = signup(client, email="ALICE@example.org")
    assert response.status_code == 400
    assert get_user_model().objects.count() == 1


def test_login_and_logout(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.get("/profil/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/profil/").status_code == 302


def test_wrong_password_does_not_log_in(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200  # the form again, with its error
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("url", [
    "/", "/profil/", "/recordings/1/", "/api/sessions/unfinished/", "/current_transcription/",
    "/get_transcription/1/", "/api/jobs/00000000-0000-0000-0000-000000000000/",
])
def test_every_page_needs_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_and_signup_pages_are_public():
    assert Client().get("/login/").status_code == 200
    assert Client().get("/inscription/").status_code == 200
