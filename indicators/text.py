"""What a text may hold to reach the report's Excel and Word files.

Both are XML, and XML 1.0 cannot hold every character: not the control characters other
than tab and line breaks, not U+FFFE or U+FFFF, not a lone surrogate. lxml refuses them
and the whole file fails. The instrument's texts and the förbundschef's comments are
checked with ``xml_char`` where they are written; ``xml_text`` drops what is left.
"""

from __future__ import annotations


def xml_char(char: str) -> bool:
    """Whether XML 1.0 can hold the character (its Char production)."""
    code = ord(char)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def xml_text(text: str) -> str:
    """The text without the characters XML 1.0 cannot hold."""
    return text if all(map(xml_char, text)) else "".join(filter(xml_char, text))
