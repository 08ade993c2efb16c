#!/usr/bin/env bash
# The interface's catalogues (app/brefboard/locale): after a string changed in a template,
# a Python file or a static script, bring the .po files up to date, write the English of the
# new entries (msgid = the French text; the French catalogue repeats it), then compile the
# .mo files, which are committed: hosts need no gettext. tests/test_i18n.py fails on an
# entry left out, untranslated or fuzzy, or on a .mo older than its .po.
#   scripts/i18n.sh            # makemessages (django and djangojs, fr and en), then compilemessages
#   scripts/i18n.sh compile    # only compilemessages
# Needs GNU gettext (Debian package gettext) and the app's venv (scripts/test-app.sh makes it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ADMIN="$ROOT/.venv-app/bin/django-admin"
command -v msgfmt >/dev/null || { echo "GNU gettext is needed: apt-get install gettext" >&2; exit 1; }
[ -x "$ADMIN" ] || { echo "no app venv: run scripts/test-app.sh once" >&2; exit 1; }
export PYTHONPATH="$ROOT/app" DJANGO_SETTINGS_MODULE=tests.django_settings
# From inside the package (django-admin, not python -m: brefboard/http.py would shadow http).
cd "$ROOT/app/brefboard"
if [ "${1:-}" != compile ]; then
  "$ADMIN" makemessages -l fr -l en --no-location --no-obsolete --no-wrap
  "$ADMIN" makemessages -d djangojs -l fr -l en --no-location --no-obsolete --no-wrap
  for po in locale/*/LC_MESSAGES/*.po; do
    left=$( (msgattrib --untranslated "$po"; msgattrib --only-fuzzy "$po") | grep -c '^msgid "[^"]' || true)
    [ "$left" = 0 ] || echo "$po: $left entries to translate (msgattrib --untranslated / --only-fuzzy)" >&2
  done
fi
"$ADMIN" compilemessages
