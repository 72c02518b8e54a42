"""The questionnaire for respondents: open links, kiosk, single-use links."""
