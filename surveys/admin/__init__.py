"""Administration: users, interventions, reference figures, instrument, threshold."""
