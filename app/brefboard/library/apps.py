from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "brefboard.library"
    label = "library"
    verbose_name = "Bibliothèque"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A changed BREFBOARD_SEARCH_CONFIG rebuilds the stored search vectors (search_index.py).
        from django.db.models.signals import post_migrate

        from .search_index import sync_config

        post_migrate.connect(sync_config, sender=self, dispatch_uid="library-search-config")
