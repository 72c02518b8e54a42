"""Kiosk enrolment: a tablet opens one kiosk round by its enrolment link, no sign-in."""
