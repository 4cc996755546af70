"""Vietnamese legacy font encodings (TCVN3/ABC and VNI-Windows) → Unicode, and a detector that picks a decoding.

Before Unicode, Vietnamese offices typed with 8-bit "font hacks": the bytes are ordinary Windows-1252 bytes, and
only the special font (.VnTime for TCVN3, VNI-Times for VNI) drew them as Vietnamese letters. Read as cp1252 the
text turns into mojibake such as "NguyÔn V¨n" (TCVN3) or "Nguyeãn Vaên" (VNI). Neither table uses the bytes
0x80–0x9F, so cp1252 and latin-1 give the same characters for every byte that matters here.

- TCVN3 is one byte per precomposed letter. Capitals with a tone mark live in a separate font (.VnTimeH) that
  reuses the lower-case bytes, so they cannot be told apart byte by byte: a word typed all in capitals
  ("NGUYÔN") is upper-cased after conversion.
- VNI writes a base letter followed by one modifier byte (tone, or vowel mark + tone combined); đ, ơ, ư and the
  i/ỵ letters are single bytes.

The detector scores each candidate decoding by the share of its non-ASCII words that are valid Vietnamese
syllables, so it needs no dictionary.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

# --- TCVN3 (TCVN 5712:1993, VN3 "ABC") ------------------------------------------------------------------------
# Unicode letter → its byte, read as cp1252/latin-1 character. Lower case in full, plus the 7 capitals the
# normal font carries; toned capitals reuse the lower-case bytes in the .VnTimeH font (handled by word case).
_TCVN3_PAIRS = (
    "à\xb5 ả\xb6 ã\xb7 á\xb8 ạ\xb9 ă\xa8 ằ\xbb ẳ\xbc ẵ\xbd ắ\xbe ặ\xc6 â\xa9 ầ\xc7 ẩ\xc8 ẫ\xc9 ấ\xca ậ\xcb "
    "đ\xae è\xcc ẻ\xce ẽ\xcf é\xd0 ẹ\xd1 ê\xaa ề\xd2 ể\xd3 ễ\xd4 ế\xd5 ệ\xd6 ì\xd7 ỉ\xd8 ĩ\xdc í\xdd ị\xde "
    "ò\xdf ỏ\xe1 õ\xe2 ó\xe3 ọ\xe4 ô\xab ồ\xe5 ổ\xe6 ỗ\xe7 ố\xe8 ộ\xe9 ơ\xac ờ\xea ở\xeb ỡ\xec ớ\xed ợ\xee "
    "ù\xef ủ\xf1 ũ\xf2 ú\xf3 ụ\xf4 ư\xad ừ\xf5 ử\xf6 ữ\xf7 ứ\xf8 ự\xf9 ỳ\xfa ỷ\xfb ỹ\xfc ý\xfd ỵ\xfe "
    "Ă\xa1 Â\xa2 Ê\xa3 Ô\xa4 Ơ\xa5 Ư\xa6 Đ\xa7"
)
TCVN3_TO_UNICODE: dict[str, str] = {pair[1]: pair[0] for pair in _TCVN3_PAIRS.split()}
_TCVN3_TABLE = str.maketrans(TCVN3_TO_UNICODE)

# --- VNI-Windows ----------------------------------------------------------------------------------------------
# Modifier characters (as cp1252) after a vowel: plain tones, then vowel mark + tone combined.
_VNI_TONES_LOWER = {"ø": "\u0300", "ù": "\u0301", "û": "\u0309", "õ": "\u0303", "ï": "\u0323"}
_VNI_CIRCUMFLEX_TONES_LOWER = {"à": "\u0300", "á": "\u0301", "å": "\u0309", "ã": "\u0303", "ä": "\u0323"}
_VNI_BREVE_TONES_LOWER = {"è": "\u0300", "é": "\u0301", "ú": "\u0309", "ü": "\u0303", "ë": "\u0323"}


def _build_vni_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for upper in (False, True):

        def case(text: str, upper: bool = upper) -> str:
            return text.upper() if upper else text

        def compose(base: str, *marks: str) -> str:
            return unicodedata.normalize("NFC", base + "".join(marks))

        tones = {case(k): v for k, v in _VNI_TONES_LOWER.items()}
        circumflex_tones = {case(k): v for k, v in _VNI_CIRCUMFLEX_TONES_LOWER.items()}
        breve_tones = {case(k): v for k, v in _VNI_BREVE_TONES_LOWER.items()}
        circumflex, breve = case("â"), case("ê")
        for vowel in "aeouy":
            base = case(vowel)
            for modifier, tone in tones.items():
                table[base + modifier] = compose(base, tone)
        for vowel in "aeo":  # â ê ô: circumflex alone or with a tone
            base = case(vowel)
            table[base + circumflex] = compose(base, "\u0302")
            for modifier, tone in circumflex_tones.items():
                table[base + modifier] = compose(base, "\u0302", tone)
        base = case("a")  # ă: breve alone or with a tone
        table[base + breve] = compose(base, "\u0306")
        for modifier, tone in breve_tones.items():
            table[base + modifier] = compose(base, "\u0306", tone)
        # ơ and ư are single bytes that take the plain tone modifiers.
        for legacy, letter in ((case("ô"), case("ơ")), (case("ö"), case("ư"))):
            table[legacy] = letter
            for modifier, tone in tones.items():
                table[legacy + modifier] = compose(letter, tone)
        # Single-byte letters: đ, the toned i's (ì and í are already themselves) and ỵ.
        singles = {"ñ": "đ", "æ": "ỉ", "ó": "ĩ", "ò": "ị", "î": "ỵ"}
        for legacy, letter in singles.items():
            table[case(legacy)] = case(letter)
    return table


VNI_TO_UNICODE: dict[str, str] = _build_vni_table()
# Longest sequences first so "oâ" wins over a lone "â", and "ôù" over a lone "ô".
_VNI_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(VNI_TO_UNICODE, key=len, reverse=True)))

# --- Vietnamese syllable check --------------------------------------------------------------------------------
_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_ONSET = "(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
_CODA = "(?:ch|ng|nh|[cmnpt])?"
# The vowel groups Vietnamese spelling allows (tone marks removed), longest first.
_NUCLEI = (
    *("uyê", "uyu", "uya", "ươi", "ươu", "iêu", "yêu", "oai", "oao", "oay", "oeo", "uây", "uôi"),
    *("ai", "ao", "au", "ay", "âu", "ây", "eo", "êu", "ia", "iê", "iu", "oa", "oă", "oe", "oi", "ôi", "ơi"),
    *("ua", "uâ", "uê", "ui", "uô", "uơ", "uy", "ưa", "ưi", "ưu", "ươ", "yê"),
    *("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y"),
)
_SYLLABLE = re.compile(f"^{_ONSET}(?:{'|'.join(_NUCLEI)}){_CODA}$")
_WORD = re.compile(r"[^\s\d\"',.;:/\\|()\[\]{}<>_=+*&^%$#@!?~`-]+")


def _strip_tone(word: str) -> tuple[str, int]:
    """The word without tone marks (vowel marks kept), and how many tone marks it had."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = sum(1 for ch in decomposed if ch in _TONE_MARKS)
    kept = "".join(ch for ch in decomposed if ch not in _TONE_MARKS)
    return unicodedata.normalize("NFC", kept), tones


@lru_cache(maxsize=65536)
def is_vietnamese_syllable(word: str) -> bool:
    """True when `word` has the shape of one Vietnamese syllable (onset, vowel group, coda, at most one tone)."""
    plain, tones = _strip_tone(word.lower())
    return tones <= 1 and bool(_SYLLABLE.match(plain))


def vietnamese_evidence(text: str) -> tuple[float, int]:
    """(share, count) of the words with non-ASCII letters that are valid Vietnamese syllables.

    ASCII-only words read the same under every candidate decoding, so only the others can tell them apart.
    """
    words = Counter(w for w in _WORD.findall(text) if not w.isascii())
    if not words:
        return 0.0, 0
    # Names and places repeat: check each distinct word once.
    valid = sum(n for w, n in words.items() if is_vietnamese_syllable(w))
    return valid / words.total(), valid


def vietnamese_score(text: str) -> float:
    """Share of the words with non-ASCII letters that are valid Vietnamese syllables (0 when there are none)."""
    return vietnamese_evidence(text)[0]


# --- Conversion -----------------------------------------------------------------------------------------------
# A whitespace-delimited word with an ASCII capital and no ASCII lower case: the only candidates for .VnTimeH.
# Capital words, after conversion. A candidate is a run of letters with an ASCII capital and no ASCII lower case;
# a strong one has two capitals (after TCVN3 conversion Ă Â Ê Ô Ơ Ư Đ are real capitals too).
_CANDIDATE = r"[^\W\d_a-z]*[A-Z][^\W\d_a-z]*"
_CAPITAL = "[A-ZĂÂÊÔƠƯĐ]"
_STRONG_CAPITAL_WORD = re.compile(
    rf"(?<![^\W\d_])[^\W\d_a-z]*{_CAPITAL}[^\W\d_a-z]*{_CAPITAL}[^\W\d_a-z]*(?![^\W\d_])"
)
_CAPITAL_PHRASE = re.compile(rf"(?<![^\W\d_]){_CANDIDATE}(?: +{_CANDIDATE})+(?![^\W\d_])")


def _is_strong(word: str) -> bool:
    return sum(1 for c in word if c.isupper()) >= 2


def _upper_phrase(match: re.Match[str]) -> str:
    parts = re.split(r"( +)", match.group(0))  # words at even positions, their spaces between
    words = parts[::2]
    strong = [_is_strong(w) for w in words]
    for i, word in enumerate(words):
        beside = (i > 0 and strong[i - 1]) or (i + 1 < len(words) and strong[i + 1])
        if strong[i] or (len(word) > 1 and beside):
            parts[2 * i] = word.upper()
    return "".join(parts)


def restore_tcvn3_capitals(converted: str) -> str:
    """Restore capitals typed in the .VnTimeH font, whose toned capitals reuse the lower-case bytes.

    A word with two or more capitals and no ASCII lower case ("NGUYễN") is a capital word. A word with a single
    capital ("Mỹ", "Võ") is ambiguous: it is upper-cased only next to a capital word ("NGUYỄN Mỹ HƯƠNG").
    Regexes find the few places to look at, so title-case text costs one scan.
    """
    if not _STRONG_CAPITAL_WORD.search(converted):
        return converted
    converted = _CAPITAL_PHRASE.sub(_upper_phrase, converted)
    return _STRONG_CAPITAL_WORD.sub(lambda m: m.group(0).upper(), converted)


def tcvn3_to_unicode(text: str, restore_capitals: bool = True) -> str:
    """Convert TCVN3 (ABC) mojibake, read as cp1252, to NFC Unicode.

    `restore_capitals=False` leaves .VnTimeH capitals to the caller (ingest restores them per distinct value,
    which is far cheaper than scanning a whole file with regexes).
    """
    converted = text.translate(_TCVN3_TABLE)
    return _nfc(restore_tcvn3_capitals(converted) if restore_capitals else converted)


def vni_to_unicode(text: str) -> str:
    """Convert VNI-Windows mojibake, read as cp1252, to NFC Unicode."""
    converted = _VNI_PATTERN.sub(lambda m: VNI_TO_UNICODE[m.group(0)], text)
    return unicodedata.normalize("NFC", converted)


LEGACY_CONVERTERS = {"tcvn3": tcvn3_to_unicode, "vni": vni_to_unicode}


_CP1252_UNDEFINED = (0x81, 0x8D, 0x8F, 0x90, 0x9D)
# latin-1 character → the cp1252 character of the same byte (latin-1 where cp1252 leaves the byte undefined).
_LATIN1_TO_CP1252 = str.maketrans(
    {chr(b): bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in _CP1252_UNDEFINED}
)


def decode_cp1252(data: bytes) -> str:
    """cp1252 where it defines a byte, latin-1 (C1 control) where it does not: never fails."""
    return data.decode("latin-1").translate(_LATIN1_TO_CP1252)


@dataclass(frozen=True)
class Decoding:
    """A chosen decoding: the text (NFC), the encoding's name and the Vietnamese score that chose it."""

    text: str
    encoding: str
    score: float


# How much better a legacy reading must score than the text as it stands before we rewrite the text.
LEGACY_MARGIN = 0.2
LEGACY_MIN_WORDS = 4


def detect_legacy_text(text: str) -> tuple[str | None, float, float]:
    """Does already-decoded text look like TCVN3/VNI mojibake? Returns (font or None, its score, as-is score).

    Used on text that decoded cleanly (UTF-8 files, xlsx cells) but was typed in a legacy font and converted
    byte for byte, which is common when an old .xls is saved again as CSV UTF-8.
    """
    as_is = vietnamese_score(text)
    best_name, best_score = None, as_is
    if as_is >= 1.0 - LEGACY_MARGIN:
        return None, as_is, as_is  # already reads as Vietnamese: no conversion can win by the margin
    for name, convert in LEGACY_CONVERTERS.items():
        score, valid_words = vietnamese_evidence(convert(text))
        # A handful of words is no evidence: valid text is only rewritten on a clear, repeated signal.
        if score > best_score + LEGACY_MARGIN and score >= 0.5 and valid_words >= LEGACY_MIN_WORDS:
            best_name, best_score = name, score
    return best_name, best_score, as_is


def decode_legacy_bytes(data: bytes, sample_size: int = 32 * 1024, restore_capitals: bool = True) -> Decoding:
    """Pick the best 8-bit decoding for bytes that are not UTF-8.

    Order of preference on a tie: TCVN3 / VNI (font hacks read through cp1252), then Windows-1258, then plain
    cp1252. The choice is made on a sample; the whole input is then decoded the chosen way.
    """
    sample = data[:sample_size]
    cp1252_sample = decode_cp1252(sample)
    candidates: list[tuple[str, float]] = []
    for name, convert in LEGACY_CONVERTERS.items():
        candidates.append((name, vietnamese_score(convert(cp1252_sample))))
    try:
        cp1258_sample = unicodedata.normalize("NFC", sample.decode("cp1258"))
        candidates.append(("cp1258", vietnamese_score(cp1258_sample)))
    except UnicodeDecodeError:
        pass
    candidates.append(("cp1252", vietnamese_score(cp1252_sample)))
    # max() keeps the first of equal scores, which is the order of preference above.
    name, score = max(candidates, key=lambda item: item[1])
    if score == 0.0:
        name = "cp1252"
    return Decoding(text=decode_as(data, name, restore_capitals), encoding=name, score=score)


# Byte → character tables for codecs.charmap_decode (C speed): cp1252 with the TCVN3 letters in place.
_CP1252_CHARS = bytes(range(256)).decode("latin-1").translate(_LATIN1_TO_CP1252)
_TCVN3_CHARS = _CP1252_CHARS.translate(_TCVN3_TABLE)


def decode_tcvn3_bytes(data: bytes, restore_capitals: bool = True) -> str:
    """TCVN3 bytes → NFC Unicode (one byte per letter, so a byte table does it)."""
    text = codecs.charmap_decode(data, "strict", _TCVN3_CHARS)[0]
    return _nfc(restore_tcvn3_capitals(text) if restore_capitals else text)


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def decode_as(data: bytes, encoding: str, restore_capitals: bool = True) -> str:
    """Decode bytes with a codec name or one of the legacy fonts ("tcvn3", "vni"); result is NFC."""
    key = encoding.lower().replace("_", "-")
    if key in ("tcvn3", "tcvn", "abc", "vntime"):
        return decode_tcvn3_bytes(data, restore_capitals)
    if key in ("vni", "vni-windows"):
        return vni_to_unicode(decode_cp1252(data))
    if key in ("cp1252", "windows-1252"):
        return decode_cp1252(data)
    return _nfc(data.decode(encoding))


# --- Encoding (for tests, demo data and round trips) ----------------------------------------------------------
_UNICODE_TO_TCVN3 = {letter: legacy for legacy, letter in TCVN3_TO_UNICODE.items()}
_UNICODE_TO_VNI = {letter: legacy for legacy, letter in VNI_TO_UNICODE.items()}


def _encode_cp1258_char(char: str) -> bytes:
    try:
        return char.encode("cp1258")
    except UnicodeEncodeError:
        pass
    # Windows-1258 has the vowel-marked letters precomposed and the five tones as combining marks.
    decomposed = unicodedata.normalize("NFD", char)
    tones = "".join(c for c in decomposed if c in _TONE_MARKS)
    letter = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return letter.encode("cp1258") + tones.encode("cp1258")


def encode_legacy(text: str, encoding: str) -> bytes:
    """Encode Unicode text the way an old Vietnamese office would have: "tcvn3", "vni", "cp1258" or a codec.

    TCVN3 toned capitals have no byte of their own (they live in the .VnTimeH font): they are written with the
    lower-case byte, which `tcvn3_to_unicode` brings back to a capital when the whole word is in capitals.
    """
    text = unicodedata.normalize("NFC", text)
    key = encoding.lower().replace("_", "-")
    if key == "tcvn3":
        return "".join(_UNICODE_TO_TCVN3.get(c, _UNICODE_TO_TCVN3.get(c.lower(), c)) for c in text).encode(
            "cp1252"
        )
    if key == "vni":
        return "".join(_UNICODE_TO_VNI.get(c, c) for c in text).encode("cp1252")
    if key in ("cp1258", "windows-1258"):
        return b"".join(_encode_cp1258_char(c) for c in text)
    return text.encode(encoding)


def encode_tcvn3(text: str) -> bytes:
    """Unicode → TCVN3 (ABC) bytes."""
    return encode_legacy(text, "tcvn3")


def encode_vni(text: str) -> bytes:
    """Unicode → VNI-Windows bytes."""
    return encode_legacy(text, "vni")


encode = encode_legacy
