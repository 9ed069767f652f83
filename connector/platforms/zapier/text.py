"""Builder-facing text in Zapier's style (its publishing checklist), from the catalog's words.

- Action descriptions start with a third-person verb and end with a period: the catalog's
  "Start a video from a text prompt." reads "Starts a video from a text prompt.".
- Each resource has a noun Zapier shows as "Create a new <noun>" (a noun, never a verb).
- Output labels read as names of what they hold ("Job ID", "Model Used", "Image URL").

The catalog states labels once per resource and action; these renderers only put them in
Zapier's grammar.
"""

from __future__ import annotations

import re

#: What each resource's items are called (the catalog names resources by key only).
NOUNS = {
    "video": "Video",
    "batch": "Video Batch",
    "voice": "Narration",
    "compose": "Composed Video",
    "image": "Image",
    "chart": "Chart Video",
    "price": "Price",
    "model": "Model",
    "job": "Job",
}

#: Output labels where the key's words alone read badly.
OUTPUT_LABELS = {
    "model_actual": "Model Used",
    "failover_used": "Failover Used",
    "credits_refunded": "Credits Refunded",
    "error_message": "Error Message",
    "duration_seconds": "Duration (seconds)",
    "total_jobs": "Number of Videos",
    "completed": "Videos Completed",
    "failed": "Videos Failed",
    "pending": "Videos Pending",
    "processing": "Videos Processing",
    "state": "State",
    "event": "Event",
}
#: How one item of an output list is called: `jobs[]id` is a "Job ID".
LIST_ITEMS = {"jobs": "Video", "data": "Image"}
_WORDS = {"url": "URL", "id": "ID", "api": "API", "cdn": "CDN", "mp4": "MP4"}
_ES = re.compile(r"(s|sh|ch|x|z|o)$")


def noun(resource: str) -> str:
    return NOUNS.get(resource, resource.replace("_", " ").title())


def third_person(sentence: str) -> str:
    """ "Start a video." -> "Starts a video."; "Inpaint, outpaint or restyle an image" ->
    "Inpaints, outpaints or restyles an image"; third person already stays as it is."""
    tokens = sentence.split(" ")
    i = 0
    while i < len(tokens):
        word = tokens[i]
        bare = word.rstrip(",")
        tokens[i] = _verb(bare) + word[len(bare) :]
        if word.endswith(",") and i + 1 < len(tokens):
            i += 1
        elif i + 2 < len(tokens) and tokens[i + 1] in ("or", "and") and i > 0:
            i += 2
        else:
            break
    return " ".join(tokens)


def _verb(verb: str) -> str:
    if verb.endswith("s") and not verb.endswith("ss"):
        return verb
    if _ES.search(verb):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def words(key: str) -> str:
    return " ".join(_WORDS.get(w, w.capitalize()) for w in key.split("_") if w)


def output_label(key: str) -> str:
    """`jobs[]output_url` -> "Video Output URL"; `parameters__voice` -> "Voice Setting"."""
    if "[]" in key:
        head, _, tail = key.partition("[]")
        item = LIST_ITEMS.get(head, words(head))
        return f"{item} {output_label(tail)}".replace(f"{item} {item} ", f"{item} ")
    if key.startswith("parameters__"):
        return f"{output_label(key.removeprefix('parameters__'))} Setting"
    if "__" in key:
        head, _, tail = key.partition("__")
        return f"{output_label(head)} {output_label(tail)}"
    return OUTPUT_LABELS.get(key, words(key))
