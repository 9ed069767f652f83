"""Builder-facing text: stated once in the catalog, rendered in each platform's style.

Source forms in the catalog:

* labels in Title Case as n8n's linter wants them ("Create Video From Text",
  "Source Image URL"); `title_case` keeps them so, `sentence_case` gives Make's style
  ("Create video from text", "Source image URL");
* operation descriptions in the imperative, no final period ("Create a video from a text
  prompt"); `third_person` gives Zapier's and Make's "Creates a video from a text prompt.";
* field help as sentences; `n8n_description` drops the final period n8n does not want,
  `whether` words a boolean's help as n8n does (also help written "On: … Off: …"); where
  an operation needs its own help or example for a field, `Operation.field_text` states it.

Small words follow the `title-case` package n8n's linter uses (articles, short
conjunctions and prepositions stay lower case unless first or last); words that are
already upper case or mixed case (URL, ID, AI, DALL-E, FLUX, "iOS") and words that start
with a digit ("480p", "1024x1024") are kept as written. The emitters call these renderers
and define none of their own (a test reads their sources).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "MINOR_WORDS",
    "join_words",
    "n8n_description",
    "sentence",
    "sentence_case",
    "singular",
    "third_person",
    "title_case",
    "trigger_description",
    "whether",
]

#: Words Title Case leaves in lower case (unless they start the text).
MINOR_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "en",
        "for",
        "if",
        "in",
        "nor",
        "of",
        "on",
        "or",
        "per",
        "so",
        "the",
        "to",
        "up",
        "via",
        "vs",
        "with",
        "yet",
    ]
)

#: A word as Title Case sees it: n8n's linter (the `title-case` package) splits at spaces,
#: colons, dashes and hyphens, so each part of "Multi-Shot" is a word of its own.
_TITLE_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.]*")


def _kept(word: str) -> bool:
    """Acronyms, product names and other words whose case is not ours to change."""
    rest = word[1:]
    return any(c.isupper() for c in rest) or any(c.isdigit() for c in word)


def _title_kept(word: str) -> bool:
    """Words Title Case writes as given: inner capitals (URL, AI, DALL, iOS) or a first
    digit ("480p", "1024x1024": an API value, which the linter leaves alone too)."""
    return word[0].isdigit() or any(c.isupper() for c in word[1:])


def title_case(text: str) -> str:
    """ "create video from text" -> "Create Video From Text"; the rules of n8n's linter
    (the `title-case` package), which Zapier's checklist also satisfies: minor words lower
    unless first or last ("Build Up"), each part of a hyphenated word capitalised
    ("Multi-Shot"), words with capitals inside ("AI", "URL") or starting with a digit
    ("480p") as written."""
    words = list(_TITLE_WORD.finditer(text))
    out = []
    for n, m in enumerate(words):
        word = m.group()
        if _title_kept(word):
            new = word
        elif 0 < n < len(words) - 1 and word.lower() in MINOR_WORDS:
            new = word.lower()
        else:
            new = word[0].upper() + word[1:]
        out.append((m.start(), m.end(), new))
    return _splice(text, out)


def sentence_case(text: str) -> str:
    """ "Create Video From Text" -> "Create video from text"; "Source Image URL" ->
    "Source image URL"; "Multi-Shot Prompts" -> "Multi-shot prompts" (each part of a
    hyphenated word on its own); acronyms, product names ("DALL-E") and words that start
    with a digit ("1792x1024") stay as written."""
    out = []
    for n, m in enumerate(_TOKEN.finditer(text)):
        word = m.group()
        if word[0].isdigit():
            new = word
        else:
            new = "-".join(
                _sentence_part(part, first=n == 0 and i == 0)
                for i, part in enumerate(word.split("-"))
            )
        out.append((m.start(), m.end(), new))
    return _splice(text, out)


#: A word as sentence case sees it: letters or digits first (so "1792x1024" is one word).
_TOKEN = re.compile(r"[A-Za-z0-9][\w'.-]*")


def _sentence_part(part: str, *, first: bool) -> str:
    if not part:
        return part
    if first:
        return part[0].upper() + part[1:]
    if _kept(part) or (len(part) == 1 and part.isupper()):
        return part
    return part.lower()


def _splice(text: str, pieces: list[tuple[int, int, str]]) -> str:
    parts, at = [], 0
    for start, end, new in pieces:
        parts += [text[at:start], new]
        at = end
    return "".join(parts) + text[at:]


def singular(label: str) -> str:
    """One item of a list field, from the list's label: "Multi-Shot Prompts" ->
    "Multi-Shot Prompt" ("Address" stays)."""
    head, _, last = label.rpartition(" ")
    if last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return f"{head} {last}" if head else last


def join_words(words: Iterable[str], last: str = "and") -> str:
    """["voice", "compose", "chart"] -> "voice, compose or chart" (no serial comma)."""
    items = list(words)
    if not items:
        raise ValueError("join_words needs at least one word")
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _third_person_verb(verb: str) -> str:
    lower = verb.lower()
    if lower.endswith(("s", "sh", "ch", "x", "z")):
        return verb + "es"
    if lower.endswith("y") and lower[-2:-1] not in tuple("aeiou"):
        return verb[:-1] + "ies"
    return verb + "s"


def sentence(text: str) -> str:
    """A phrase as a sentence of its own: "a whole number from 3 to 15" -> "A whole number
    from 3 to 15."."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def third_person(imperative: str) -> str:
    """ "Create a video from a text prompt" -> "Creates a video from a text prompt.".

    A description may open with a list of verbs ("Inpaint, outpaint or restyle an
    image"): each of them is put in the third person ("Inpaints, outpaints or restyles")."""
    words = imperative.strip().split(" ")
    if not words[0] or not words[0][0].isupper():
        raise ValueError(f"an action description starts with a capitalised verb: {imperative!r}")
    for index in _opening_verbs(words):
        bare = words[index].rstrip(",")
        words[index] = _third_person_verb(bare) + words[index][len(bare) :]
    return sentence(" ".join(words))


def _opening_verbs(words: list[str]) -> list[int]:
    """Where the verbs of an opening list are: "A, B or C …" -> [0, 1, 3]; "A …" -> [0]."""
    listed = 0
    while listed < len(words) - 1 and words[listed].endswith(","):
        listed += 1
    if listed and words[listed + 1 : listed + 2] in (["or"], ["and"]) and len(words) > listed + 2:
        return [*range(listed + 1), listed + 2]
    return list(range(listed + 1))


def trigger_description(when: str) -> str:
    """ "a video finishes" -> "Triggers when a video finishes."."""
    return sentence(f"Triggers when {when.strip()}")


def n8n_description(help_text: str) -> str:
    """n8n parameter descriptions: no final period on a single sentence, and "ID" in
    capitals as n8n's linter asks ("the job id" -> "the job ID")."""
    text = re.sub(r"\bid(s?)\b", lambda m: "ID" + m.group(1), help_text.strip())
    if text.endswith(".") and not text.endswith("..") and text.count(". ") == 0:
        return text[:-1]
    return text


#: A boolean's help written as its two states: "On: <when on>. Off: <when off>."
_ON_OFF = re.compile(r"^On: (?P<on>.+?)\. Off: (?P<off>.+?)\.?$")


def whether(help_text: str) -> str:
    """A boolean's help as n8n words it: "Whether …" ("Use failover" -> "Whether to use
    failover"); text already starting with "Whether" is kept; "On: swap the soundtrack.
    Off: mix it over the original." -> "Whether to swap the soundtrack (off: mix it over
    the original)"."""
    text = help_text.strip()
    on_off = _ON_OFF.match(text)
    if on_off:
        off = on_off.group("off")
        return f"Whether to {on_off.group('on')} (off: {off[:1].lower()}{off[1:]})"
    if text.lower().startswith("whether"):
        return "W" + text[1:]
    return f"Whether to {text[0].lower()}{text[1:]}"
