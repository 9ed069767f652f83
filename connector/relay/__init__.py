"""The relay: verified, durable forwarding of CreativeAI completion webhooks into workflows.

Security building blocks live in their own modules:

- `connector.relay.tokens`: sealed URL tokens (`/hooks/<token>`), with key rotation.
- `connector.relay.ssrf`: the guard on every forwarding target (URL checks, one checked
  DNS resolution, connection pinned to the checked address).
- `connector.relay.signing`: Standard Webhooks signatures on forwarded requests.
"""
