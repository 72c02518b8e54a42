"""Form fields shared by the staff and administrator forms (Flask-WTF).

``WholeNumber`` is WTForms' IntegerField held to what people type for a threshold, a
count or a year: the digits 0–9 (Python's ``int`` also takes "٧" and "５"), at most
``MAX_DIGITS`` of them. A number of 309 digits or more made WTForms' range check
overflow (a 500); it is now the field's own Swedish message, as any other bad value.
"""

from __future__ import annotations

from wtforms import IntegerField

from surveys.files.reading import is_ascii_integer

MAX_DIGITS = 9  # more than any threshold, count or year a form takes


class WholeNumber(IntegerField):
    """An integer from the digits 0–9 (a minus allowed), else ``invalid_value_message``."""

    def process_formdata(self, valuelist: list) -> None:
        if valuelist:
            text = str(valuelist[0]).strip()
            if not is_ascii_integer(text) or len(text.lstrip("-")) > MAX_DIGITS:
                self.data = None
                # WTForms 3.3 has the attribute; its type stubs (3.2) do not
                raise ValueError(getattr(self, "invalid_value_message", None) or "Ange ett heltal.")
        super().process_formdata(valuelist)
