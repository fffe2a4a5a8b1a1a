"""Validation rules of every source, defined once and used twice: as a Great Expectations suite
(the report data engineers read) and as Spark conditions (which rows go to quarantine)."""
