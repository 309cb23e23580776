"""The yearly barometer: editions, scores per channel and journey step,
ranks within a category, progress, trophies (METHOD.md, "The barometer")."""
