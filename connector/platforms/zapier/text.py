"""Builder-facing text in Zapier's style (its publishing checklist), from the catalog's words.

The catalog states each label and description once (`connector.catalog.text` renders
them); this module only adds what Zapier asks beyond that:

- descriptions start with a third-person verb and end with a period (the catalog's
  `third_person`, also for a list of verbs: "Inpaint, outpaint or restyle …");
- Title Case labels end with a capital too ("Created At");
- each resource's noun, as "Create a new <noun>" shows it, is a noun: the catalog's label,
  except "Compose", which is a verb.
"""

from __future__ import annotations

from connector.catalog import text as catalog_text
from connector.catalog.resources import BY_KEY as RESOURCES

#: Nouns where the catalog's resource label is not one (not yet in the catalog).
NOUN_OVERRIDES = {"compose": "Composed Video"}

_WORDS = {"url": "URL", "id": "ID", "api": "API", "cdn": "CDN", "mp4": "MP4"}


def noun(resource: str) -> str:
    return NOUN_OVERRIDES.get(resource) or RESOURCES[resource].label


def title(label: str) -> str:
    """The catalog's Title Case, with the last word capitalised as Title Case wants it."""
    text = catalog_text.title_case(label)
    head, _, last = text.rpartition(" ")
    if head and last[:1].islower():
        return f"{head} {last[:1].upper()}{last[1:]}"
    return text


def third_person(imperative: str) -> str:
    """ "Start a video." -> "Starts a video."; "Inpaint, outpaint or restyle an image" ->
    "Inpaints, outpaints or restyles an image." (the catalog renders one verb)."""
    tokens = imperative.strip().split(" ")
    listed = tokens[0].endswith(",") or (len(tokens) > 2 and tokens[1] in ("or", "and"))
    if not listed:
        return catalog_text.third_person(imperative)
    verbs = [tokens.pop(0).rstrip(",")]
    joiner = "and"
    while tokens:
        word = tokens.pop(0)
        if word in ("or", "and") and tokens:
            joiner = word
            verbs.append(tokens.pop(0))
            break
        verbs.append(word.rstrip(","))
        if not word.endswith(",") and not (tokens and tokens[0] in ("or", "and")):
            break
    turned = [_turned(v) for v in verbs]
    sentence = " ".join([catalog_text.join_words(turned, joiner), *tokens])
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def _turned(verb: str) -> str:
    """One verb in the third person, in the case it came in."""
    capital = verb[:1].upper() + verb[1:]
    done = catalog_text.third_person(capital).rstrip(".")
    return done if verb[:1].isupper() else done[:1].lower() + done[1:]


def output_label(key: str) -> str:
    """A label for an output key no contract describes (the hidden model triggers)."""
    words = key.replace("[]", "_").replace("__", "_").split("_")
    return " ".join(_WORDS.get(w, w.capitalize()) for w in words if w)
