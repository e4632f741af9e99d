"""Personal data in free text: found with Presidio's pattern recognizers, masked for agents."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tandem.vault.freetext import (
    PLACEHOLDERS,
    Finding,
    FreeTextScanner,
    placeholder,
    scanner,
)

TICKET = (
    "Hello support team,\n\n"
    "I'm writing about order #A-100234 placed on 12/03/2024 for $1,249.99. The parcel was "
    'supposed to arrive last Tuesday, but the tracking page still says "label created". I '
    "already called twice and spent about 45 minutes on hold each time.\n\n"
    "You can reach me at maria.kowalska@example.com or on my mobile +48 601 234 567 between "
    "9am and 5pm. If the refund goes back to my card, it's the Visa 4111 1111 1111 1111; "
    "otherwise please send it to my bank account GB82 WEST 1234 5698 7654 32 instead.\n\n"
    "For the customs form your colleague asked for my PAN, which is ABCPE1234F, and I logged "
    "in from 192.168.10.24 when I placed the order. My previous ticket was 88213 and the "
    "invoice number is INV-2024-0091.\n\n"
    "Please let me know within 2 business days whether a replacement or a refund is "
    "possible.\n\nThanks in advance,\nMaria\n"
)

TICKET_MASKED = (
    "Hello support team,\n\n"
    "I'm writing about order #A-100234 placed on 12/03/2024 for $1,249.99. The parcel was "
    'supposed to arrive last Tuesday, but the tracking page still says "label created". I '
    "already called twice and spent about 45 minutes on hold each time.\n\n"
    "You can reach me at [EMAIL] or on my mobile [PHONE] between "
    "9am and 5pm. If the refund goes back to my card, it's the Visa [CARD ••••1111]; "
    "otherwise please send it to my bank account [IBAN] instead.\n\n"
    "For the customs form your colleague asked for my PAN, which is [PAN], and I logged "
    "in from [IP] when I placed the order. My previous ticket was 88213 and the "
    "invoice number is INV-2024-0091.\n\n"
    "Please let me know within 2 business days whether a replacement or a refund is "
    "possible.\n\nThanks in advance,\nMaria\n"
)

ENTITIES = [
    (
        "Please write to maria.kowalska@example.com about it.",
        "Please write to [EMAIL] about it.",
        "EMAIL_ADDRESS",
    ),
    (
        "Refund it to my Visa 4111 1111 1111 1111, please.",
        "Refund it to my Visa [CARD ••••1111], please.",
        "CREDIT_CARD",
    ),
    (
        "The Mastercard was 5555-5555-5555-4444 I think.",
        "The Mastercard was [CARD ••••4444] I think.",
        "CREDIT_CARD",
    ),
    (
        "Send it to GB82 WEST 1234 5698 7654 32 instead.",
        "Send it to [IBAN] instead.",
        "IBAN_CODE",
    ),
    (
        "My German account is DE89 3704 0044 0532 0130 00, thanks.",
        "My German account is [IBAN], thanks.",
        "IBAN_CODE",
    ),
    (
        "I logged in from 192.168.10.24 yesterday.",
        "I logged in from [IP] yesterday.",
        "IP_ADDRESS",
    ),
    (
        "The portal blocked 2001:db8:85a3::8a2e:370:7334 this morning.",
        "The portal blocked [IP] this morning.",
        "IP_ADDRESS",
    ),
    ("For verification my SSN is 536-90-4399.", "For verification my SSN is [SSN].", "US_SSN"),
    ("My PAN is ABCPE1234F as requested.", "My PAN is [PAN] as requested.", "IN_PAN"),
    (
        "My Aadhaar is 2345 6789 0124 for the KYC.",
        "My Aadhaar is [AADHAAR] for the KYC.",
        "IN_AADHAAR",
    ),
    ("You asked for my PESEL: 44051401359.", "You asked for my PESEL: [PESEL].", "PL_PESEL"),
    ("My TIN is 123-456-782-000 for the BIR.", "My TIN is [TIN] for the BIR.", "PH_TIN"),
    (
        "The CRN on my UMID card is 0111-2345678-9.",
        "The CRN on my UMID card is [UMID].",
        "PH_UMID",
    ),
    (
        "My PhilSys number is 1234-5678-9012-3456.",
        "My PhilSys number is [PHILSYS].",
        "PH_PHILSYS",
    ),
]

PHONES = [
    "+1 415 555 0132",  # US, international
    "(415) 555-0132",  # US, national
    "415.555.0187",  # US, dotted
    "+44 20 7946 0958",  # GB
    "020 7946 0958",  # GB, national
    "030 1234567",  # DE, national
    "+49 30 1234567",  # DE
    "+91 98765 43210",  # IN
    "98765 43210",  # IN, national
    "0917 123 4567",  # PH mobile
    "(02) 8123 4567",  # PH, Manila landline
    "+48 601 234 567",  # PL
    "601 234 567",  # PL, national
]

WITHOUT_PERSONAL_DATA = [
    "Order #A-100234 placed on 12/03/2024 for $1,249.99 has not arrived.",
    "It was refunded on 2024-05-17 at 14:32 and again on 15.05.2024, total EUR 1.740,00.",
    "Invoice INV-2024-0091 and PO-2024-000871, tracking TRK-88120934, ticket 88213.",
    "I spent 45 minutes on hold, version 5.2 of the app, qty 3, 20 units by Friday.",
    "The number 4111 1111 1111 1112 on the form fails the check.",  # 16 digits, not Luhn-valid
    "Batch 001-234-560 shipped in 2 boxes of 30 x 20 x 10 cm.",  # a TIN's shape, no context
    "Thanks a lot, I will wait for your answer!",
    "",
    "ok",
]


@pytest.fixture(scope="module")
def ft() -> FreeTextScanner:
    return scanner()


@pytest.mark.parametrize(("text", "masked", "entity"), ENTITIES)
def test_each_entity_is_found_and_masked(
    ft: FreeTextScanner, text: str, masked: str, entity: str
) -> None:
    assert ft.mask(text) == masked
    (finding,) = ft.find(text)
    assert finding.entity == entity
    assert finding.score >= 0.4


@pytest.mark.parametrize("number", PHONES)
def test_phone_numbers_of_the_regions_served(ft: FreeTextScanner, number: str) -> None:
    text = f"You can call me on {number} after 5pm."
    assert ft.mask(text) == "You can call me on [PHONE] after 5pm."
    assert [(f.entity, text[f.start : f.end]) for f in ft.find(text)] == [("PHONE_NUMBER", number)]


def test_a_card_number_keeps_its_last_four_digits_only(ft: FreeTextScanner) -> None:
    masked = ft.mask("card 4111-1111-1111-1111 exp 09/27")
    assert masked == "card [CARD ••••1111] exp 09/27"
    assert "4111-1111" not in masked
    assert placeholder("CREDIT_CARD", "5555 5555 5555 4444") == "[CARD ••••4444]"


def test_a_16_digit_number_failing_luhn_is_not_a_card(ft: FreeTextScanner) -> None:
    text = "My card number is 4111 1111 1111 1112, the same as before."
    assert ft.find(text) == []
    assert ft.mask(text) == text


@pytest.mark.parametrize("text", WITHOUT_PERSONAL_DATA)
def test_text_without_personal_data_comes_back_unchanged(ft: FreeTextScanner, text: str) -> None:
    assert ft.find(text) == []
    assert ft.mask(text) == text


def test_several_findings_in_a_realistic_ticket(ft: FreeTextScanner) -> None:
    assert ft.mask(TICKET) == TICKET_MASKED
    findings = ft.find(TICKET)
    assert [(f.entity, TICKET[f.start : f.end]) for f in findings] == [
        ("EMAIL_ADDRESS", "maria.kowalska@example.com"),
        ("PHONE_NUMBER", "+48 601 234 567"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
        ("IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
        ("IN_PAN", "ABCPE1234F"),
        ("IP_ADDRESS", "192.168.10.24"),
    ]
    assert all(isinstance(f, Finding) for f in findings)
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))


def test_masking_is_idempotent(ft: FreeTextScanner) -> None:
    texts = [TICKET, *(text for text, _, _ in ENTITIES), *PHONES]
    for text in texts:
        once = ft.mask(text)
        assert ft.mask(once) == once
        assert ft.find(once) == []


def test_unicode_text(ft: FreeTextScanner) -> None:
    polish = "Zażółć gęślą jaźń: napisz na jan.kowalski@przykład.pl albo +48 601 234 567, dzięki."
    assert ft.mask(polish) == "Zażółć gęślą jaźń: napisz na [EMAIL] albo [PHONE], dzięki."
    chinese = "客户邮箱 wang.fang@example.cn\uff0c电话 +86 138 0013 8000\uff0c谢谢"
    assert ft.mask(chinese) == "客户邮箱 [EMAIL]\uff0c电话 [PHONE]\uff0c谢谢"
    emoji = "🙂 Karte 4111 1111 1111 1111 — danke! 🙏"
    assert ft.mask(emoji) == "🙂 Karte [CARD ••••1111] — danke! 🙏"


def test_context_words_decide_the_weak_identifiers(ft: FreeTextScanner) -> None:
    # A valid Philippine TIN is only a TIN after "TIN" (or "BIR", "tax id"...).
    assert ft.mask("Batch 001-234-560 shipped.") == "Batch 001-234-560 shipped."
    assert ft.mask("My TIN: 001-234-560.") == "My TIN: [TIN]."
    # A bare 9-digit SSN counts after "SSN"; the plural counts too.
    assert [f.entity for f in ft.find("SSN 536904399")] == ["US_SSN"]
    assert ft.mask("my ssns: 536-90-4399") == "my ssns: [SSN]"
    # Context is whole words: "company" is no "pan", "meeting" no "tin".
    assert ft.mask("At the meeting the company said 001-234-560.") == (
        "At the meeting the company said 001-234-560."
    )


def test_of_overlapping_findings_the_higher_score_wins(ft: FreeTextScanner) -> None:
    # The digits are a PhilSys card number's shape after "PhilID", but Luhn-valid: a card.
    text = "my PhilID card 4111 1111 1111 1111"
    assert [(f.entity, f.score) for f in ft.find(text)] == [("CREDIT_CARD", 1.0)]
    assert ft.mask(text) == "my PhilID card [CARD ••••1111]"


def test_every_entity_has_a_placeholder(ft: FreeTextScanner) -> None:
    found = {f.entity for text, _, _ in ENTITIES for f in ft.find(text)} | {"PHONE_NUMBER"}
    assert found == set(PLACEHOLDERS)
    assert placeholder("SOMETHING_NEW", "x") == "[SOMETHING_NEW]"


NO_NETWORK = """
import socket, spacy
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("no network here")
def no_model(*args, **kwargs):
    raise AssertionError("a spaCy model was loaded")
socket.socket.connect = refuse
socket.getaddrinfo = refuse
spacy.load = no_model
from tandem.vault.freetext import FreeTextScanner
print(FreeTextScanner().mask("mail maria@example.co.uk or call +44 20 7946 0958"))
print(attempts)
"""


def test_building_and_scanning_need_no_network_and_no_spacy_model(tmp_path: Path) -> None:
    # A fresh process with an empty cache directory: nothing fetched or cached before.
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", NO_NETWORK], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["mail [EMAIL] or call [PHONE]", "[]"]
    assert list(tmp_path.rglob("*")) == []  # nor written a cache (tldextract's, say)


def test_the_scanner_is_built_once() -> None:
    assert scanner() is scanner()
