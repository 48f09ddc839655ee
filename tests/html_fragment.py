"""An HTML fragment's tags, text and titles, for tests that check what markup shows."""

from __future__ import annotations

from html.parser import HTMLParser


class Fragment(HTMLParser):
    """The start tags, the text (entities decoded) and the ``title`` attributes of ``html``."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.titles: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.titles += [value for name, value in attrs if name == "title"]

    def handle_data(self, data):
        self.text.append(data)
