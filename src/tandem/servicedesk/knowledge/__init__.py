"""A brand's knowledge base: help articles in Markdown, written by the client's admin and the
provider's service-desk managers, published on the brand's help center (/help/<code>), found
by full-text search and suggested to agents from a conversation's words.

`models.py` the table, `words.py` search words and queries (pure), `rendering.py` Markdown to
safe HTML (pure), `articles.py` the use cases."""
