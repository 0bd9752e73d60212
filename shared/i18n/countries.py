#!/usr/bin/env python3
"""Writes texts/<language>.countries.toml: the name of every country and region (ISO 3166
two-letter codes) in each language of the service, from the Unicode CLDR as the Babel package
ships it. These names are CLDR's, not a translator's: regenerate, do not edit.

    python3 -m venv /tmp/babel && /tmp/babel/bin/pip install babel==2.18.0
    /tmp/babel/bin/python shared/i18n/countries.py
"""
import os

from babel import Locale

LANGUAGES = {"en": "en", "zh": "zh_Hans", "hi": "hi"}
HERE = os.path.dirname(os.path.abspath(__file__))

# The English names every language has a key for; CLDR's `zh_Hans` and `hi` lack none of them.
codes = sorted(code for code in Locale.parse("en").territories if len(code) == 2 and code.isalpha())
for name, locale in LANGUAGES.items():
    territories = Locale.parse(locale).territories
    lines = [f"# Country and region names in {locale}, from CLDR (Babel): written by countries.py, do not edit.", "", "[country]"]
    for code in codes:
        text = territories.get(code) or Locale.parse("en").territories[code]
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{code} = "{escaped}"')
    with open(os.path.join(HERE, "texts", f"{name}.countries.toml"), "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    print(f"{name}: {len(codes)} names")
