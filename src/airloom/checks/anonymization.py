"""Anonymization: names, IP addresses and/or dates removed, and nothing else lost.

An anonymization record's instruction is a request naming what to remove (``personal
names``, ``IP addresses``, ``dates``), a blank line, then the source text; the response
is the source rewritten without those entities. The check:

* no entity of a requested kind is left (IPv4 addresses and dates by pattern; names
  from ``meta["names"]`` when stored, else every name of :data:`FIRST_NAMES` /
  :data:`LAST_NAMES` that occurs in the source — the pools the generator draws from);
* every entity of a kind that was *not* requested is still there, verbatim;
* the rewrite keeps at least :data:`MIN_KEPT` of the source's words.

Example:
    >>> from airloom.formats.records import make_record
    >>> record = make_record(instruction="Remove all personal names and IP addresses from the text "
    ...           "below.\\n\\nMaya Lindqvist logged in from 203.0.113.4 on 2021-03-14.",
    ...           response="[NAME] logged in from [IP] on 2021-03-14.")
    >>> check_anonymization(record)
    Verdict(ok=True, reason='')
    >>> check_anonymization(record.replace(response="Maya logged in from [IP] on [DATE].")).reason
    'the name Maya is still there'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from airloom.checks import Verdict
from airloom.checks.lengths import count_words
from airloom.formats.records import Record

__all__ = [
    "DATE_RE",
    "FIRST_NAMES",
    "IPV4_RE",
    "KIND_WORDS",
    "LAST_NAMES",
    "MIN_KEPT",
    "PLACEHOLDERS",
    "EntityKind",
    "anonymization_verdict",
    "check_anonymization",
    "find_dates",
    "find_ips",
    "find_pool_names",
    "requested_kinds",
    "split_instruction",
]

EntityKind = Literal["names", "ips", "dates"]
#: Kind -> how requests name it (the generator uses the first wording).
KIND_WORDS: dict[EntityKind, tuple[str, ...]] = {
    "names": ("personal names", "names"),
    "ips": ("IP addresses",),
    "dates": ("dates",),
}
PLACEHOLDERS: dict[EntityKind, str] = {"names": "[NAME]", "ips": "[IP]", "dates": "[DATE]"}
#: Share of the source's words a rewrite must keep.
MIN_KEPT = 0.5

FIRST_NAMES = [
    "Maya",
    "Elias",
    "Priya",
    "Tomasz",
    "Ingrid",
    "Kwame",
    "Lucia",
    "Rafael",
    "Annika",
    "Desmond",
    "Yuki",
    "Oskar",
    "Leila",
    "Mateo",
    "Greta",
    "Soren",
    "Amara",
    "Felix",
    "Noor",
    "Henrik",
]
LAST_NAMES = [
    "Lindqvist",
    "Okafor",
    "Ramirez",
    "Novak",
    "Haddad",
    "Brennan",
    "Takahashi",
    "Moreau",
    "Kowalski",
    "Fischer",
    "Adeyemi",
    "Castellano",
    "Varga",
    "Whitfield",
    "Sandoval",
    "Ivanova",
    "Achebe",
    "Halvorsen",
    "Duarte",
    "Kimura",
]

IPV4_RE = re.compile(
    r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d.]*\d)"
)
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
DATE_RE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    r"|\b\d{1,2}\.\d{1,2}\.\d{4}\b"
    rf"|\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b\.?(?:,?\s+\d{{4}})?"
)


def find_ips(text: str) -> list[str]:
    """IPv4 addresses in a text.

    Example:
        >>> find_ips("from 10.0.0.7 and 999.1.1.1, version 1.2.3")
        ['10.0.0.7']
    """
    return IPV4_RE.findall(text)


def find_dates(text: str) -> list[str]:
    """Dates in common written forms.

    Example:
        >>> find_dates("On 2021-03-14, March 3rd, 2020 and 4 May 2019 (not 'in March').")
        ['2021-03-14', 'March 3rd, 2020', '4 May 2019']
    """
    return [match.group(0) for match in DATE_RE.finditer(text)]


def _word_present(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w'-]){re.escape(word)}(?![\w'-])", text) is not None


def find_pool_names(text: str) -> list[str]:
    """First and last names of the generator's pools that occur in a text.

    Example:
        >>> find_pool_names("Greta Varga met Bob.")
        ['Greta', 'Varga']
    """
    return [name for name in (*FIRST_NAMES, *LAST_NAMES) if _word_present(name, text)]


def requested_kinds(request: str) -> list[EntityKind]:
    """The entity kinds a request asks to remove.

    Example:
        >>> requested_kinds("Strip all IP addresses and dates from this log.")
        ['ips', 'dates']
    """
    lowered = request.lower()
    return [
        kind
        for kind, words in KIND_WORDS.items()
        if any(re.search(rf"\b{re.escape(w.lower())}\b", lowered) for w in words)
    ]


def split_instruction(instruction: str) -> tuple[str, str]:
    """The request (first paragraph) and the source text (the rest).

    Example:
        >>> split_instruction("Remove dates.\\n\\nIt rained on 2020-01-02.")
        ('Remove dates.', 'It rained on 2020-01-02.')
    """
    parts = instruction.strip().split("\n\n", 1)
    return parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")


def _name_tokens(names: Sequence[str]) -> list[str]:
    return sorted({token for name in names for token in name.split() if token})


def anonymization_verdict(
    request: str, source: str, response: str, names: Sequence[str] | None = None
) -> Verdict:
    """Check a rewrite (see the module docstring); ``names`` default to the pools.

    Example:
        >>> anonymization_verdict("Remove all dates.", "Paid on 2020-01-02 by Ana.",
        ...                       "Paid by Ana.").ok
        True
        >>> anonymization_verdict("Remove all dates.", "Paid on 2020-01-02 from 10.0.0.1.",
        ...                       "Paid on [DATE].").reason
        'the IP address 10.0.0.1 was removed although only dates were to go'
    """
    kinds = requested_kinds(request)
    if not kinds:
        return Verdict.failed("the request names nothing to remove")
    tokens = _name_tokens(names) if names else find_pool_names(source)
    leftovers: dict[EntityKind, list[str]] = {
        "names": [token for token in tokens if _word_present(token, response)],
        "ips": find_ips(response),
        "dates": find_dates(response),
    }
    labels = {"names": "name", "ips": "IP address", "dates": "date"}
    for kind in kinds:
        if leftovers[kind]:
            return Verdict.failed(f"the {labels[kind]} {leftovers[kind][0]} is still there")
    present: dict[EntityKind, list[str]] = {
        "names": [token for token in tokens if _word_present(token, source)],
        "ips": find_ips(source),
        "dates": find_dates(source),
    }
    wanted = " and ".join(labels[kind] + "s" if kind != "ips" else "IP addresses" for kind in kinds)
    for kind in ("names", "ips", "dates"):
        if kind in kinds:
            continue
        for entity in present[kind]:
            if entity not in response:
                return Verdict.failed(
                    f"the {labels[kind]} {entity} was removed although only {wanted} were to go"
                )
    if count_words(response) < MIN_KEPT * count_words(source):
        return Verdict.failed("the rewrite drops too much of the text")
    return Verdict.passed()


def check_anonymization(record: Record) -> Verdict:
    """Requested entities are gone, the others and the rest of the text stay.

    Example:
        >>> from airloom.formats.records import make_record
        >>> check_anonymization(make_record(instruction="Remove dates.", response="x")).reason
        'no source text after the request'
    """
    request, source = split_instruction(record.instruction)
    if not source:
        return Verdict.failed("no source text after the request")
    meta = record.meta
    names = meta.get("names") if isinstance(meta, Mapping) else None
    valid_names = [str(n) for n in names] if isinstance(names, list) else None
    return anonymization_verdict(request, source, record.response, valid_names)
