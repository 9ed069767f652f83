"""The generated app's README: what it offers and how to validate, test and push it."""

from __future__ import annotations

from connector.catalog import limits, steps
from connector.platforms import GENERATED_NOTICE
from connector.platforms.zapier.layout import GENERATED, RUNTIME, Module

_VALIDATE = (
    "node -e \"require('zapier-platform-core').createAppHandler(require('.'))"
    "({command: 'validate'}).then((r) => console.log(r.results))\""
)


def _rows(modules: list[Module]) -> str:
    return "\n".join(f"| `{m.key}` | {m.label} | `{m.path}` |" for m in modules)


def render(
    *, core_version: str, creates: list[Module], searches: list[Module], triggers: list[Module]
) -> str:
    hidden = [m for m in triggers if m.key.endswith("models")]
    hooks = [m for m in triggers if m not in hidden]
    cap, key, stash = steps.MAX_CREDITS, steps.RECORD_KEY, limits.ZAPIER_STASH_FILE
    return f"""<!-- {GENERATED_NOTICE} -->
# CreativeAI for Zapier

A Zapier Platform CLI app (CommonJS, `zapier-platform-core` {core_version}) generated from
the connector's API catalog. `package.json` carries the generated notice under its `"//"`
key (npm ignores it). `index.js` (where Zapier looks for it) and everything under
`{GENERATED}/` are generated; the runtime in `{RUNTIME}/` and the tests in `test/` are written
by hand, and `build` leaves them alone.

## What it offers

Actions (creates):

| key | label | file |
|---|---|---|
{_rows(creates)}

Search: `find_generation`, **Find Generation** (`{searches[0].path}`): a
video, batch or shared-status job by its id.

Triggers (REST hooks through the relay):

| key | label | file |
|---|---|---|
{_rows(hooks)}

Hidden triggers feeding the model dropdowns: {", ".join(f"`{m.key}`" for m in hidden)}.

## The connection

- **API Key** (password): sent only to the API and to the relay, never to file hosts.
- **API Base URL**: the real API by default; a sandbox or gateway otherwise.
- **Relay URL** (optional). Long actions wait for their result either way: perform
  starts the job with a webhook URL that leads back to the step (`z.generateCallbackUrl()`)
  and Zapier pauses the Zap. Without a relay the API's webhook goes straight to Zapier,
  which cannot check its signature, so the resumed step never trusts what was posted: it
  checks the posted job id is its own and fetches the job back from the API with the
  connection's key (a forged or early call can only make it look the job up early). The
  relay adds: the signature checked before anything reaches Zapier, duplicates dropped,
  retries with a delivery log, and the Generation Completed / Generation Failed triggers,
  which need it because the API has no subscriptions of its own.

## Paid creates

Every create the API charges for asks two more things (`{RUNTIME}/paid.js`):

- **{cap.label}**: the step asks the price of its own request first
  (`{steps.PRICE_OPERATION}`) and halts (`z.errors.HaltedError`: stopped on purpose, which
  never turns the Zap off) without starting anything when the estimate is over the cap,
  or when the price cannot be checked; a batch's cap is for the whole batch. A price check
  refused for a rate limit stays a `ThrottledError`, so Zapier tries again later.
- **{key.label}**: with a relay, the relay's ledger (`{steps.LEDGER.path}`) keeps the job a key
  started: started again with the same key, the step returns that job (waited for as the
  step waits) instead of paying again, while it lives and has not failed. A ledger that
  cannot be asked, or a key's job that cannot be fetched back, halts the step with nothing
  started; a paid answer the ledger does not keep fails the step naming what was paid for.
  Without a relay there is no ledger, the field's help says so, and every run starts a job.

A wait that gives up (a callback before the job ended, a job of a record key still running
after the step's 30 seconds) fails naming the job and the Find Generation search, with the
kind and id, that fetches it later. A file over Zapier's {stash.what} limit of {stash.shown}
(its size asked with HEAD, nothing downloaded) is not offered as a file: `file` is empty and
`file_message` says why; the output URL stays.

## Validate, test, push

From the repository root, `make test` does all of this (the Zapier part is
`tests/test_zapier_package.py`; installs are cached under `~/.cache/creativeai-connector/`).
By hand, in this folder:

```sh
npm install                                    # zapier-platform-core, pinned
{_VALIDATE}
npx -p zapier-platform-cli zapier-platform validate --without-style   # Node 22 or newer
npm test                                       # the appTester suite; see test/README.md
npx -p zapier-platform-cli zapier-platform push  # after `zapier-platform login` and `register`
```

`samples/zapier/README.md` walks through pushing the app and building the commerce flow
as a Zap.
"""
