"""French plurals for the pages: 0 and 1 take the singular ("1 morceau reçu", "0 résultat",
"3 morceaux reçus"); Django's ``pluralize`` adds an "s" to 0 and cannot make "morceaux"."""
from django import template

register = template.Library()


@register.filter
def fr_plural(count, forms: str) -> str:
    """``{{ n|fr_plural:"morceau reçu,morceaux reçus" }}`` → "3 morceaux reçus"."""
    one, _, many = forms.partition(",")
    try:
        n = int(count)
    except (TypeError, ValueError):
        n = 0
    return f"{n} {many if n > 1 else one}"
