"""Operations: every write of the application goes through these modules."""
