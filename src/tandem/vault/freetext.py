"""Personal data in free text (ticket messages, notes, uploaded text): found with Presidio's
pattern recognizers and masked for agents.

No model is loaded and nothing is downloaded, at construction or at scan time: Presidio's
default engine would load (and try to download) a spaCy model, so the analyzer gets
Presidio's `NoOpNlpEngine`, only pattern recognizers, and no `SpacyRecognizer`. The one piece
of language processing pattern recognizers use, context words ("ssn", "iban", "card" just
before a number raise its score), is done by `_PrefixContextEnhancer` with the tokenizer of a
blank spaCy pipeline (`spacy.blank("en")`) on the few words before each candidate only.
Presidio's `LemmaContextAwareEnhancer` needs lemmas a blank pipeline does not have (it then
matches nothing; it does not crash), matches context words as substrings ("tin" in "meeting",
"ip" in "shipping", "pan" in "company") and walks every token of the text for every result.

Entities and their placeholders in `mask` (`PLACEHOLDERS`):

    EMAIL_ADDRESS  [EMAIL]          EmailRecognizer (domain checked against tldextract's
                                    bundled suffix list, never fetched)
    PHONE_NUMBER   [PHONE]          PhoneRecognizer (python-phonenumbers; numbers valid in
                                    one of REGIONS, or written with +country code)
    CREDIT_CARD    [CARD ••••1234]  CreditCardRecognizer (Luhn), last four digits kept
    IBAN_CODE      [IBAN]           IbanRecognizer (country format and mod-97 check)
    IP_ADDRESS     [IP]             IpRecognizer (IPv4 and IPv6)
    US_SSN         [SSN]            UsSsnRecognizer
    IN_PAN         [PAN]            InPanRecognizer
    IN_AADHAAR     [AADHAAR]        InAadhaarRecognizer (Verhoeff check)
    PL_PESEL       [PESEL]          PlPeselRecognizer (checksum)
    PH_TIN         [TIN]            PhTinRecognizer (mod-11 check; only with a context word)
    PH_UMID        [UMID]           PhUmidRecognizer
    PH_PHILSYS     [PHILSYS]        custom, see below (only with a context word)

All are Presidio's predefined recognizers, some with a narrower configuration, except
PhilSys: the Philippine national ID has no recognizer in Presidio, so `_philsys_recognizer`
is a short custom one: the 16-digit PhilSys card number (PCN, printed on the PhilID, written
`1234-5678-9012-3456`) and the 12-digit PhilSys number (PSN, `1234-5678-9012`). Both are
random numbers without a check digit, so they count only after a context word (philsys,
philid, psn, pcn, national) and never win against a Luhn-valid card number.

Score threshold `SCORE_THRESHOLD = 0.4`: 0.4 is what PhoneRecognizer gives a number that
python-phonenumbers validates for a region, the least certain finding still worth masking on
its own. Below it sit only the "very weak" regexes (any 9 or 12 digits for SSN, TIN, UMID or
PhilSys, 5 letters + 4 digits + 1 letter for PAN): order ids, amounts, dates and invoice
numbers match those, so they count only when a context word lifts them to 0.4 or more.
Checksum-validated matches (cards, IBAN, Aadhaar, PESEL, email domains) score 1.0; a number
failing its checksum scores 0 and is never reported (a 16-digit number that fails Luhn is
not a card).

Phone numbers are looked for last, only in the text the other findings left: a card number,
an IBAN or an IP address holds digit groups that some region accepts as a phone number, and
the more specific entity is the better label. Everything else overlapping is resolved by
score, then length.

Cost (target: 2 ms per KB of text on the 2-core benchmark machine; Presidio's defaults with
these entities take about 13). What was changed, none of it dropping an entity:
- PhoneRecognizer runs python-phonenumbers' matcher over the whole text once per region,
  parsing every digit group ("45 minutes", years, amounts) six times: 9 ms per KB.
  `_PhoneRecognizer` runs the same matcher, with the same leniency, once over each run of
  digits and phone punctuation that has at least `MIN_PHONE_DIGITS` (7) digits (a phone
  number with its area code has that many) and is neither a date nor glued to a letter as in
  "PO-2024-000871"; the matcher parses each candidate in each region in turn.
- Presidio's LemmaContextAwareEnhancer walks the tokens of the whole text for each result;
  `_PrefixContextEnhancer` tokenizes only the 80 characters before a result, and only when a
  context word of its recognizer occurs there.
- InPanRecognizer's third pattern ("PAN (Low)", score 0.01: any 10 characters with a letter
  and 4 digits) runs look-aheads to the end of the text at every word, 1.7 ms per KB, for
  matches never above the threshold without a context word; a PAN is 5 letters, 4 digits
  and a letter, which the other two patterns match.
- The e-mail and PAN regexes run only on the words (runs of non-space characters) holding
  an "@", or a letter, four digits and a letter; the IPv6 patterns (IpRecognizer split in
  two) only on text with two colons at most four hex digits apart. Each finds what it would
  in the whole text.

`find` and `mask` are pure functions of the text; the scanner holds no per-call state and may
be shared by threads. Build it once, through `scanner()`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import phonenumbers
import spacy
import tldextract
from presidio_analyzer import (
    AnalysisExplanation,
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    InAadhaarRecognizer,
    InPanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    PhTinRecognizer,
    PhUmidRecognizer,
    PlPeselRecognizer,
    UsSsnRecognizer,
)
from spacy.language import Language

LANGUAGE = "en"
PHONE = "PHONE_NUMBER"
CARD = "CREDIT_CARD"
SCORE_THRESHOLD = 0.4
# Phone regions: clients' customers (US, GB, DE) and the delivery centres (IN, PH, PL);
# numbers written with a "+country code" are found whatever the region list.
REGIONS = ("US", "GB", "DE", "IN", "PH", "PL")
MIN_PHONE_DIGITS = 7

PLACEHOLDERS = {
    "EMAIL_ADDRESS": "[EMAIL]",
    PHONE: "[PHONE]",
    "CREDIT_CARD": "[CARD ••••{last4}]",
    "IBAN_CODE": "[IBAN]",
    "IP_ADDRESS": "[IP]",
    "US_SSN": "[SSN]",
    "IN_PAN": "[PAN]",
    "IN_AADHAAR": "[AADHAAR]",
    "PL_PESEL": "[PESEL]",
    "PH_TIN": "[TIN]",
    "PH_UMID": "[UMID]",
    "PH_PHILSYS": "[PHILSYS]",
}

# Every entity above needs a digit, except e-mail addresses ("@") and hex-only IPv6 (":").
_MAY_HOLD_PERSONAL_DATA = re.compile(r"[\d@:]")
_MIN_LENGTH = 6  # "a@b.io"; anything shorter holds none of the entities
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
_EMAIL_WORD = re.compile(r"\S*@\S*")
_PAN_WORD = re.compile(r"\S*[A-Za-z][0-9]{4}[A-Za-z]\S*")
# A run of digits joined by at most four of python-phonenumbers' phone punctuation characters
# (a superset: any white space), optionally led by "+" or an opening bracket: every candidate
# the phonenumbers matcher considers lies inside one such run, but for an extension ("ext. 22"
# after the number), which is left as it is.
_PHONE_PUNCTUATION = (
    r"\s\-x\u2010-\u2015\u2212\u30fc\uff0d-\uff0f\u00ad\u200b\u2060()\uff08\uff09\uff3b\uff3d"
    r".\[\]/~\u2053\u223c\uff5e"
)
_PHONE_RUN = re.compile(
    rf"[+\uff0b(\[\uff08\uff3b]{{0,4}}\d(?:[{_PHONE_PUNCTUATION}]{{0,4}}\d)*",
    re.IGNORECASE,
)
# A national number of each region, an e-mail address, a card number, an id.
_WARM_UP = (
    "Call +1 212 555 0100, 020 7946 0958, 030 1234567, 98765 43210, 0917 123 4567 or"
    " 601 234 567, write to a@example.com; card 4111 1111 1111 1111, case 20240521-0042."
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
# 2024-05-15, 15.05.2024, 05/15/24, optionally with the hour of a time ("2024-05-15 14:32")
_DATE = re.compile(
    rf"(?:[12]\d{{3}}([-/.]){_MONTH}\1{_DAY}|{_DAY}([-/.]){_DAY}\2(?:[12]\d{{3}}|\d{{2}}))"
    r"(?:[ T]+[0-2]?\d)?"
)
_ID_PREFIX = re.compile(r"[A-Za-z][-/#_]?\Z")
_CONTEXT_CHARS = 80  # text before a candidate searched for context words (>= 5 words)


@dataclass(frozen=True, slots=True)
class Finding:
    """Personal data at text[start:end]; entity is Presidio's name (see PLACEHOLDERS)."""

    entity: str
    start: int
    end: int
    score: float


class FreeTextScanner:
    """Finds and masks personal data in free text. Building it takes a fraction of a second
    and loads no model: do it once (`scanner()`)."""

    def __init__(self) -> None:
        # tldextract's default fetches the public suffix list from the internet on first
        # use; this one only reads the snapshot bundled with the package.
        domains = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "none"}])
        self._context = _PrefixContextEnhancer(spacy.blank(LANGUAGE))
        self._analyzer = AnalyzerEngine(
            registry=RecognizerRegistry(
                recognizers=_recognizers(domains), supported_languages=[LANGUAGE]
            ),
            nlp_engine=nlp_engine,
            supported_languages=[LANGUAGE],
            default_score_threshold=SCORE_THRESHOLD,
            context_aware_enhancer=self._context,
        )
        self._phone = _PhoneRecognizer(supported_regions=REGIONS, name=_PhoneRecognizer.NAME)
        self._nlp_artifacts = nlp_engine.process_text("", LANGUAGE)  # empty, whatever the text
        # Load what loads lazily (phone metadata, suffix list, compiled patterns) now.
        self.find(_WARM_UP)

    def find(self, text: str) -> list[Finding]:
        """The personal data in `text`, in order, without overlaps: of overlapping results
        the one with the higher score, then the longer one, is kept. Phone numbers are
        looked for last, outside the other findings."""
        if len(text) < _MIN_LENGTH or not _MAY_HOLD_PERSONAL_DATA.search(text):
            return []
        results = self._analyzer.analyze(text, LANGUAGE, nlp_artifacts=self._nlp_artifacts)
        found = _without_overlaps(map(_finding, results))
        # Phone numbers last, on what the other entities left: a card number or an IBAN
        # holds digit groups that are valid phone numbers somewhere, and checking a digit
        # run in every region is most of the cost of a scan.
        rest = _blank(text, found)
        phones = self._context.enhance_using_context(
            rest, self._phone.analyze(rest, [PHONE]), self._nlp_artifacts, [self._phone]
        )
        return _without_overlaps(
            [*found, *(_finding(phone) for phone in phones if phone.score >= SCORE_THRESHOLD)]
        )

    def mask(self, text: str) -> str:
        """`text` with each finding replaced by its placeholder (PLACEHOLDERS); masking a
        masked text changes nothing."""
        return _replaced(text, self.find(text))

    def for_storage(self, text: str) -> tuple[str, str]:
        """(`text` as agents see it: every finding masked; `text` as it may be kept, sealed:
        only card numbers cut to their last four digits), from one scan."""
        findings = self.find(text)
        cards = [finding for finding in findings if finding.entity == CARD]
        return _replaced(text, findings), _replaced(text, cards)


@functools.cache
def scanner() -> FreeTextScanner:
    """The process's scanner, built on first use."""
    return FreeTextScanner()


def placeholder(entity: str, value: str) -> str:
    """What an agent sees in place of `value`: for cards, the last four digits."""
    template = PLACEHOLDERS.get(entity, f"[{entity}]")
    if entity == CARD:
        return template.format(last4="".join(ch for ch in value if ch.isdigit())[-4:])
    return template


def _replaced(text: str, findings: Sequence[Finding]) -> str:
    if not findings:
        return text
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts.append(text[position : finding.start])
        parts.append(placeholder(finding.entity, text[finding.start : finding.end]))
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def _finding(result: RecognizerResult) -> Finding:
    return Finding(result.entity_type, result.start, result.end, result.score)


def _blank(text: str, findings: Sequence[Finding]) -> str:
    """`text` with each finding overwritten by "_": same length, no digits left there."""
    if not findings:
        return text
    chars = list(text)
    for finding in findings:
        chars[finding.start : finding.end] = "_" * (finding.end - finding.start)
    return "".join(chars)


def _phone_runs(text: str) -> Iterator[re.Match[str]]:
    """Runs of digits and phone punctuation that may hold a phone number: long enough, not
    a date, not part of an identifier (glued to a Latin letter, or to one and a "-", "/",
    "#" or "_", as in "PO-2024-000871")."""
    for run in _PHONE_RUN.finditer(text):
        start = run.start()
        before = text[max(0, start - 2) : start]
        if (
            sum(ch.isdigit() for ch in run.group()) < MIN_PHONE_DIGITS
            or _DATE.fullmatch(run.group())
            or _ID_PREFIX.search(before)
        ):
            continue
        yield run


def _without_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (-f.score, f.start - f.end, f.start)):
        if all(finding.end <= other.start or other.end <= finding.start for other in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


# Recognizers -------------------------------------------------------------------------------


def _recognizers(domains: tldextract.TLDExtract) -> list[EntityRecognizer]:
    ip_patterns = [Pattern(p.name, p.regex, p.score) for p in IpRecognizer.PATTERNS]
    pan_patterns = [
        Pattern(p.name, p.regex, p.score) for p in InPanRecognizer.PATTERNS if p.score >= 0.1
    ]
    pesel = PlPeselRecognizer.PATTERNS[0]
    return [
        _EmailRecognizer(domains),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(patterns=[p for p in ip_patterns if p.name == "IPv4"], name="IPv4Recognizer"),
        _IPv6Recognizer(patterns=[p for p in ip_patterns if p.name != "IPv4"]),
        UsSsnRecognizer(),
        _PanRecognizer(patterns=pan_patterns),
        InAadhaarRecognizer(),
        # Presidio's PESEL pattern has no word boundaries (it matches inside longer numbers)
        # and is registered for Polish only.
        PlPeselRecognizer(
            patterns=[Pattern(pesel.name, rf"\b{pesel.regex}\b", pesel.score)],
            supported_language=LANGUAGE,
        ),
        PhTinRecognizer(),
        PhUmidRecognizer(),
        _philsys_recognizer(),
    ]


def _philsys_recognizer() -> PatternRecognizer:
    return PatternRecognizer(
        supported_entity="PH_PHILSYS",
        name="PhPhilSysRecognizer",
        patterns=[
            Pattern("PhilSys card number (PCN)", r"\b\d{4}[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b", 0.05),
            Pattern("PhilSys number (PSN)", r"\b\d{4}[- ]?\d{4}[- ]?\d{4}\b", 0.05),
        ],
        context=["philsys", "philid", "psn", "pcn", "national"],
    )


def _in_words(
    words: re.Pattern[str], text: str, analyze: Callable[[str], list[RecognizerResult]]
) -> list[RecognizerResult]:
    """`analyze` run on each word (a run of non-space characters) that `words` finds, its
    results placed in `text`. For patterns that cannot match white space this finds what
    `analyze(text)` finds (a word's edges are word boundaries in both), scanning only the
    words that may hold a match."""
    results: list[RecognizerResult] = []
    for word in words.finditer(text):
        for result in analyze(word.group()):
            result.start += word.start()
            result.end += word.start()
            results.append(result)
    return results


class _EmailRecognizer(EmailRecognizer):
    def __init__(self, domains: tldextract.TLDExtract) -> None:
        super().__init__()
        self._domains = domains

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        analyze = super().analyze
        return _in_words(
            _EMAIL_WORD, text, lambda word: analyze(word, entities, nlp_artifacts, regex_flags)
        )

    def validate_result(self, pattern_text: str) -> bool:
        return self._domains(pattern_text).fqdn != ""


class _IPv6Recognizer(IpRecognizer):
    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        if not _IPV6_HINT.search(text):
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


class _PanRecognizer(InPanRecognizer):
    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        analyze = super().analyze
        return _in_words(
            _PAN_WORD, text, lambda word: analyze(word, entities, nlp_artifacts, regex_flags)
        )


class _PhoneRecognizer(PhoneRecognizer):
    """PhoneRecognizer, python-phonenumbers' matcher (same leniency) run once over each run of
    digits that may be a phone number, trying each candidate in every region in turn,
    instead of once per region over the whole text."""

    NAME = "PhoneRecognizer"

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for run in _phone_runs(text):
            start, end = run.span()
            # The matcher looks at the character before a number and, for time stamps, at
            # the three after it.
            offset = max(0, start - 1)
            window = text[offset : end + 3]
            for match in _Matcher(window, self.supported_regions, phonenumbers.Leniency.VALID):
                match_start, match_end = offset + match.start, offset + match.end
                if start <= match_start and match_end <= end:
                    results.append(self._result(match_start, match_end, match.number))
        return EntityRecognizer.remove_duplicates(results)

    def _result(self, start: int, end: int, number: phonenumbers.PhoneNumber) -> RecognizerResult:
        region = phonenumbers.region_code_for_number(number)
        return RecognizerResult(
            entity_type=self.supported_entities[0],
            start=start,
            end=end,
            score=self.SCORE,
            analysis_explanation=AnalysisExplanation(
                recognizer=PhoneRecognizer.__name__,
                original_score=self.SCORE,
                textual_explanation=f"Recognized as {region} region phone number",
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.NAME,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


class _Matcher(phonenumbers.PhoneNumberMatcher):
    """python-phonenumbers' matcher parsing each candidate in several regions, the first
    that validates it winning (only the parse depends on the region: the rest of the
    matcher's work is done once, not once per region), and skipping candidates too short
    to be a phone number (when a run is no number, it parses each digit group alone)."""

    def __init__(self, text: str, regions: Sequence[str], leniency: int) -> None:
        super().__init__(text, regions[0], leniency)
        self._regions = regions

    def _parse_and_verify(
        self, candidate: str, offset: int
    ) -> phonenumbers.PhoneNumberMatch | None:
        if sum(ch.isdigit() for ch in candidate) < MIN_PHONE_DIGITS:
            return None
        for region in self._regions:
            self.preferred_region = region
            match = super()._parse_and_verify(candidate, offset)
            if match is not None:
                return match
        return None


# Context words -----------------------------------------------------------------------------


class _PrefixContextEnhancer(ContextAwareEnhancer):
    """Raises a result's score by 0.35 (to at least 0.4, at most 1.0) when one of its
    recognizer's context words, or its plural, is among the five words (stop words and
    punctuation aside) before it; a context phrase ("tax id") counts anywhere in the
    80 characters before it. Words come from a blank spaCy pipeline's tokenizer; results
    scored 1.0 already are left alone."""

    def __init__(self, nlp: Language) -> None:
        super().__init__(
            context_similarity_factor=0.35,
            min_score_with_context_similarity=0.4,
            context_prefix_count=5,
            context_suffix_count=0,
        )
        self._nlp = nlp

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        by_id = {recognizer.id: recognizer for recognizer in recognizers}
        given = [word.lower() for word in context or ()]
        for result in raw_results:
            metadata = result.recognition_metadata or {}
            recognizer = by_id.get(metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if (
                result.score >= self.MAX_SCORE
                or recognizer is None
                or not recognizer.context
                or metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY)
            ):
                continue
            before = text[max(0, result.start - _CONTEXT_CHARS) : result.start].lower()
            if not given and not any(w.strip().lower() in before for w in recognizer.context):
                continue  # no context word in the text before it: no need to tokenize
            word = _supporting_word(self._words(before) + given, before, recognizer.context)
            if word:
                score = max(
                    result.score + self.context_similarity_factor,
                    self.min_score_with_context_similarity,
                )
                result.score = min(score, self.MAX_SCORE)
                result.analysis_explanation.set_supportive_context_word(word)
                result.analysis_explanation.set_improved_score(result.score)
        return raw_results

    def _words(self, before: str) -> list[str]:
        tokens = [
            token.text
            for token in self._nlp.tokenizer(before)
            if not (token.is_punct or token.is_space or token.is_stop)
        ]
        if len(before) == _CONTEXT_CHARS and tokens and not before[0].isspace():
            tokens = tokens[1:]  # the first word may be cut
        return tokens[-self.context_prefix_count :]


def _supporting_word(words: Sequence[str], before: str, context: Sequence[str]) -> str:
    for context_word in context:
        wanted = context_word.strip().lower()
        if " " in wanted:
            if re.search(rf"\b{re.escape(wanted)}\b", before):
                return wanted
        elif wanted in words or f"{wanted}s" in words or f"{wanted}es" in words:
            return wanted
    return ""
