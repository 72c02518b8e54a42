"""Staff pages per intervention: rounds, links, kiosk, paper entry, response overview."""
