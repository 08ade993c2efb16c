from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "brefboard.accounts"
    label = "accounts"
