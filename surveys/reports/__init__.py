"""The yearly indicator report: pages, downloads, charts (access per role)."""
