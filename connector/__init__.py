"""CreativeAI connector suite: the API described once, for n8n, Make and Zapier."""

__version__ = "0.1.0"
