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


def _vni_pattern() -> re.Pattern[str]:
    """One alternative per base letter with a class of its modifiers ("a[øùûõïâàáåãäêèéúüë]"), then the
    single-byte letters: the same matches as a longest-first alternation of every key, far faster."""
    followers: dict[str, set[str]] = {}
    for key in VNI_TO_UNICODE:
        if len(key) == 2:
            followers.setdefault(key[0], set()).add(key[1])
    pairs = [f"{re.escape(base)}[{''.join(sorted(mods))}]" for base, mods in sorted(followers.items())]
    singles = "".join(sorted(k for k in VNI_TO_UNICODE if len(k) == 1))
    return re.compile("|".join([*pairs, f"[{singles}]"]))


_VNI_PATTERN = _vni_pattern()
# Every VNI key is a byte above 0x7F, or a letter and such a byte: converting each run of those bytes with the
# character before it, once per distinct run (syllables repeat), gives the same text as scanning every position.
_VNI_RUN = re.compile("[^\x80-\xff]?[\x80-\xff]+")


@lru_cache(maxsize=1 << 16)
def _vni_word(word: str) -> str:
    return unicodedata.normalize("NFC", _VNI_PATTERN.sub(lambda m: VNI_TO_UNICODE[m.group(0)], word))


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


# Everyday words of registers and addresses; with the name syllables below they tell apart two readings that
# are both well-formed ("Hòa" / "Hịa", "Văn" / "Vãn", "Tô" / "Tơ").
_REGISTER_WORDS = (
    "họ và tên đệm ngày tháng năm sinh giới tính nam nữ địa chỉ thường trú tạm trú nơi ở hiện nay quê quán số "
    "nhà đường phố thôn xóm ấp bản tổ dân khu xã phường thị trấn huyện quận tỉnh thành điện thoại căn cước "
    "công chứng minh nhân mã hộ chủ quan hệ với con vợ chồng cháu cha mẹ anh chị em ông bà dâu rể ghi chú "
    "danh sách ủy uỷ ban cộng hòa hoà hội nghĩa việt độc lập tự do hạnh phúc người biểu tổng kinh dân tộc tôn "
    "giáo phật thiên chúa nghề nghiệp làm ruộng học sinh viên hưu trí đông tây bắc trung thượng hạ tân mới cũ "
    "một hai ba bốn năm sáu bảy tám chín mười đội làng chợ cầu sông núi đồng bình phú lộc an hòa"
)


@lru_cache(maxsize=1)
def common_syllables() -> frozenset[str]:
    """Lower-case syllables of common Vietnamese names (the name-frequency lists) and register words."""
    from sachsong import vietnamese_names

    found: set[str] = set(_REGISTER_WORDS.split())

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.update(w.lower() for w in value.split() if not w.isdigit())
        elif isinstance(value, tuple | list):
            for item in value:
                walk(item)

    for name in dir(vietnamese_names):
        if name.isupper() and any(k in name for k in ("NAME", "GIVEN", "MIDDLE", "VILLAGE", "STREET")):
            walk(getattr(vietnamese_names, name))
    return frozenset(unicodedata.normalize("NFC", w) for w in found)


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
    return _VNI_RUN.sub(lambda m: _vni_word(m.group(0)), _nfc(text))


# Letters (and combining tone marks) that no cp1252 reading of legacy bytes can produce: a line holding one was
# typed in Unicode, and a font conversion must leave the whole line alone (its "Bích" or "Thái" are real too).
_REAL_VIETNAMESE = (
    "[\u0102\u0103\u0110\u0111\u0128\u0129\u0168\u0169\u01a0\u01a1\u01af\u01b0\u1ea0-\u1ef9\u0300-\u036f]"
)
_PROTECTED_LINE = re.compile(f"([^\\n]*{_REAL_VIETNAMESE}[^\\n]*)")


def convert_mojibake(text: str, font: str, restore_capitals: bool = True) -> str:
    """Convert TCVN3/VNI mojibake in already-decoded text, line by line: lines (or cell values) that hold real
    Vietnamese Unicode letters ("Nguyễn", "Đức") are kept exactly as they are, so valid text is never changed."""
    if font == "tcvn3":

        def convert(part: str) -> str:
            return tcvn3_to_unicode(part, restore_capitals=restore_capitals)
    else:
        convert = vni_to_unicode
    if not _PROTECTED_LINE.search(text):
        return convert(text)
    parts = _PROTECTED_LINE.split(text)  # unprotected text at even positions, protected lines at odd ones
    return "".join(part if i % 2 else convert(part) for i, part in enumerate(parts))


def _convert_tcvn3(text: str) -> str:
    return convert_mojibake(text, "tcvn3")


def _convert_vni(text: str) -> str:
    return convert_mojibake(text, "vni")


LEGACY_CONVERTERS = {"tcvn3": _convert_tcvn3, "vni": _convert_vni}


_CP1252_UNDEFINED = (0x81, 0x8D, 0x8F, 0x90, 0x9D)
# latin-1 character → the cp1252 character of the same byte (latin-1 where cp1252 leaves the byte undefined).
_LATIN1_TO_CP1252 = str.maketrans(
    {chr(b): bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in _CP1252_UNDEFINED}
)


def decode_cp1252(data: bytes) -> str:
    """cp1252 where it defines a byte, latin-1 (C1 control) where it does not: never fails."""
    return codecs.charmap_decode(data, "strict", _CP1252_CHARS)[0]


@dataclass(frozen=True)
class Decoding:
    """A chosen decoding: the text (NFC), the encoding's name and the Vietnamese score that chose it."""

    text: str
    encoding: str
    score: float
    known: float = 0.0  # share of common name and place syllables
    words: int = 0  # non-ASCII words the choice was made on
    rival: str | None = None  # the best reading that differs, described

    def describe(self) -> str:
        """ "encoding cp1258 chosen: 98% valid / 71% common of 1204 words (next: vni 40% …)" for the notes."""
        rival = f" (next: {self.rival})" if self.rival else ""
        return (
            f"encoding {self.encoding} chosen: {self.score:.0%} valid / {self.known:.0%} common syllables of "
            f"{self.words} non-ASCII words{rival}"
        )


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


# Candidate 8-bit encodings, in order of preference when they read a sample identically: the code pages keep
# each byte's letter as it is; the font hacks reinterpret it and so must win on evidence.
EIGHT_BIT_ENCODINGS = ("cp1258", "cp1252", "tcvn3", "vni")
SAMPLE_LIMIT = 256 * 1024  # bytes scored at most: the whole file below this, else pieces spread over it
SAMPLE_PIECES = 32
# Two readings closer than this in valid-syllable share are told apart by common syllables; closer than
# KNOWN_MARGIN there too, the file is refused rather than guessed.
VALID_MARGIN = 0.05
KNOWN_MARGIN = 0.05


class AmbiguousEncoding(ValueError):
    """Two decodings read the text about equally well: guessing could change valid letters."""


@dataclass(frozen=True)
class EncodingScore:
    """How well one decoding of a sample reads as Vietnamese."""

    encoding: str
    valid: float  # share of the non-ASCII words that are Vietnamese syllables
    known: float  # share of the non-ASCII words that are common name and place syllables
    words: int  # non-ASCII words seen
    text: str  # the decoded sample

    def describe(self) -> str:
        return f"{self.encoding} {self.valid:.0%} valid / {self.known:.0%} common of {self.words} words"


def spread_sample(data: bytes, limit: int = SAMPLE_LIMIT, pieces: int = SAMPLE_PIECES) -> bytes:
    """The whole input when it is small, else `pieces` blocks spread evenly over it, each cut to whole lines (an
    export's head is often all header and title: the letters that tell encodings apart may be further down)."""
    if len(data) <= limit:
        return data
    size = limit // pieces
    step = (len(data) - size) / max(1, pieces - 1)
    blocks = []
    for i in range(pieces):
        block = data[int(i * step) : int(i * step) + size]
        first, last = block.find(b"\n"), block.rfind(b"\n")
        if i and first >= 0:
            block = block[first + 1 :]
        if last >= 0 and i < pieces - 1:
            block = block[: block.rfind(b"\n")]
        blocks.append(block)
    return b"\n".join(blocks)


def spread_text_sample(text: str, limit: int = SAMPLE_LIMIT, pieces: int = SAMPLE_PIECES) -> str:
    """`spread_sample` for text that is already decoded."""
    if len(text) <= limit:
        return text
    size = limit // pieces
    step = (len(text) - size) / max(1, pieces - 1)
    return "\n".join(text[int(i * step) : int(i * step) + size] for i in range(pieces))


def _reading_scores(text: str) -> tuple[float, float, int]:
    """(valid share, common share, count) of the non-ASCII words of `text`, each distinct word checked once."""
    words = Counter(w for w in _WORD.findall(text) if not w.isascii())
    total = words.total()
    if not total:
        return 0.0, 0.0, 0
    common = common_syllables()
    valid = sum(n for w, n in words.items() if is_vietnamese_syllable(w))
    known = sum(n for w, n in words.items() if w.lower() in common)
    return valid / total, known / total, total


def score_encodings(sample: bytes) -> list[EncodingScore]:
    """Every 8-bit candidate's reading of `sample`, best first (valid share, then common share)."""
    scores = []
    for name in EIGHT_BIT_ENCODINGS:
        try:
            text = decode_as(sample, name, restore_capitals=False)
        except UnicodeDecodeError:
            continue
        scores.append(EncodingScore(name, *_reading_scores(text), text))
    return scores


def choose_encoding(scores: list[EncodingScore]) -> tuple[EncodingScore, EncodingScore | None]:
    """(chosen, the best reading that differs from it) or AmbiguousEncoding when the two are too close.

    Readings within VALID_MARGIN of the best valid-syllable share are compared on common syllables; readings
    that give the same text are one reading (the first, in the order of EIGHT_BIT_ENCODINGS, names it)."""
    distinct: list[EncodingScore] = []
    for score in scores:
        if all(score.text != kept.text for kept in distinct):
            distinct.append(score)
    if not distinct:
        raise AmbiguousEncoding("no 8-bit encoding can decode the bytes")
    if all(score.words == 0 for score in distinct):
        cp1252 = next((s for s in scores if s.encoding == "cp1252"), distinct[0])
        return cp1252, None
    top = max(s.valid for s in distinct)
    close = sorted(
        (s for s in distinct if s.valid >= top - VALID_MARGIN), key=lambda s: s.known, reverse=True
    )
    best = close[0]
    tied = [s for s in close if best.known - s.known < KNOWN_MARGIN]
    if len(tied) > 1:
        names = ", ".join(s.encoding for s in tied[:-1]) + f" and {tied[-1].encoding}"
        raise AmbiguousEncoding(
            f"encoding is ambiguous: {names} read the text about equally well "
            f"({'; '.join(s.describe() for s in tied)}); set this source's encoding in the registry"
        )
    rivals = [s for s in distinct if s is not best]
    return best, max(rivals, key=lambda s: (s.valid, s.known)) if rivals else None


def decode_legacy_bytes(
    data: bytes, sample_size: int = SAMPLE_LIMIT, restore_capitals: bool = True
) -> Decoding:
    """Pick the 8-bit decoding of bytes that are not UTF-8 by how well each candidate reads as Vietnamese on
    the whole file (or `spread_sample` of a big one). Raises AmbiguousEncoding when the two best are close."""
    best, rival = choose_encoding(score_encodings(spread_sample(data, sample_size)))
    return Decoding(
        text=decode_as(data, best.encoding, restore_capitals),
        encoding=best.encoding,
        score=best.valid,
        known=best.known,
        words=best.words,
        rival=rival.describe() if rival else None,
    )


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
