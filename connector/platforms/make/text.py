"""Builder-facing text in Make's style (developers.make.com, best practices → naming):
sentence case for module, parameter and output labels, third-person module descriptions.

    sentence_case("Create Video From Text")   # "Create video from text"
    third_person("Start a video.")            # "Starts a video."
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+")


def _keeps_case(word: str) -> bool:
    """Acronyms (URL, ID, MP4, 16:9) and names with inner capitals (CreativeAI) stay."""
    letters = re.sub(r"[^A-Za-z]", "", word)
    if not letters:
        return True
    if letters.isupper() and len(letters) > 1:
        return True
    return any(c.isupper() for c in letters[1:])


def _word(word: str, first: bool) -> str:
    if "-" in word:  # Multi-Shot → Multi-shot
        head, *tail = word.split("-")
        return "-".join([_word(head, first), *(_word(t, False) for t in tail)])
    if _keeps_case(word):
        return word
    return word[:1].upper() + word[1:].lower() if first else word.lower()


def sentence_case(label: str) -> str:
    """Only the first word (and acronyms or names) keep a capital."""
    return " ".join(_word(m.group(0), i == 0) for i, m in enumerate(_WORD.finditer(label)))


_ES = ("s", "sh", "ch", "x", "z", "o")


def third_person(description: str) -> str:
    """`Start a video …` → `Starts a video …` (a description that opens with a verb)."""
    verb, _, rest = description.partition(" ")
    mark = verb[len(verb.rstrip(",;:")) :]
    verb = verb.rstrip(",;:")
    if verb.endswith("s") and not verb.endswith("ss"):
        return description  # already third person
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        verb = verb[:-1] + "ies"
    elif verb.endswith(_ES):
        verb += "es"
    else:
        verb += "s"
    return f"{verb}{mark} {rest}" if rest else verb + mark
