"""Free text from allowlisted attributes: written to the log only when it cannot carry PHI.

The allowlist keeps attributes that *should* describe a device or an acquisition
(Manufacturer, model, software, EXIF Make/Model/Software, ...), but their values are
free text that a site may fill with anything: "St Elsewhere - Dr Jane Doe" as the
manufacturer, "Pt SMITH^JOHN MRN998877" as the model. A leaf is permanent, so a value
is withheld when it *looks* like a person name, an identifier, a date or time, a phone
number or an e-mail address; the entry then names the attribute in ``withheld`` and
never quotes the value. Precision of the check costs less than one leaked name: a
device string that trips it (a build number of five digits) is withheld, not written.

Coded attributes are not free text: Body Part Examined and Modality are kept only when
they are one of their DICOM defined terms (:mod:`ledger.imaging.terms`).
"""

from __future__ import annotations

import re

PERSON_NAME = "a person name"
IDENTIFIER = "an identifier"
DATE_TIME = "a date or time"
PHONE = "a phone number"
EMAIL = "an e-mail address"

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# (pattern, what it is); checked in order, the first match names the reason.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[^\s@<>()]+@[^\s@<>()]+\.[A-Za-z]{2,}"), EMAIL),
    (re.compile(r"\^"), PERSON_NAME),  # DICOM PN component separator: Family^Given
    # Titles before a name: mixed case ("Dr Jane", "Pt smith") or dotted ("DR. SMITH"). Bare
    # capitals are not: "DR", "MR", "MS" and "PT" are also modalities and detector types.
    (re.compile(r"(?<![A-Za-z])(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Pt|Sr|Sra|Frau|Herr|Mme|Mlle)"
                r"\.?\s+[A-Za-z]"), PERSON_NAME),
    (re.compile(r"(?i)(?<![a-z])(?:dr|mr|mrs|ms|mx|prof|pt)\.\s*[a-z]"), PERSON_NAME),
    (re.compile(r"(?i)(?<![a-z])(?:doctor|patient|physician|surgeon|nurse|radiologist)s?"
                r"(?![a-z])"), PERSON_NAME),
    (re.compile(r"(?i)(?<![a-z])(?:mrn|id|no|nr|acc|accession|ssn|nhs|dob)(?![a-z])\s*[:.#=-]?\s*"
                r"\d"), IDENTIFIER),
    (re.compile(r"#\s*\d"), IDENTIFIER),
    (re.compile(r"(?i)(?<![a-z])(?:mrn|ssn|dob)(?![a-z])"), IDENTIFIER),
    # Dates: 2024-01-31, 31/01/2024, 1/31/24, 31.01.2024, 2024.01.31, 31 Jan 2024, Jan 31 2024.
    (re.compile(r"(?<!\d)\d{1,4}[-/]\d{1,2}[-/]\d{1,4}(?!\d)"), DATE_TIME),
    (re.compile(r"(?<![\d.])\d{1,2}\.\d{1,2}\.(?:19|20)\d{2}(?![\d.])"), DATE_TIME),
    (re.compile(r"(?<![\d.])(?:19|20)\d{2}\.\d{1,2}\.\d{1,2}(?![\d.])"), DATE_TIME),
    (re.compile(rf"(?i)(?<!\w)\d{{1,2}}(?:st|nd|rd|th)?[\s-]*{_MONTHS}[\s,-]*\d{{2,4}}(?!\d)"),
     DATE_TIME),
    (re.compile(rf"(?i)(?<![a-z]){_MONTHS}\s*\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}(?!\d)"),
     DATE_TIME),
    (re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?(?!\d)", re.IGNORECASE),
     DATE_TIME),
    # Phone numbers: +44 20 7946 0958, (555) 123-4567, 555-123-4567, 555.123.4567.
    (re.compile(r"\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,}"), PHONE),
    (re.compile(r"\(\d{2,4}\)\s*\d{3,4}[\s.-]?\d{3,4}"), PHONE),
    (re.compile(r"(?<![\d.])\d{3}[\s.-]\d{3,4}[\s.-]\d{4}(?![\d.])"), PHONE),
    # Identifiers: any run of five or more digits (record numbers, dates as YYYYMMDD),
    # not the decimals of a number ("ratio 0.084906").
    (re.compile(r"(?<![.\d])\d{5,}"), IDENTIFIER),
)
# ... and ID-like tokens: at least 6 characters with at least 4 digits and a letter
# ("AB1234C", "X4471234"), unlike model numbers ("MR750w", "CT660", "FD20").
_TOKEN = re.compile(r"[A-Za-z0-9]+")

# Given names common enough that "<Given> <Family>" is confidently a person, and not a
# word of any device vendor or model name we know of. Lower case.
_GIVEN_NAMES = frozenset(
    """
    aaron adam adrian ahmed aisha alan albert alex alexander alice alicia amanda amy ana
    andrea andrew angela anna anne anthony antonio barbara ben benjamin beth betty brian
    carlos carol caroline catherine charles charlotte chris christine christopher claire
    daniel david deborah dennis diana donald donna dorothy edward elena elizabeth emily
    emma eric fatima frank gary george hannah harry helen henry ian jack james jane janet
    jason jennifer jessica joan john jonathan jose joseph joshua juan julia karen kate
    katherine kelly kenneth kevin laura linda lisa margaret maria martha mary matthew
    michael michelle mohammed muhammad nancy nicholas olivia oliver pamela patricia paul
    peter rachel rebecca richard robert ronald ruth ryan sandra sarah scott sharon sophie
    stephen steven susan thomas timothy william
    """.split()
)
_NAME_PAIR = re.compile(r"(?<![A-Za-z])([A-Z][a-z]+|[A-Z]{2,})\s+([A-Z][a-z'-]+|[A-Z]{2,})")


def phi_reason(text: str) -> str | None:
    """What ``text`` looks like that may identify someone, or None if it looks safe."""
    for pattern, what in _PATTERNS:
        if pattern.search(text):
            return what
    for token in _TOKEN.findall(text):
        digits = sum(c.isdigit() for c in token)
        if len(token) >= 6 and digits >= 4 and digits < len(token):
            return IDENTIFIER
    for given, _family in _NAME_PAIR.findall(text):
        if given.lower() in _GIVEN_NAMES:
            return PERSON_NAME
    return None
